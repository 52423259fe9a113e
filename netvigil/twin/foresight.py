"""What-if on the *forecast* load: would a change keep a predicted saturation away, over the
time it must hold, and hurt nothing else?

The live gate (:mod:`netvigil.twin.whatif`) judges a change on the load of now. A preemptive
change is judged on the load expected at the predicted time and after it, which nobody has
measured yet. This module builds that load from two parts:

- the twin's **present**: a copy that knows what holds now and nothing of the future. Every
  fault active now is held at its present strength (a growth ramp becomes a constant surge
  of what it adds now; a link down stays down), faults yet to come are unknown, and the
  daily cycle is the twin's own (it is the network's normal, not a prediction);
- the **forecast** of the at-risk link direction (an :class:`Outlook`: the forecaster's level
  and trend): whatever it predicts beyond the present's load on that direction is added as
  extra demand. Where that growth comes from is the caller's choice (``growth``):

  - ``"direction"`` (the default): pinned to the direction, never rerouted. Right where the
    growth is a surge that no routing moves (the twin's own ramps are such surges), and
    conservative for metric changes otherwise: steering moves only the background.
  - ``"demands"``: the growth of the demands between devices that cross the direction, in
    proportion to the twin's demand model (each crossing demand grows by the same share of
    itself, sized so the direction carries the forecast), and routed like them: a change of
    IGP metrics moves it with them. Right where growth is traffic between sites, as on a
    real network (the lab); an approximation where one demand grows alone: its detour is
    spread over the crossing demands' detours (the measured loads after the change are
    what shows it).

**Draining a degrading link** (``drain=True``, for a link whose error share is predicted to
reach its harm share): no growth is forecast (the load is the present's), and the change must
take the link's traffic off it, both ways: it is refused when either direction still carries
more than :data:`DRAIN_LEFT` of what it would carry without the change, and for the same
collateral, stranded demand and cut services as above.

At each time from the deadline to ``lookahead_s`` after it, the change is applied to the
present with the forecast growth, and it is refused when the at-risk direction still reaches
the congestion threshold, when any other link direction reaches it that would not have
without the change (a *collateral overload*), when demand becomes unreachable, or when a
service's devices are cut apart. The verdict's numbers (the worst time, the forecast, the
loads before and after) go on the change record and in the audit log. Pure given the twin:
the same twin, change and outlook give the same verdict.

:func:`counterfactual` answers the hold-time question the other way round: with the change
in force, would the at-risk direction be saturated *now* without it? :func:`error_share`
answers it for a drained link: the share of frames it corrupts now, which no change of
routing alters (the twin's faults say it; a twin without them, as the lab's, says 0).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from netvigil.twin.faults import LOSS_KINDS, SURGE_KINDS, Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import Change, Verdict, apply_change, copy_network, undo_change

__all__ = [
    "DRAIN_LEFT",
    "GROWTH_MODES",
    "Outlook",
    "counterfactual",
    "error_share",
    "forecast_what_if",
    "present",
]

#: where forecast growth comes from (see the module doc)
GROWTH_MODES = ("direction", "demands")

#: a drained link may keep at most this share of the traffic it carried (either way)
DRAIN_LEFT = 0.1

#: faults held "for ever" in the present (well past any lookahead)
_FOREVER_S = 10 * 365 * 86400.0


@dataclass(frozen=True)
class Outlook:
    """The forecast of one link direction: ``level`` at ``now``, rising ``trend_per_s``."""

    link: str
    src: str
    """The device the traffic leaves from (the at-risk interface's device)."""
    now: float
    level: float
    trend_per_s: float

    def at(self, t: float) -> float:
        return self.level + self.trend_per_s * (t - self.now)


def _held(f: Fault, net: TwinNetwork, now: float) -> Fault:
    """``f`` as it is at ``now``, held from then on (a surge at its present strength)."""
    if f.kind in SURGE_KINDS:
        lk = net.topo.link(f.target)
        return Fault(
            "congestion",
            f.target,
            now - 1.0,
            now + _FOREVER_S,
            magnitude=f.surge(now),
            direction=f.direction or lk.a,
        )
    return replace(f, end=now + _FOREVER_S)


def present(net: TwinNetwork, now: float) -> TwinNetwork:
    """A copy of the twin knowing the present only (see the module doc)."""
    twin = copy_network(net, keep_routing=True)
    twin.faults = [_held(f, net, now) for f in net.active_faults(now)]
    twin.fault_cleared = {}
    return twin


def _with_growth(net: TwinNetwork, outlook: Outlook, extra: float, t: float) -> TwinNetwork:
    twin = copy.copy(net)
    if extra > 0:
        surge = Fault(
            "congestion", outlook.link, t - 1.0, t + 1.0, magnitude=extra, direction=outlook.src
        )
        twin.faults = [*net.faults, surge]
    return twin


def _with_demand_growth(
    net: TwinNetwork, crossing: list[tuple[str, str, float, float]], extra_bps: float
) -> TwinNetwork:
    """``net`` with every crossing demand grown by one share of itself, so that the crossing
    direction carries ``extra_bps`` more (routed like the demands)."""
    twin = copy.copy(net)
    on_dir = sum(share * bps for _, _, share, bps in crossing)
    if extra_bps > 0 and on_dir > 0:
        k = extra_bps / on_dir
        twin.extra_demand = {(s, d): k * bps for s, d, _, bps in crossing}
    return twin


def _cut_services(net: TwinNetwork, t: float) -> list[str]:
    """Services whose devices are no longer all connected at ``t``."""
    services = net.topo.services()
    if not services:
        return []
    down_links, down_dev, _ = net._state(t)
    g = nx.Graph()
    g.add_nodes_from(d.name for d in net.topo.devices() if d.name not in down_dev)
    g.add_edges_from(
        (lk.a, lk.b)
        for lk in net.topo.links()
        if lk.id not in down_links and lk.a not in down_dev and lk.b not in down_dev
    )
    cut = []
    for s in services:
        devs = [d for d in s.devices if d in g]
        if len(devs) < len(s.devices) or (
            devs and not all(nx.has_path(g, devs[0], d) for d in devs[1:])
        ):
            cut.append(s.name)
    return cut


def forecast_what_if(
    net: TwinNetwork,
    change: Change,
    outlook: Outlook,
    *,
    at: float,
    lookahead_s: float,
    step_s: float = 300.0,
    congestion: float = 0.9,
    growth: str = "direction",
    drain: bool = False,
) -> Verdict:
    """Judge ``change`` made at ``outlook.now`` against the forecast from ``at`` (the deadline)
    to ``at + lookahead_s``, the forecast growth placed as ``growth`` says; with ``drain``,
    whether it takes the link's traffic off it on the present's load (see the module doc)."""
    if growth not in GROWTH_MODES:
        raise ValueError(f"growth must be one of {GROWTH_MODES}, not {growth!r}")
    key = (outlook.link, outlook.src)
    at_risk = net.topo.link(outlook.link)
    cap = at_risk.capacity_bps
    own = {(at_risk.id, at_risk.a), (at_risk.id, at_risk.b)} if drain else {key}
    undrained: tuple[str, float, float, float] | None = None  # (src, t, before, after)
    before_net = present(net, outlook.now)
    after_net = present(net, outlook.now)
    apply_change(after_net, change, outlook.now)
    before_net.expected_load(at)  # route once: the copies made per time share the routing
    after_net.expected_load(at)
    cut_before = set(_cut_services(before_net, at))
    n = max(int(lookahead_s // step_s), 0)
    times = [at + k * step_s for k in range(n + 1)]
    reasons: list[str] = []
    worst_target: tuple[float, float, float, float] | None = None  # (t, forecast, before, after)
    worst_other: tuple[str, str, float, float, float] | None = None
    lost = (0.0, 0.0)
    for t in times:
        base, _ = before_net.expected_load(t)
        extra = 0.0 if drain else max(outlook.at(t) - base.get(key, 0.0), 0.0)
        if growth == "demands":
            crossing = before_net.crossing(outlook.link, outlook.src, t)
            before, lost_b = _with_demand_growth(before_net, crossing, extra * cap).expected_load(t)
            after, lost_a = _with_demand_growth(after_net, crossing, extra * cap).expected_load(t)
        else:
            before, lost_b = _with_growth(before_net, outlook, extra, t).expected_load(t)
            after, lost_a = _with_growth(after_net, outlook, extra, t).expected_load(t)
        tgt_b, tgt_a = before.get(key, 0.0), after.get(key, 0.0)
        if worst_target is None or tgt_a > worst_target[3]:
            worst_target = (t, outlook.at(t), tgt_b, tgt_a)
        for d in own if drain else ():
            b, a = before.get(d, 0.0), after.get(d, 0.0)
            if a > DRAIN_LEFT * b + 1e-6 and (undrained is None or a > undrained[3]):
                undrained = (d[1], t, b, a)
        for d, u in after.items():
            if d in own:
                continue
            was = before.get(d, 0.0)
            if u >= congestion and u > was + 0.01 and (worst_other is None or u > worst_other[4]):
                worst_other = (d[0], d[1], t, was, u)
        if lost_a - lost_b > lost[1] - lost[0]:
            lost = (lost_b, lost_a)
    assert worst_target is not None
    t_w, f_w, b_w, a_w = worst_target
    if undrained is not None:
        src, t, b, a = undrained
        reasons.append(
            f"does not drain {outlook.link} (from {src}) at t={t:.0f}: utilization "
            f"{b:.2f} -> {a:.2f}, more than {DRAIN_LEFT:.0%} of it left"
        )
    elif a_w >= congestion:
        reasons.append(
            f"does not keep {outlook.link} (from {outlook.src}) below {congestion:.2f}: "
            f"{a_w:.2f} at t={t_w:.0f} (forecast {f_w:.2f})"
        )
    if worst_other is not None:
        lk, src, t, was, u = worst_other
        reasons.append(
            f"would overload {lk} (from {src}) at t={t:.0f}: utilization {was:.2f} -> {u:.2f} "
            f">= {congestion:.2f}"
        )
    if lost[1] > lost[0] + 1.0:
        reasons.append(f"would leave {(lost[1] - lost[0]) / 1e9:.3f} Gbit/s of demand unreachable")
    cut = sorted(set(_cut_services(after_net, at)) - cut_before)
    if cut:
        reasons.append(f"would cut the path of services {', '.join(cut)}")
    numbers: dict[str, Any] = {
        "now": outlook.now,
        "deadline": at,
        "lookahead_s": lookahead_s,
        "target": outlook.link,
        "direction_from": outlook.src,
        "forecast_level": round(outlook.level, 4),
        "forecast_trend_per_h": round(outlook.trend_per_s * 3600, 4),
        "worst_t": t_w,
        "forecast_util_at_worst": round(f_w, 4),
        "target_util_before": round(b_w, 4),
        "target_util_after": round(a_w, 4),
        "congestion_threshold": congestion,
        "growth": "none (drain)" if drain else growth,
    }
    if worst_other is not None:
        numbers["overloaded_link"] = worst_other[0]
        numbers["overloaded_util_before"] = round(worst_other[3], 4)
        numbers["overloaded_util_after"] = round(worst_other[4], 4)
    if cut:
        numbers["services_cut"] = cut
    return Verdict(ok=not reasons, reasons=reasons, numbers=numbers)


def counterfactual(net: TwinNetwork, change: Change, link: str, src: str, t: float) -> float:
    """The utilization of ``link`` from ``src`` at ``t`` had ``change`` not been made (the
    twin's present, without the change's metrics and policers)."""
    twin = copy_network(net, keep_routing=True)
    undo_change(twin, change)
    util, _ = twin.expected_load(t)
    return util.get((link, src), 0.0)


def error_share(net: TwinNetwork, link: str, t: float) -> float:
    """The share of frames ``link`` corrupts at ``t`` (its lossy faults; routing alters it
    not: a drained link would corrupt as much of any traffic put back on it)."""
    kept = 1.0
    for f in net.active_faults(t):
        if f.kind in LOSS_KINDS and f.target == link:
            kept *= 1.0 - f.loss(t)
    return 1.0 - kept
