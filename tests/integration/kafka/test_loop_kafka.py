"""The acting loop on the Kafka runtime: a congestion fault in the twin becomes an incident
(faust workers: detector, correlator), the coordinator's remediator (a faust agent too) runs
the pre-approved QoS change at level 2 against the twin while the fault lasts, verifies it,
and the ticket and its standard change close with the incident."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import Settings
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service
from netvigil.streams.kafka_runtime import KafkaRuntime


def test_level_2_loop_runs_through_kafka(settings: Settings, tmp_path: Path) -> None:
    s = settings
    s.coordinator.phase = "semi-autonomous"  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.twin.fault_kinds = ["congestion"]  # type: ignore[list-item]
    s.twin.warmup_s = 900.0
    s.twin.fault_duration_s = 3600.0  # long enough that only the action can end it early
    # 60 simulated seconds per wall second: the broker's latency is a simulated minute or two
    plan = Service.plan_twin(s, fault_count=1, speed=60.0, settle_s=600.0)
    (fault,) = plan.faults
    svc = Service.build(s, twin=plan, data_dir=tmp_path)
    assert isinstance(svc.runtime, KafkaRuntime)
    try:
        asyncio.run(svc.run())
        records = svc.audit.records()
        acts = [
            r.action
            for r in records
            if r.action.startswith(("action.", "incident.o", "incident.res"))
        ]
        assert acts[:4] == [
            "incident.opened",
            "action.decided",
            "action.approved",
            "action.executed",
        ]
        assert "action.verified" in acts and acts[-1] == "incident.resolved", acts
        decided = next(r for r in records if r.action == "action.decided")
        assert decided.detail["action"] == "qos_adjust" and decided.detail["level"] == 2
        executed = next(r for r in records if r.action == "action.executed")
        assert fault.start <= executed.ts < fault.end  # the change ran while the fault lasted
        tickets = svc.tickets
        assert isinstance(tickets, LocalTickets)
        (change,) = tickets.changes()
        assert change.kind == "standard" and change.state == "closed"
        (ticket,) = tickets.all()
        assert ticket.state == "resolved"
        assert svc.audit.verify().ok
    finally:
        svc.close()
