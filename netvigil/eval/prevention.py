"""Prevention in a mission, measured on the twin: harm, preemptive changes, collateral.

- **Harm** (:class:`HarmMeter`, a twin step hook): link-seconds at or above the congestion
  threshold, every link direction of the network, read from the twin's noise-free load
  (:meth:`~netvigil.twin.network.TwinNetwork.expected_load`) at each step times the step;
  and, where the twin serves services (:attr:`HarmMeter.services`), the **SLO budget
  burned**: for each success SLO, the failed share of its requests at each step (the twin's
  own service model, :meth:`~netvigil.twin.services.TwinServices.health`, averaged over the
  service's clients as its probes are: no probe noise) times the step, over the error budget
  of the SLO's window (``(1 - objective) x window_s``). 1.0 is the whole budget. It is a
  share, not link-seconds, so it is reported beside ``harm_s``, not added to it.
- **Collateral overloads**: while preemptive changes are in force, a link direction (other
  than a changed link) at or above the threshold that would be below it without those
  changes (the same twin with their metrics and policers taken out) is one collateral overload
  when it starts.
- **Ground truth of a prediction** (:func:`report`): a risk on the interface of a
  ``growth_ramp`` during the ramp is a true prediction (the ramp saturates unless prevented);
  on a ``stalled_ramp`` it is false (placed where it never saturates, see
  :mod:`netvigil.eval.benign`); any other risk is judged by whether its interface reached the
  threshold in the twin within the hold time (:class:`HarmMeter` records every direction's
  threshold crossings). A link-errors risk on either interface of an ``error_ramp``'s link
  during the ramp is true when the ramp reaches the harm share (``RecoveryWatch.error_harm``)
  by its end (on a ``stalled_errors`` link, when its plateau does: it is placed below); any
  other link-errors risk is false (the twin's links corrupt nothing
  otherwise).
- **False predictions with no change** (``false_predictions_no_change``): of the false
  predictions, those no change ran for (no plan passed the twin, a level-1 proposal nobody
  approved, too late): counted as false all the same (see docs/prevention.md), reported apart
  from ``false_prediction_changes``.
- **Harm avoided**: of the ramps (growth ramps and error ramps) a risk was opened for before
  their harm (or before their end when prevented), the share that never harmed
  (:class:`~netvigil.eval.recovery.RecoveryWatch` saw no saturation, no harmful error share).

Written here rather than taken from a library because it reads the twin's internal state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netvigil.eval.recovery import RecoveryWatch
from netvigil.events import ActionRequest, ActionResult, Event
from netvigil.graph.base import TopologyStore
from netvigil.resolvers.remediation import ActionRecord
from netvigil.resolvers.riskstore import RiskRecord
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.services import TwinServices
from netvigil.twin.whatif import copy_network

__all__ = ["HarmMeter", "report"]

#: faults whose predicted harm counts in ``harm_avoided_share``
_RAMPS = frozenset({"growth_ramp", "error_ramp"})
#: statuses of an action that ran (whatever came of it)
_RAN = frozenset({"executing", "verifying", "verified", "rolling_back", "rolled_back", "timed_out"})


@dataclass
class HarmMeter:
    """A twin step hook and an ``netvigil.actions`` listener; see the module doc."""

    net: TwinNetwork
    step_s: float
    threshold: float = 0.9
    harm_s: float = 0.0
    in_force: dict[str, str] = field(default_factory=dict)
    """request id -> link of the preemptive changes in force"""
    collateral: list[dict[str, Any]] = field(default_factory=list)
    crossings: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """link direction -> times it was at or above the threshold (for ground truth)"""
    services: TwinServices | None = None
    """The twin's services, when it serves any: their SLO budget burned is measured too."""
    slo_burned: dict[str, float] = field(default_factory=dict)
    """``service|kind`` of each success SLO -> share of its error budget burned so far"""
    _over: set[tuple[str, str]] = field(default_factory=set)

    def on_action(self, topic: str, event: Event) -> None:
        if isinstance(event, ActionRequest) and event.incident.startswith("risk-"):
            if event.status == "approved":
                self.in_force[event.request_id] = event.target
        elif isinstance(event, ActionResult) and event.outcome in ("rolled_back", "failed"):
            self.in_force.pop(event.request_id, None)

    def _burn(self, t: float) -> None:
        assert self.services is not None
        for spec in self.services.specs:
            slos = [s for s in spec.slos if s.kind == "success" and s.budget > 0]
            if not slos or not spec.clients:
                continue
            failed = sum(self.services.health(spec.name, c, t).failure for c in spec.clients)
            share = failed / len(spec.clients)
            for slo in slos:
                key = f"{spec.name}|{slo.kind}"
                spent = share * self.step_s / (slo.budget * slo.window_s)
                self.slo_burned[key] = self.slo_burned.get(key, 0.0) + spent

    def __call__(self, t: float) -> None:
        if self.services is not None:
            self._burn(t)
        util, _ = self.net.expected_load(t)
        over = {d for d, u in util.items() if u >= self.threshold}
        self.harm_s += self.step_s * len(over)
        for d in over:
            self.crossings.setdefault(d, []).append(t)
        if not self.in_force:
            self._over = set()
            return
        links = set(self.in_force.values())
        twin = copy_network(self.net, keep_routing=True)
        for lk in links:
            twin.igp_metric.pop(lk, None)
            twin.policers.pop(lk, None)
        without, _ = twin.expected_load(t)
        now = {d for d in over if d[0] not in links and without.get(d, 0.0) < self.threshold}
        for d in sorted(now - self._over):
            self.collateral.append(
                {
                    "link": d[0],
                    "from": d[1],
                    "t": t,
                    "util": round(util[d], 4),
                    "without_changes": round(without.get(d, 0.0), 4),
                    "changes": sorted(links),
                }
            )
        self._over = now

    def reached(self, link: str, src: str, since: float, until: float) -> bool:
        return any(since <= t <= until for t in self.crossings.get((link, src), ()))


