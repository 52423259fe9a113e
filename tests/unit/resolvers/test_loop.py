"""The whole loop on the embedded runtime with the twin: incident, ticket, action per policy,
verification, ticket resolved, at each autonomy level; the twin gate; tampered audit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import yaml

from netvigil.config import load_settings
from netvigil.graph.base import Device, Link
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import twin_validator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.catalog import Facts, load_catalog
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service
from netvigil.twin.network import TwinNetwork


def _run(
    tmp: Path,
    policy: dict | None,
    *,
    phase: str = "passive",
    kinds: str = "link_down",
    approve: bool = False,
    faults: int = 1,
    partitions: int = 1,
) -> Service:
    s = load_settings()
    s.coordinator.phase = phase  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.coordinator.partitions = partitions
    if policy is not None:
        (tmp / "policy.yaml").write_text(yaml.safe_dump(policy))
        s.coordinator.policy = tmp / "policy.yaml"
    s.twin.fault_kinds = kinds.split(",")  # type: ignore[assignment]
    plan = Service.plan_twin(s, fault_count=faults, speed=0.0)
    svc = Service.build(s, twin=plan, data_dir=tmp)
    if approve:
        tickets = svc.tickets
        assert isinstance(tickets, LocalTickets)

        def approve_proposals(topic: str, e: object) -> None:
            for ch in tickets.changes():
                if ch.state == "requested":
                    tickets.decide_change(ch.correlation_id, True, "alice (test)")

        svc.runtime.listen("netvigil.actions", approve_proposals)
    asyncio.run(svc.run())
    return svc


def _actions(svc: Service) -> list[str]:
    return [
        r.action
        for r in svc.audit.records()
        if r.action.startswith(("action.", "incident.o", "incident.res"))
    ]


def test_level_1_waits_for_a_human_then_executes_and_verifies(tmp_path: Path) -> None:
    svc = _run(tmp_path, None, phase="passive", approve=True)
    acts = _actions(svc)
    assert acts[:3] == ["incident.opened", "action.decided", "action.proposed"]
    assert "action.approved" in acts and "action.verified" in acts
    assert [a for a in acts if a.startswith("incident.")][-1] == "incident.resolved"
    approved = next(r for r in svc.audit.records() if r.action == "action.approved")
    assert approved.detail["approval"] == "approved by alice (test)"
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    (ticket,) = tickets.all()
    assert ticket.state == "resolved"
    assert any("awaiting approval" in n for n in tickets.notes(ticket))
    (change,) = tickets.changes()
    assert change.kind == "normal" and change.state == "closed"
    assert svc.audit.verify().ok
    svc.close()


def test_level_2_runs_on_its_own_as_a_standard_change(tmp_path: Path) -> None:
    svc = _run(tmp_path, None, phase="semi-autonomous", kinds="congestion")
    acts = _actions(svc)
    assert acts == [
        "incident.opened",
        "action.decided",
        "action.approved",
        "action.executed",
        "action.verified",
        "incident.resolved",
    ]
    decided = next(r for r in svc.audit.records() if r.action == "action.decided")
    assert decided.detail["action"] == "qos_adjust" and decided.detail["level"] == 2
    tickets = svc.tickets
    assert isinstance(tickets, LocalTickets)
    (change,) = tickets.changes()
    assert change.kind == "standard" and change.state == "closed"
    assert tickets.all()[0].state == "resolved"
    svc.close()


def test_level_3_runs_after_the_twin_validated_it(tmp_path: Path) -> None:
    policy = {
        "domains": {
            "all": {"phase": "autonomous", "rules": [{"action": "interface_reset", "level": 3}]}
        }
    }
    svc = _run(tmp_path, policy)
    acts = _actions(svc)
    assert acts[:3] == ["incident.opened", "action.decided", "action.validated"]
    validated = next(r for r in svc.audit.records() if r.action == "action.validated")
    assert validated.detail["verdict"]["ok"] is True
    assert validated.detail["verdict"]["unreachable_bps_after"] == 0.0
    assert "action.verified" in acts and "incident.resolved" in acts
    svc.close()


def test_a_tripped_breaker_stops_autonomy(tmp_path: Path) -> None:
    from netvigil.resolvers.breaker import GLOBAL, AutonomyState

    st = AutonomyState(tmp_path / "autonomy.db")
    st.trip(GLOBAL, "operator freeze", actor="bob", ts=0.0)
    st.close()
    svc = _run(tmp_path, None, phase="autonomous")
    acts = _actions(svc)
    assert "action.executed" not in acts and "action.proposed" in acts
    decided = next(r for r in svc.audit.records() if r.action == "action.decided")
    assert decided.detail["level"] == 1
    assert any("operator freeze" in w and "bob" in w for w in decided.detail["why"])
    svc.close()


def test_a_phase_set_in_the_console_reaches_the_remediator(tmp_path: Path) -> None:
    """The policy file says passive; an admin moves the domain to semi-autonomous through the
    console's policy adapter; the congestion's QoS change then runs on its own."""
    from netvigil.api.resolvers import AutonomyPolicy

    s = load_settings()
    s.twin.fault_kinds = ["congestion"]  # type: ignore[assignment]
    svc = Service.build(s, twin=Service.plan_twin(s, fault_count=1, speed=0.0), data_dir=tmp_path)
    assert svc.policy is not None and svc.autonomy is not None
    console = AutonomyPolicy(svc.policy, svc.autonomy, svc.audit)
    assert console.phases() == {"all": "passive"}
    assert asyncio.run(console.set_phase("all", "semi-autonomous", "ada")) == {
        "all": "semi-autonomous"
    }
    asyncio.run(svc.run())
    acts = _actions(svc)
    assert "action.executed" in acts and "action.proposed" not in acts
    decided = next(r for r in svc.audit.records() if r.action == "action.decided")
    assert decided.detail["level"] == 2
    assert "an operator set domain all to phase semi-autonomous" in decided.detail["why"]
    changed = next(r for r in svc.audit.records() if r.action == "policy.changed")
    assert changed.actor == "user:ada" and changed.detail == {
        "from": "passive",
        "to": "semi-autonomous",
    }
    svc.close()


def _bottleneck() -> TwinNetwork:
    """a and b joined by a fat direct link and a thin detour through c."""
    topo = MemoryTopology()
    for n in "abc":
        topo.add_device(Device(n, role="core", weight=1.0))
    topo.add_link(Link("a--b", "a", "a:1", "b", "b:1", capacity_bps=10e9, igp_metric=10))
    topo.add_link(Link("a--c", "a", "a:2", "c", "c:1", capacity_bps=1e9, igp_metric=10))
    topo.add_link(Link("b--c", "b", "b:2", "c", "c:2", capacity_bps=1e9, igp_metric=10))
    return TwinNetwork(topo, seed=1)


def test_level_3_change_that_would_congest_another_link_is_refused_with_numbers() -> None:
    net = _bottleneck()
    spec = load_catalog().get("igp_metric_change")
    facts = Facts(
        target="a--b",
        fault="congestion",
        confidence=0.9,
        a="a",
        b="b",
        a_if="1",
        b_if="1",
        src="a",
        src_if="1",
        orig_metric=10,
    )
    ops = spec.render(facts, spec.params())
    ok, reasons, numbers = twin_validator(net)(spec, facts, ops, 1767571200.0 + 12 * 3600)
    assert not ok
    assert any(r.startswith("would congest") for r in reasons)
    assert numbers["congested_util_after"] >= 0.9 > numbers["congested_util_before"]
    assert numbers["target_util_after"] < numbers["target_util_before"]


def test_deleting_the_newest_audit_records_fails_verification(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    log = AuditLog(db, key="k")
    for i in range(5):
        log.append(ts=float(i), actor="t", action="x", subject="s", detail={"i": i})
    assert log.verify().ok
    log.close()
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit WHERE seq >= 4")
    v = AuditLog(db, key="k").verify()
    assert not v.ok and any("records 4..5 are missing" in p for p in v.problems)
    # forging the anchor without the key is detected too
    (tmp_path / "audit.db.head").write_text(
        json.dumps({"seq": 3, "hash": AuditLog(db).records()[-1].hash})
    )
    v = AuditLog(db, key="k").verify()
    assert not v.ok and any("not signed" in p for p in v.problems)
