"""One contract for every ticket backend: ``local://`` (SQLite) and ``servicenow://`` (the
real ``servicenow-api`` client over HTTP against the emulator, through the outbox).

Each backend comes with a harness that plays the human in its ticket system and reads what
the system holds, so the same assertions run on both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from netvigil.resolvers.base import ChangeDecided, TicketBackend
from netvigil.resolvers.tickets.emulator.server import EmulatorServer
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets
from netvigil.resolvers.tickets.snow_client import SnowClient


class Harness(Protocol):
    backend: TicketBackend

    def settle(self) -> None: ...
    def remote_tickets(self, correlation_id: str) -> list[dict[str, Any]]: ...
    def remote_notes(self, correlation_id: str) -> list[str]: ...
    def human_resolve(self, correlation_id: str, close_code: str = "") -> None: ...
    def human_judge(self, correlation_id: str, close_code: str) -> None: ...
    def remote_problem(self, correlation_id: str) -> tuple[str, str]: ...
    def human_decide(self, correlation_id: str, approved: bool) -> None: ...
    def remote_approval(self, correlation_id: str) -> str: ...
    def reopen(self) -> None: ...


class LocalHarness:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "tickets.db"
        self.backend: LocalTickets = LocalTickets(self.path)

    def settle(self) -> None:
        pass

    def remote_tickets(self, correlation_id: str) -> list[dict[str, Any]]:
        return [
            {"state": t.state} for t in self.backend.all() if t.correlation_id == correlation_id
        ]

    def remote_notes(self, correlation_id: str) -> list[str]:
        ticket = self.backend.find(correlation_id)
        return self.backend.notes(ticket) if ticket else []

    def human_resolve(self, correlation_id: str, close_code: str = "") -> None:
        self.backend.resolve_by_human(correlation_id, "alice", close_code)

    def human_judge(self, correlation_id: str, close_code: str) -> None:
        self.backend.judge_by_human(correlation_id, "alice", close_code)

    def remote_problem(self, correlation_id: str) -> tuple[str, str]:
        found = self.backend.find_problem(correlation_id)
        assert found is not None
        return found.state, self.backend.problem_code(found)

    def human_decide(self, correlation_id: str, approved: bool) -> None:
        change = self.backend.find_change(correlation_id)
        assert change is not None
        self.backend.decide_change(correlation_id, approved, "alice")

    def remote_approval(self, correlation_id: str) -> str:
        change = self.backend.find_change(correlation_id)
        return change.state if change else ""

    def reopen(self) -> None:
        self.backend.close()
        self.backend = LocalTickets(self.path)


class SnowHarness:
    def __init__(self, tmp: Path, server: EmulatorServer) -> None:
        self.server, self.path = server, tmp / "outbox.db"
        self.backend: ServiceNowTickets = self._make()

    def _make(self) -> ServiceNowTickets:
        client = SnowClient(self.server.url, user="netvigil", password="netvigil", timeout_s=2)
        return ServiceNowTickets(client, self.path, poll_s=0.2, backoff_s=0.05, max_backoff_s=0.5)

    def settle(self) -> None:
        self.backend.flush(30)

    def _records(self, table: str) -> list[dict[str, str]]:
        return list(self.server.state.tables[table].values())

    def remote_tickets(self, correlation_id: str) -> list[dict[str, Any]]:
        states = {"6": "resolved", "7": "resolved"}
        return [
            {**r, "state": states.get(r["state"], "open")}
            for r in self._records("incident")
            if r["correlation_id"] == correlation_id
        ]

    def remote_notes(self, correlation_id: str) -> list[str]:
        (rec,) = self.remote_tickets(correlation_id)
        return [n.split("\n[netvigil op")[0] for n in self.server.state.journal(rec["sys_id"])]

    def _human(self, table: str, correlation_id: str, values: dict[str, str]) -> None:
        (rec,) = [r for r in self._records(table) if r["correlation_id"] == correlation_id]
        self.server.state.update(table, rec, values, "alice")

    def human_resolve(self, correlation_id: str, close_code: str = "") -> None:
        values = {"state": "6", "close_notes": "alice fixed it"}
        if close_code:
            values["close_code"] = close_code
        self._human("incident", correlation_id, values)

    def human_judge(self, correlation_id: str, close_code: str) -> None:
        self._human("incident", correlation_id, {"close_code": close_code})

    def remote_problem(self, correlation_id: str) -> tuple[str, str]:
        (rec,) = [r for r in self._records("problem") if r["correlation_id"] == correlation_id]
        return ("resolved" if rec["state"] == "107" else "open"), rec.get("resolution_code", "")

    def human_decide(self, correlation_id: str, approved: bool) -> None:
        self._human(
            "change_request", correlation_id, {"approval": "approved" if approved else "rejected"}
        )

    def remote_approval(self, correlation_id: str) -> str:
        """The change's approval as ServiceNow holds it, checked against its approval
        records: every decided record agrees with it."""
        (rec,) = [
            r for r in self._records("change_request") if r["correlation_id"] == correlation_id
        ]
        votes = {
            a["state"]
            for a in self._records("sysapproval_approver")
            if a["sysapproval"] == rec["sys_id"]
        }
        assert votes <= {rec["approval"], "requested"}, (votes, rec["approval"])
        return rec["approval"]

    def reopen(self) -> None:
        self.backend.close()
        self.backend = self._make()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    server.state.insert("cmdb_ci", {"name": "r1", "sys_class_name": "cmdb_ci_ip_router"})
    yield server
    server.stop()


@pytest.fixture(params=["local", "servicenow"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    h: Harness
    if request.param == "local":
        h = LocalHarness(tmp_path)
    else:
        emulator = request.getfixturevalue("emulator")
        emulator.faults()
        h = SnowHarness(tmp_path, emulator)
    yield h
    h.backend.close()


def _corr(request: pytest.FixtureRequest, suffix: str = "") -> str:
    return f"{request.node.name}{suffix}"


def test_open_is_idempotent_and_survives_restart(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    first = harness.backend.open(corr, "Link down r1-r2", "evidence", severity="major", ts=1.0)
    again = harness.backend.open(corr, "Link down r1-r2", "evidence", severity="major", ts=2.0)
    assert again.id == first.id and first.state == "open" and first.correlation_id == corr
    harness.settle()
    harness.reopen()
    assert harness.backend.open(corr, "Link down", "x", severity="major", ts=3.0).id == first.id
    harness.settle()
    assert len(harness.remote_tickets(corr)) == 1
    found = harness.backend.find(corr)
    assert found is not None and found.number not in ("", "pending")


def test_notes_and_resolve(harness: Harness, request: pytest.FixtureRequest) -> None:
    corr = _corr(request)
    t = harness.backend.open(corr, "BGP flap", "evidence", severity="minor", ts=1.0)
    harness.backend.add_note(t, "evidence: 3 flaps", ts=2.0)
    resolved = harness.backend.resolve(t, "verified: session stable", ts=3.0)
    assert resolved.state == "resolved"
    assert harness.backend.resolve(resolved, "again", ts=4.0).state == "resolved"
    assert harness.backend.notes(t) == ["evidence: 3 flaps", "verified: session stable"]
    harness.settle()
    (remote,) = harness.remote_tickets(corr)
    assert remote["state"] == "resolved"
    assert harness.remote_notes(corr) == ["evidence: 3 flaps", "verified: session stable"]


def test_reopen_a_resolved_ticket(harness: Harness, request: pytest.FixtureRequest) -> None:
    corr = _corr(request)
    t = harness.backend.open(corr, "Link down", "evidence", severity="major", ts=1.0)
    assert harness.backend.reopen(t, "not resolved: nothing to reopen", ts=1.5).state == "open"
    t = harness.backend.resolve(t, "recovered", ts=2.0)
    again = harness.backend.reopen(t, "the link is down again", ts=3.0)
    assert again.state == "open" and again.id == t.id
    assert harness.backend.reopen(again, "twice", ts=4.0).state == "open"
    assert harness.backend.notes(t) == ["recovered", "the link is down again"]
    harness.settle()
    (remote,) = harness.remote_tickets(corr)
    assert remote["state"] == "open"
    assert harness.remote_notes(corr) == ["recovered", "the link is down again"]


def test_changes_kinds_idempotency_and_updates(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    harness.backend.open(corr, "Congestion r1-r2", "e", severity="major", ts=1.0)
    kw: dict[str, Any] = {"incident": corr, "description": "twin: 0.95 -> 0.60", "ts": 2.0}
    normal = harness.backend.open_change(
        corr + "/n", kind="normal", title="reset", devices=["r1"], **kw
    )
    std = harness.backend.open_change(
        corr + "/s", kind="standard", title="qos", devices=["r1", "r2"], **kw
    )
    again = harness.backend.open_change(
        corr + "/n", kind="normal", title="reset", devices=["r1"], **kw
    )
    assert (normal.state, std.state, again.id) == ("requested", "approved", normal.id)
    done = harness.backend.update_change(std, "implemented", "executed", ts=3.0)
    assert done.state == "implemented"
    harness.settle()
    assert harness.backend.sync() == []  # NetVigil's own changes are not human updates
    assert harness.backend.find_change(corr + "/s").state == "implemented"  # type: ignore[union-attr]


def test_sync_reports_human_decisions_once(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    harness.backend.open(corr, "Link down", "e", severity="major", ts=1.0)
    kw: dict[str, Any] = {
        "incident": corr,
        "kind": "normal",
        "title": "t",
        "description": "d",
        "devices": ["r1"],
        "ts": 2.0,
    }
    harness.backend.open_change(corr + "/a", **kw)
    harness.backend.open_change(corr + "/r", **kw)
    harness.settle()
    harness.human_decide(corr + "/a", approved=True)
    harness.human_decide(corr + "/r", approved=False)
    harness.human_resolve(corr)
    harness.settle()
    updates = {(u.kind, u.correlation_id) for u in harness.backend.sync()}
    assert updates == {
        ("change_approved", corr + "/a"),
        ("change_rejected", corr + "/r"),
        ("incident_resolved", corr),
    }
    harness.settle()
    assert harness.backend.sync() == []
    assert harness.backend.find_change(corr + "/a").state == "approved"  # type: ignore[union-attr]
    assert harness.backend.find(corr).state == "resolved"  # type: ignore[union-attr]


def _two_changes(harness: Harness, corr: str) -> None:
    harness.backend.open(corr, "Link down", "e", severity="major", ts=1.0)
    for suffix in ("/a", "/r"):
        harness.backend.open_change(
            corr + suffix,
            incident=corr,
            kind="normal",
            title="t",
            description="d",
            devices=["r1"],
            ts=2.0,
        )
    harness.settle()


def test_a_decision_through_netvigil_is_made_in_the_ticket_system_once(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    _two_changes(harness, corr)
    assert harness.remote_approval(corr + "/a") in ("requested",)
    harness.backend.decide_change(corr + "/a", True, "otto")
    harness.backend.decide_change(corr + "/r", False, "olga")
    with pytest.raises(ChangeDecided):
        harness.backend.decide_change(corr + "/a", False, "olga")  # the first decision won
    with pytest.raises(ChangeDecided):
        harness.backend.decide_change(corr + "/nothing", True, "otto")
    harness.settle()
    assert harness.remote_approval(corr + "/a") == "approved"
    assert harness.remote_approval(corr + "/r") == "rejected"
    updates = {(u.kind, u.correlation_id, u.note) for u in harness.backend.sync()}
    assert updates == {
        ("change_approved", corr + "/a", "otto"),
        ("change_rejected", corr + "/r", "olga"),
    }
    harness.settle()
    assert harness.backend.sync() == []
    assert harness.backend.find_change(corr + "/a").state == "approved"  # type: ignore[union-attr]


def test_a_decision_taken_in_the_ticket_system_first_wins(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    _two_changes(harness, corr)
    harness.human_decide(corr + "/a", approved=False)  # in the ticket system, not yet polled
    with contextlib.suppress(ChangeDecided):  # refused at once, or overruled when it arrives
        harness.backend.decide_change(corr + "/a", True, "otto")
    harness.settle()
    assert harness.remote_approval(corr + "/a") == "rejected"
    (upd,) = harness.backend.sync()
    assert (upd.kind, upd.correlation_id) == ("change_rejected", corr + "/a")
    assert harness.backend.find_change(corr + "/a").state == "rejected"  # type: ignore[union-attr]


def test_problems_for_risks_open_note_and_close_once(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    from netvigil.resolvers.base import ProblemDesk

    desk = harness.backend
    assert isinstance(desk, ProblemDesk)
    corr = _corr(request)
    p = desk.open_problem(corr, "NetVigil risk: saturation of r1:eth0", "expected 14:38", ts=1.0)
    assert desk.open_problem(corr, "again", "x", ts=2.0).id == p.id and p.state == "open"
    assert desk.find(corr) is None  # a problem, not an incident
    desk.note_problem(p, "Preemptive qos_adjust at level 2", ts=3.0)
    closed = desk.close_problem(p, "averted", "the twin says it would have saturated", ts=4.0)
    assert closed.state == "resolved"
    assert desk.close_problem(closed, "false", "twice", ts=5.0).state == "resolved"
    harness.settle()
    assert harness.remote_problem(corr) == ("resolved", "averted")


def test_close_codes_come_back_with_resolutions_and_later_judgements(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    corr = _corr(request)
    harness.backend.open(corr, "Congestion", "e", severity="minor", ts=1.0)
    done = _corr(request, "/done")
    t = harness.backend.open(done, "Congestion", "e", severity="minor", ts=1.0)
    harness.backend.resolve(t, "recovered", ts=2.0)  # NetVigil resolved this one itself
    harness.settle()
    harness.human_resolve(corr, close_code="False positive")
    harness.human_judge(done, "Not Solved (Not Reproducible)")
    harness.settle()
    got = {(u.kind, u.correlation_id, u.close_code) for u in harness.backend.sync()}
    assert got == {
        ("incident_resolved", corr, "False positive"),
        ("incident_judged", done, "Not Solved (Not Reproducible)"),
    }
    harness.settle()
    assert harness.backend.sync() == []  # each once