def _direction(topo: TopologyStore, entity: str) -> tuple[str, str] | None:
    try:
        iface = topo.interface(entity)
    except Exception:
        return None
    return (iface.link, iface.device) if iface.link else None


def _truth(
    rr: RiskRecord,
    topo: TopologyStore,
    faults: list[Fault],
    meter: HarmMeter,
    hold_s: float,
    harm_share: float,
) -> tuple[bool | None, Fault | None]:
    """Whether the risk's harm was real, and the fault (or benign ramp) it was about."""
    d = _direction(topo, rr.risk.entity)
    if d is None:
        return None, None
    opened = rr.risk.opened_ts
    if rr.risk.kind == "link_errors":
        for f in faults:
            if f.kind == "error_ramp" and f.target == d[0] and f.start <= opened <= f.end:
                return f.magnitude >= harm_share, f
            if f.kind == "stalled_errors" and f.target == d[0] and f.start <= opened <= f.end:
                return f.magnitude >= harm_share, f
        return False, None
    for f in faults:
        if f.kind not in ("growth_ramp", "stalled_ramp") or f.target != d[0]:
            continue
        if (f.direction or topo.link(f.target).a) == d[1] and f.start <= opened <= f.end:
            return f.kind == "growth_ramp", f
    until = rr.risk.predicted_ts + hold_s
    return meter.reached(d[0], d[1], opened, until), None


