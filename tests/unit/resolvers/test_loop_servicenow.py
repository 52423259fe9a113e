"""The whole loop with ``tickets.url = servicenow://`` against the emulator: an injected
congestion becomes an incident in ServiceNow, a standard change (level 2) that is executed,
verified and closed, and the incident is resolved there, with the work notes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import Settings, load_settings
from netvigil.resolvers.tickets.emulator.server import EmulatorServer
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets
from netvigil.service import Service


def _settings(port: int, phase: str, kinds: str) -> Settings:
    s = load_settings()
    s.tickets.url = f"servicenow://127.0.0.1:{port}?tls=0"
    s.tickets.user = "netvigil"
    s.tickets.password = "netvigil"  # type: ignore[assignment]
    s.coordinator.phase = phase  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.twin.fault_kinds = [kinds]  # type: ignore[assignment]
    return s


def test_level_1_change_approved_in_servicenow_flows_back(tmp_path: Path) -> None:
    server = EmulatorServer().start()
    try:
        s = _settings(server.port, "passive", "link_down")
        svc = Service.build(
            s, twin=Service.plan_twin(s, fault_count=1, speed=0.0), data_dir=tmp_path
        )
        tickets = svc.tickets
        assert isinstance(tickets, ServiceNowTickets)

        def approve_in_servicenow(topic: str, e: object) -> None:
            tickets.flush(30)  # the proposal reached ServiceNow
            for rec in server.state.tables["change_request"].values():
                if rec["approval"] == "requested":
                    server.state.update("change_request", rec, {"approval": "approved"}, "alice")
            tickets.flush(30)  # and the approval was polled back

        svc.runtime.listen("netvigil.actions", approve_in_servicenow)
        asyncio.run(svc.run())
        tickets.flush(30)
        approved = next(r for r in svc.audit.records() if r.action == "action.approved")
        assert "alice" in approved.detail["approval"]
        assert "action.verified" in [r.action for r in svc.audit.records()]
        (inc,) = server.state.tables["incident"].values()
        (chg,) = server.state.tables["change_request"].values()
        assert chg["type"] == "normal" and chg["approval"] == "approved"
        assert chg["state"] == "3" and inc["state"] == "6"
        svc.close()
    finally:
        server.stop()


def test_level_2_loop_through_servicenow(tmp_path: Path) -> None:
    server = EmulatorServer().start()
    try:
        s = _settings(server.port, "semi-autonomous", "congestion")
        plan = Service.plan_twin(s, fault_count=1, speed=0.0)
        svc = Service.build(s, twin=plan, data_dir=tmp_path)
        asyncio.run(svc.run())
        tickets = svc.tickets
        assert isinstance(tickets, ServiceNowTickets)
        tickets.flush(30)
        assert set(tickets.store.counts()) == {"done"}  # nothing pending, nothing dead
        (inc,) = server.state.tables["incident"].values()
        (chg,) = server.state.tables["change_request"].values()
        assert inc["state"] == "6" and inc["correlation_display"] == "NetVigil"
        assert inc["rfc"] == chg["sys_id"]
        assert chg["type"] == "standard" and chg["state"] == "3"
        assert chg["close_code"] == "successful"
        notes = server.state.journal(inc["sys_id"])
        assert len(notes) >= 2 and any("verif" in n.lower() for n in notes)
        assert svc.audit.verify().ok
        svc.close()
    finally:
        server.stop()
