"""The coordinator: one ticket per incident, notes on changes, idempotent on redelivery."""

from __future__ import annotations

from netvigil.events import AnomalyRef, AuditRecord, Incident, RootCause
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets


def incident(rev: int, status: str = "open", rc: str = "a--b", ts: float = 100.0) -> Incident:
    return Incident(
        ts=ts + rev,
        fingerprint="fp1",
        status=status,
        revision=rev,
        opened_ts=ts,
        title=f"link {rc} down",
        severity="major",
        root_causes=[
            RootCause(entity=rc, kind="link", score=0.9, fault="down", evidence=["a:1 down (1.00)"])
        ],
        anomalies=[
            AnomalyRef(entity="a:1", signal="if.oper_status", kind="down", score=1.0, onset_ts=ts)
        ],
        impact=["a", "b"],
    )


def make() -> tuple[CoordinatorProcessor, LocalTickets, AuditLog, IncidentStore]:
    tickets, audit, store = LocalTickets(), AuditLog(), IncidentStore()
    return CoordinatorProcessor(store, tickets, audit), tickets, audit, store


async def test_lifecycle_one_ticket_notes_and_resolution() -> None:
    coord, tickets, audit, store = make()
    out = await coord.process(incident(1), None)
    assert [r.action for r in out if isinstance(r, AuditRecord)] == ["incident.opened"]
    await coord.process(incident(2, rc="a"), None)  # root cause changed: a note
    await coord.process(incident(3, rc="a"), None)  # same root cause: nothing new
    out = await coord.process(incident(4, status="resolved", rc="a"), None)
    assert [r.action for r in out if isinstance(r, AuditRecord)] == ["incident.resolved"]
    all_tickets = tickets.all()
    assert len(all_tickets) == 1 and all_tickets[0].state == "resolved"
    notes = tickets.notes(all_tickets[0])
    assert notes[0].startswith("Root cause updated.") and "device a" not in notes[0].lower()[:0]
    assert notes[-1].startswith("All signals recovered")
    assert [r.action for r in audit.records()] == [
        "incident.opened",
        "incident.updated",
        "incident.resolved",
    ]
    assert audit.verify().ok
    got = store.get("fp1")
    assert got is not None and got[0].revision == 4 and got[1] == all_tickets[0].number


async def test_redelivered_and_stale_revisions_change_nothing() -> None:
    coord, tickets, audit, _ = make()
    await coord.process(incident(1), None)
    await coord.process(incident(2), None)
    assert await coord.process(incident(1), None) == []
    assert await coord.process(incident(2), None) == []
    assert len(tickets.all()) == 1
    assert len(audit.records()) == 1


async def test_ticket_survives_a_crash_between_ticket_and_store() -> None:
    """If the store write was lost, the redelivered incident finds the ticket by correlation."""
    coord, tickets, _audit, _ = make()
    tickets.open("fp1", "t", "d", severity="major", ts=0.0)
    await coord.process(incident(1), None)
    assert len(tickets.all()) == 1


def test_local_tickets_are_idempotent_by_correlation_id() -> None:
    t = LocalTickets()
    a = t.open("x", "title", "desc", severity="minor", ts=1.0)
    b = t.open("x", "other", "desc", severity="minor", ts=2.0)
    assert a == b and a.number == "NVI0000001"
    r1 = t.resolve(a, "done", ts=3.0)
    r2 = t.resolve(a, "done again", ts=4.0)
    assert r1.state == r2.state == "resolved"
    assert t.notes(a) == ["done"]


async def test_an_incident_that_comes_back_reopens_its_ticket() -> None:
    coord, tickets, audit, _ = make()
    await coord.process(incident(1), None)
    await coord.process(incident(2, status="resolved"), None)
    out = await coord.process(incident(3), None)  # the same fault again: the incident reopens
    assert [r.action for r in out if isinstance(r, AuditRecord)] == ["incident.reopened"]
    (ticket,) = tickets.all()
    assert ticket.state == "open"
    assert tickets.notes(ticket)[-1].startswith("The incident is back")
    await coord.process(incident(4, status="resolved"), None)
    assert tickets.all()[0].state == "resolved"
    assert [r.action for r in audit.records()] == [
        "incident.opened",
        "incident.resolved",
        "incident.reopened",
        "incident.resolved",
    ]
    assert audit.verify().ok


async def test_a_ticket_a_human_resolved_stays_resolved_while_the_incident_is_open() -> None:
    coord, tickets, _audit, _ = make()
    await coord.process(incident(1), None)
    (ticket,) = tickets.all()
    tickets.resolve(ticket, "alice: known, ignore", ts=101.0)
    out = await coord.process(incident(2, rc="a"), None)
    assert "incident.reopened" not in [r.action for r in out if isinstance(r, AuditRecord)]
    assert tickets.all()[0].state == "resolved"
