"""Prevention on the embedded runtime with the twin: a predicted saturation becomes a risk
with a problem ticket; the resolver changes the network before the deadline (level 2) or
proposes the change with its deadline (level 1); a prediction that does not come true has its
change withdrawn after the hold time, which is no failure of the change."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import load_settings
from netvigil.eval.recovery import RecoveryWatch
from netvigil.graph.importers import load_topology
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH

LINK = "core1--edge1"
START = SIM_EPOCH + 3600.0


def ramp() -> Fault:
    return Fault("growth_ramp", LINK, START, START + 7200, magnitude=1.3, direction="edge1")


def stalled() -> Fault:
    """Grows as fast as the ramp until the link carries 70 %, then holds."""
    util, _ = TwinNetwork(load_topology(None), [], seed=7).expected_load(START)
    size = 0.7 - util[(LINK, "edge1")]
    span = 2 * size / (1.3 / 7200)
    return Fault("stalled_ramp", LINK, START, START + span, magnitude=size, direction="edge1")


def run(
    tmp: Path, fault: Fault, phase: str, *, hours: float, approve: bool = False
) -> tuple[Service, RecoveryWatch]:
    s = load_settings()
    s.coordinator.phase = phase  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.twin.seed = 7
    plan = TwinPlan(speed=0.0, faults=[fault], until=SIM_EPOCH + hours * 3600)
    svc = Service.build(s, twin=plan, data_dir=tmp)
    assert svc.twin is not None
    watch = RecoveryWatch(svc.twin.network, [fault] if not fault.benign else [])
    svc.twin.step_hooks.append(watch)
    svc.twin.pace = svc.runtime.drain  # type: ignore[attr-defined]
    if approve:
        tickets = svc.tickets
        assert isinstance(tickets, LocalTickets)

        def approve_proposals(t: float) -> None:
            for ch in tickets.changes():
                if ch.state == "requested":
                    tickets.decide_change(ch.correlation_id, True, "alice (test)")

        svc.twin.step_hooks.append(approve_proposals)
    asyncio.run(svc.run())
    return svc, watch


def audited(svc: Service, prefix: str) -> list[str]:
    return [r.action for r in svc.audit.records() if r.action.startswith(prefix)]


def test_level_2_polices_a_predicted_saturation_before_it_happens(tmp_path: Path) -> None:
    svc, watch = run(tmp_path, ramp(), "semi-autonomous", hours=3.5)
    assert svc.prevention is not None
    (rr,) = svc.prevention.risks.all()
    assert rr.risk.kind == "congestion" and rr.outcome == "averted"
    assert rr.plan["chosen"] == "qos_adjust" and rr.plan["level"] == 2
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.status == "verified" and rec.executed_ts < rr.risk.predicted_ts
    assert rec.verdict["on"] == "forecast" and rec.verdict["target_util_after"] < 0.9
    assert watch.recoveries[0].onset is None  # the link never saturated in the twin
    trail = audited(svc, "risk.")
    assert trail[0] == "risk.opened" and trail[-1] == "risk.averted"
    assert trail.count("risk.opened") == 1  # a forecast that flaps is the same risk
    decided = next(
        r
        for r in svc.audit.records()
        if r.action == "action.decided" and r.subject == rr.risk.risk_id
    )
    assert decided.detail["preemptive"]["deadline"] - decided.ts > 1800  # well ahead
    assert decided.detail["queue"]["urgency"] < 1.0  # queued by its time to impact
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    problem = tickets.find_problem(rr.risk.risk_id)
    assert problem is not None and problem.state == "resolved"
    assert tickets.problem_code(problem) == "averted"
    assert tickets.find(rr.risk.risk_id) is None  # a problem, not an incident
    (change,) = tickets.changes()
    assert change.kind == "standard"
    assert svc.prevention.record.of("all").rate("prediction") == 1.0
    assert svc.audit.verify().ok
    svc.close()


def test_level_1_proposes_the_change_with_its_deadline(tmp_path: Path) -> None:
    svc, watch = run(tmp_path, ramp(), "passive", hours=3.5, approve=True)
    assert svc.prevention is not None
    (rr,) = svc.prevention.risks.all()
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    (change,) = tickets.changes()
    assert change.kind == "normal"
    problem = tickets.find_problem(rr.risk.risk_id)
    assert problem is not None
    notes = " ".join(tickets.problem_notes(problem))
    assert "Preemptive qos_adjust" in notes and "level 1" in notes
    proposed = next(r for r in svc.audit.records() if r.action == "action.proposed")
    assert proposed.subject == rr.risk.risk_id
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.level == 1 and rec.preemptive["approve_by"] < rec.preemptive["deadline"]
    assert rec.status == "verified" and watch.recoveries[0].onset is None
    assert svc.prevention.record.of("all").count("recommendation") == 1
    svc.close()


def test_a_change_for_a_prediction_that_does_not_come_true_is_withdrawn(tmp_path: Path) -> None:
    svc, _ = run(tmp_path, stalled(), "semi-autonomous", hours=3.5)
    assert svc.prevention is not None
    (rr,) = svc.prevention.risks.all()
    assert rr.outcome == "false" and (rr.counterfactual_max or 0) < 0.9
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.status == "rolled_back" and "did not come true" in rec.preemptive["withdrawn"]
    rolled = next(r for r in svc.audit.records() if r.action == "action.rolled_back")
    assert rolled.detail["withdrawn"] is True and "escalated_to" not in rolled.detail
    assert svc.autonomy.fallback("all") is None and not svc.autonomy.status("all").open
    record = svc.prevention.record.of("all")
    assert record.rate("prediction") == 0.0  # a false prediction
    assert record.judged("change") == 1 and record.rate("change") == 1.0  # not a failed change
    assert svc.policy is not None and svc.twin is not None
    assert svc.twin.network.policers == {}  # the policer is gone
    svc.close()
