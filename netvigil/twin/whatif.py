"""What-if on the twin: apply a change to a copy of the network and compare the loads.

The resolvers' level-3 gate asks: with this change, is every demand still reachable, does any
other link become congested, and does the target KPI improve? The copy shares the topology
and the fault schedule but has its own operational state, so the live twin is untouched.
Loads are the expected ones (no noise) at the time asked, so the verdict is reproducible.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from netvigil.twin.network import TwinNetwork

__all__ = ["Change", "Verdict", "apply_change", "copy_network", "undo_change", "what_if"]


@dataclass(frozen=True)
class Change:
    """Operational changes the executors can make on the twin."""

    metric: dict[str, int] = field(default_factory=dict)
    """link id -> new IGP metric (both ends)"""
    policers: dict[str, float] = field(default_factory=dict)
    """link id -> share of capacity the surging class is policed to"""
    restore: frozenset[str] = frozenset()
    """link ids whose down state an interface reset clears"""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reasons: list[str]
    numbers: dict[str, Any]


def apply_change(net: TwinNetwork, change: Change, t: float) -> None:
    """Make ``change`` on ``net`` from simulated time ``t`` on."""
    net.igp_metric.update(change.metric)
    net.policers.update(change.policers)
    for f in net.active_faults(t):
        if f.kind == "link_down" and f.target in change.restore:
            net.fault_cleared[f] = t


def undo_change(net: TwinNetwork, change: Change) -> None:
    """Revert the metric and policer parts of ``change`` (a reset cannot be undone)."""
    for link in change.metric:
        net.igp_metric.pop(link, None)
    for link in change.policers:
        net.policers.pop(link, None)


def copy_network(net: TwinNetwork, *, keep_routing: bool = False) -> TwinNetwork:
    """A copy with its own operational state (metrics, policers, cleared faults, shut
    interfaces). ``keep_routing`` shares the routing cache: safe, since its key holds
    everything routing depends on (a copy whose metrics differ recomputes)."""
    twin = copy.copy(net)
    twin.igp_metric = dict(net.igp_metric)
    twin.policers = dict(net.policers)
    twin.fault_cleared = dict(net.fault_cleared)
    twin.admin_down = set(net.admin_down)
    if not keep_routing:
        twin._routing_key = None
        twin._routing = None
    return twin


def what_if(
    net: TwinNetwork,
    change: Change,
    *,
    t: float,
    target: str,
    congestion: float = 0.9,
    min_gain: float = 0.05,
) -> Verdict:
    """Predict ``change`` at time ``t`` on a copy of ``net``; judge it for link ``target``."""
    before, lost_before = net.expected_load(t)
    after_net = copy_network(net)
    apply_change(after_net, change, t)
    after, lost_after = after_net.expected_load(t)
    tgt_before = max((u for (lk, _), u in before.items() if lk == target), default=0.0)
    tgt_after = max((u for (lk, _), u in after.items() if lk == target), default=0.0)
    link_down = target in change.restore
    reasons: list[str] = []
    worst: tuple[str, str, float, float] | None = None
    for (lk, src), u in after.items():
        if lk == target:
            continue
        was = before.get((lk, src), 0.0)
        if u >= congestion and u > was + 0.01 and (worst is None or u > worst[3]):
            worst = (lk, src, was, u)
    if worst is not None:
        reasons.append(
            f"would congest {worst[0]} (from {worst[1]}): utilization "
            f"{worst[2]:.2f} -> {worst[3]:.2f} >= {congestion:.2f}"
        )
    if lost_after > lost_before + 1.0:
        reasons.append(
            f"would leave {lost_after / 1e9:.3f} Gbit/s of demand unreachable "
            f"(now {lost_before / 1e9:.3f})"
        )
    if not link_down and tgt_after > tgt_before - min_gain:
        reasons.append(
            f"does not improve {target}: utilization {tgt_before:.2f} -> {tgt_after:.2f}"
        )
    others = [u for (lk, _), u in after.items() if lk != target]
    numbers: dict[str, Any] = {
        "t": t,
        "target": target,
        "target_util_before": round(tgt_before, 4),
        "target_util_after": round(tgt_after, 4),
        "max_other_util_before": round(
            max((u for (lk, _), u in before.items() if lk != target), default=0.0), 4
        ),
        "max_other_util_after": round(max(others, default=0.0), 4),
        "unreachable_bps_before": round(lost_before, 1),
        "unreachable_bps_after": round(lost_after, 1),
        "congestion_threshold": congestion,
    }
    if worst is not None:
        numbers["congested_link"] = worst[0]
        numbers["congested_util_before"] = round(worst[2], 4)
        numbers["congested_util_after"] = round(worst[3], 4)
    return Verdict(ok=not reasons, reasons=reasons, numbers=numbers)
