"""A degrading link on the embedded runtime with the twin: its rising error share becomes a
link-errors risk with a problem ticket; level 3 drains the link (an IGP cost change judged in
the twin) before its errors hurt, and restores it once the link is repaired; level 2 may not
run a medium-risk change and proposes it; level 1 proposes it with an approve-by time and
drains after approval; errors that stop rising before the harm share have their drain
withdrawn after the hold time."""

from __future__ import annotations

from pathlib import Path

from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH
from tests.unit.resolvers.test_prevention_loop import run  # the same twin run, another fault

LINK = "core1--edge1"
START = SIM_EPOCH + 3600.0
#: 0 -> 0.3 % over two hours: the 0.1 % harm share 40 minutes in
RAMP = Fault("error_ramp", LINK, START, START + 7200, magnitude=0.003)
HARM = START + 2400


def test_level_3_drains_a_degrading_link_before_its_errors_hurt(tmp_path: Path) -> None:
    svc, watch = run(tmp_path, RAMP, "autonomous", hours=3.3)
    assert svc.prevention is not None and svc.twin is not None
    risks = svc.prevention.risks.all()
    assert {rr.risk.kind for rr in risks} == {"link_errors"}
    assert {rr.link for rr in risks} == {LINK}  # both ends see the errors: one link
    first = min(risks, key=lambda rr: rr.risk.ts)
    r = first.risk
    assert r.signal == "if.in_errors" and r.threshold == 0.001
    assert LINK in r.entities and r.opened_ts < HARM - 1200  # well ahead of the harm
    assert abs(r.predicted_ts - HARM) < 0.5 * (HARM - r.opened_ts)  # its deadline
    assert first.plan["chosen"] == "igp_metric_change" and first.plan["level"] == 3
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.executed_ts < HARM
    assert rec.verdict["on"] == "forecast" and rec.verdict["growth"] == "none (drain)"
    assert rec.verdict["target_util_after"] == 0.0
    # drained while it corrupted frames; restored once repaired (the fault's end)
    restored = next(r for r in svc.audit.records() if r.action == "risk.restored")
    assert RAMP.end <= restored.ts <= RAMP.end + 600
    assert rec.status == "rolled_back" and rec.preemptive["restored"] is True
    assert svc.twin.network.igp_metric.get(LINK, 10) == 10
    assert svc.prevention.record.of("all").rate("change") == 1.0  # no failed change
    assert {rr.outcome for rr in risks} == {"averted"}  # the twin says it corrupts 0.1 %+
    assert watch.recoveries[0].onset is None  # no traffic ever crossed it at the harm share
    assert watch.recoveries[0].natural_onset == HARM
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    problem = tickets.find_problem(first.risk.risk_id)
    assert problem is not None and tickets.problem_code(problem) == "averted"
    assert svc.audit.verify().ok
    svc.close()


def test_level_2_may_not_run_a_drain_and_proposes_it(tmp_path: Path) -> None:
    svc, watch = run(tmp_path, RAMP, "semi-autonomous", hours=2.0)
    assert svc.prevention is not None
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.action == "igp_metric_change"  # medium risk: no pre-approved change drains
    assert rec.level == 1 and rec.status == "cancelled"  # nobody approved by the deadline
    assert not rec.executed_ts
    assert watch.recoveries[0].onset == HARM  # nobody approved: the errors hurt
    assert {rr.outcome for rr in svc.prevention.risks.all()} == {"came_true"}
    svc.close()


def test_level_1_proposes_the_drain_with_an_approve_by_time(tmp_path: Path) -> None:
    svc, watch = run(tmp_path, RAMP, "passive", hours=3.0, approve=True)
    assert svc.prevention is not None
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.level == 1 and rec.action == "igp_metric_change"
    approve_by = rec.preemptive["approve_by"]
    assert rec.preemptive["deadline"] - approve_by == 900
    proposed = next(
        r for r in svc.audit.records() if r.action in ("action.proposed", "action.decided")
    )
    assert proposed.ts < approve_by
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    (change,) = tickets.changes()
    assert change.kind == "normal"
    risk_id = rec.preemptive["risk"]
    problem = tickets.find_problem(risk_id)
    assert problem is not None
    notes = " ".join(tickets.problem_notes(problem))
    assert "Preemptive igp_metric_change" in notes and "level 1" in notes
    assert "input errors of" in notes and "approve by" in notes
    assert rec.status == "verified" and watch.recoveries[0].onset is None
    svc.close()


def test_errors_that_stop_rising_have_their_drain_withdrawn(tmp_path: Path) -> None:
    stalled = Fault("stalled_errors", LINK, START, START + 2 * 1440, magnitude=0.0006)
    svc, _ = run(tmp_path, stalled, "autonomous", hours=3.5)
    assert svc.prevention is not None and svc.twin is not None
    risks = svc.prevention.risks.all()
    assert risks and {rr.outcome for rr in risks} == {"false"}
    (rec,) = [a for a in svc.actions.all() if a.preemptive]
    assert rec.status == "rolled_back" and "did not come true" in rec.preemptive["withdrawn"]
    assert svc.twin.network.igp_metric.get(LINK, 10) == 10  # the metric is back
    record = svc.prevention.record.of("all")
    assert record.rate("prediction") == 0.0 and record.rate("change") == 1.0
    svc.close()