def report(
    actions: list[ActionRecord],
    risks: list[RiskRecord],
    faults: list[Fault],
    watch: RecoveryWatch,
    meter: HarmMeter,
    topo: TopologyStore,
    *,
    hold_s: float,
) -> dict[str, Any]:
    """Prevention figures of one run (see the module doc)."""
    by_risk = {a.incident: a for a in actions if a.preemptive}
    by_request = {a.request_id: a for a in actions if a.preemptive}
    ran = [a for a in by_risk.values() if a.status in _RAN]
    withdrawn = [
        a for a in ran if a.preemptive.get("withdrawn") and not a.preemptive.get("restored")
    ]
    rows = []
    truth_of: dict[str, bool | None] = {}
    predicted_ramps: dict[Fault, float] = {}
    for rr in risks:
        true, fault = _truth(rr, topo, faults, meter, hold_s, watch.error_harm)
        truth_of[rr.risk.risk_id] = true
        if fault is not None and fault.kind in _RAMPS and true:
            rec = watch.of(fault)
            upto = rec.onset if rec is not None and rec.onset is not None else fault.end
            if rr.risk.opened_ts <= upto:
                first = predicted_ramps.get(fault)
                predicted_ramps[fault] = min(first or rr.risk.opened_ts, rr.risk.opened_ts)
        a = by_risk.get(rr.risk.risk_id)
        rows.append(
            {
                "risk": rr.risk.risk_id,
                "entity": rr.risk.entity,
                "opened_s": rr.risk.opened_ts,
                "predicted_s": rr.risk.predicted_ts,
                "confidence": rr.risk.confidence,
                "outcome": rr.outcome,
                "truth": true,
                "about": fault.kind if fault else None,
                "change": f"{a.action}@L{a.level}:{a.status}" if a else None,
                "approve_by_s": a.preemptive.get("approve_by") if a and a.level == 1 else None,
                "executed_s": a.executed_ts if a and a.executed_ts else None,
                "change_made": bool((m := by_request.get(rr.request_id or "")) and m.executed_ts),
                "harm_s": (w.natural_onset if fault and (w := watch.of(fault)) else None),
                "withdrawn": bool(a and a.preemptive.get("withdrawn")),
                "restored": bool(a and a.preemptive.get("restored")),
                "refused": sorted(
                    {r for c in rr.plan.get("candidates", []) if not c["ok"] for r in c["refused"]}
                ),
            }
        )
    false_changes = [a for a in ran if truth_of.get(a.incident) is False]
    ramps = [f for f in faults if f.kind == "growth_ramp"]
    errs = [f for f in faults if f.kind == "error_ramp"]
    avoided = [f for f in predicted_ramps if (r := watch.of(f)) is not None and r.onset is None]
    judged = [r for r in rows if r["truth"] is not None and r["outcome"] != "pending"]
    said_true = [r for r in judged if r["outcome"] in ("came_true", "averted", "judged_true")]
    return {
        "harm_s": round(meter.harm_s, 1),
        "slo_budget_burned": {k: round(v, 4) for k, v in sorted(meter.slo_burned.items())},
        "ramps": len(ramps),
        "ramps_predicted": sum(1 for f in predicted_ramps if f.kind == "growth_ramp"),
        "ramps_harm_avoided": sum(1 for f in avoided if f.kind == "growth_ramp"),
        "error_ramps": len(errs),
        "error_ramps_predicted": sum(1 for f in predicted_ramps if f.kind == "error_ramp"),
        "error_ramps_harm_avoided": sum(1 for f in avoided if f.kind == "error_ramp"),
        "harm_avoided_share": (
            round(len(avoided) / len(predicted_ramps), 4) if predicted_ramps else None
        ),
        "risks": len(risks),
        "true_predictions": sum(1 for r in rows if r["truth"] is True),
        "false_predictions": sum(1 for r in rows if r["truth"] is False),
        "false_predictions_no_change": sum(
            1 for r in rows if r["truth"] is False and not r["change_made"]
        ),
        "outcome_agrees_with_truth": (
            round(sum(1 for r in judged if (r in said_true) == r["truth"]) / len(judged), 4)
            if judged
            else None
        ),
        "preemptive_changes": len(ran),
        "preemptive_rolled_back": len(withdrawn),
        "preemptive_restored_after_repair": sum(1 for a in ran if a.preemptive.get("restored")),
        "false_prediction_changes": len(false_changes),
        "false_prediction_changes_rolled_back": sum(
            1 for a in false_changes if a.preemptive.get("withdrawn")
        ),
        "collateral_overloads": len(meter.collateral),
        "collateral": meter.collateral,
        "per_risk": rows,
    }
