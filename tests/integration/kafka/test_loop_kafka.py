"""The acting loop on the Kafka runtime, at each autonomy level: a fault in the twin becomes an
incident (Kafka workers: detector, correlator), the coordinator's remediator (a Kafka worker
too) decides per policy and runs the change against the twin while the fault lasts, verifies
it, and the ticket and its change close with the incident.

- level 1 (passive phase): the change waits as a normal change until a person approves it in
  the ticket system, then runs;
- level 2 (semi-autonomous): the pre-approved QoS change runs on its own as a standard change;
- level 3 (autonomous): the interface reset runs only after the twin validated it;
- a tripped breaker: nothing autonomous runs, the decision falls back to level 1 with the
  operator's reason.

Each run is 60 simulated seconds per wall second, so that the broker's latency is a simulated
minute or two; the fault lasts an hour, long enough that only the action can end it early."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from netvigil.config import Settings
from netvigil.events import AuditRecord, Event
from netvigil.resolvers.breaker import GLOBAL, AutonomyState
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service
from netvigil.streams.kafka.runtime import KafkaRuntime
from netvigil.twin.faults import Fault


def _run(
    s: Settings, tmp: Path, *, phase: str, kind: str, policy: dict | None = None
) -> tuple[Service, Fault, list[AuditRecord]]:
    s.coordinator.phase = phase  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    if policy is not None:
        (tmp / "policy.yaml").write_text(yaml.safe_dump(policy))
        s.coordinator.policy = tmp / "policy.yaml"
    s.twin.fault_kinds = [kind]  # type: ignore[list-item]
    s.twin.warmup_s = 900.0
    s.twin.fault_duration_s = 3600.0
    plan = Service.plan_twin(s, fault_count=1, speed=60.0, settle_s=600.0)
    (fault,) = plan.faults
    svc = Service.build(s, twin=plan, data_dir=tmp)
    assert isinstance(svc.runtime, KafkaRuntime)
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)

    def approve_requested(topic: str, e: Event) -> None:  # the person of level 1
        for ch in tickets.changes():
            if ch.state == "requested":
                tickets.decide_change(ch.correlation_id, True, "alice (test)")

    if phase == "passive":
        svc.runtime.listen("netvigil.actions", approve_requested)
    try:
        asyncio.run(svc.run())
    except BaseException:
        svc.close()
        raise
    return svc, fault, svc.audit.records()


def _partial(r: AuditRecord) -> bool:
    """A "no remedy" for a root cause no catalog action remedies: on Kafka the first revision
    of a link-down incident may rest on the routing protocol's symptoms alone (a neighbour's
    adjacency, a device's routes, which can arrive before the interface's state); the link's
    own revision is then decided on again (see ``CoordinatorProcessor``)."""
    return r.action == "action.none" and "no catalog action remedies" in str(
        r.detail.get("why", "")
    )


def _acts(records: list[AuditRecord]) -> list[str]:
    starts = ("action.", "incident.o", "incident.res")
    return [r.action for r in records if r.action.startswith(starts) and not _partial(r)]


def _record(records: list[AuditRecord], action: str) -> AuditRecord:
    return next(r for r in records if r.action == action)


def _closed_loop(svc: Service, fault: Fault, records: list[AuditRecord], change_kind: str) -> None:
    """The change ran while the fault lasted and was verified; change and ticket closed.

    Verification and the incident's resolution may come in either order: once the change
    has taken effect the incident can resolve before the remediator's next look at the KPI
    (on a loaded machine the broker's latency is minutes of simulated time)."""
    acts = _acts(records)
    assert "action.verified" in acts and "incident.resolved" in acts, acts
    assert "action.rolled_back" not in acts, acts
    assert acts.index("action.executed") < acts.index("action.verified"), acts
    executed = _record(records, "action.executed")
    assert fault.start <= executed.ts < fault.end
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    (change,) = tickets.changes()
    assert change.kind == change_kind and change.state == "closed"
    (ticket,) = tickets.all()
    assert ticket.state == "resolved"
    assert svc.audit.verify().ok


def test_level_1_waits_for_a_person_then_runs_through_kafka(
    settings: Settings, tmp_path: Path
) -> None:
    svc, fault, records = _run(settings, tmp_path, phase="passive", kind="link_down")
    try:
        acts = _acts(records)
        assert acts[:3] == ["incident.opened", "action.decided", "action.proposed"], acts
        assert _record(records, "action.decided").detail["level"] == 1
        approved = _record(records, "action.approved")
        assert approved.detail["approval"] == "approved by alice (test)"
        assert approved.ts <= _record(records, "action.executed").ts
        _closed_loop(svc, fault, records, "normal")
    finally:
        svc.close()


def test_level_2_loop_runs_through_kafka(settings: Settings, tmp_path: Path) -> None:
    svc, fault, records = _run(settings, tmp_path, phase="semi-autonomous", kind="congestion")
    try:
        assert _acts(records)[:4] == [
            "incident.opened",
            "action.decided",
            "action.approved",
            "action.executed",
        ]
        decided = _record(records, "action.decided")
        assert decided.detail["action"] == "qos_adjust" and decided.detail["level"] == 2
        _closed_loop(svc, fault, records, "standard")
    finally:
        svc.close()


def test_level_3_runs_after_the_twin_validated_it_through_kafka(
    settings: Settings, tmp_path: Path
) -> None:
    rules = [{"action": "interface_reset", "level": 3}]
    policy = {"domains": {"all": {"phase": "autonomous", "rules": rules}}}
    svc, fault, records = _run(
        settings, tmp_path, phase="autonomous", kind="link_down", policy=policy
    )
    try:
        acts = _acts(records)
        assert acts[:3] == ["incident.opened", "action.decided", "action.validated"], acts
        assert _record(records, "action.decided").detail["level"] == 3
        verdict = _record(records, "action.validated").detail["verdict"]
        assert verdict["ok"] is True and verdict["unreachable_bps_after"] == 0.0
        assert acts.index("action.validated") < acts.index("action.executed")
        _closed_loop(svc, fault, records, "standard")
    finally:
        svc.close()


def test_a_tripped_breaker_stops_autonomy_through_kafka(settings: Settings, tmp_path: Path) -> None:
    state = AutonomyState(tmp_path / "autonomy.db")
    state.trip(GLOBAL, "operator freeze", actor="bob", ts=0.0)
    state.close()
    svc, _, records = _run(settings, tmp_path, phase="autonomous", kind="congestion")
    try:
        acts = _acts(records)
        assert "action.proposed" in acts and "action.executed" not in acts, acts
        decided = _record(records, "action.decided")
        assert decided.detail["level"] == 1
        assert any("operator freeze" in w and "bob" in w for w in decided.detail["why"])
    finally:
        svc.close()
