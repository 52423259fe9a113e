"""A process that dies anywhere while applying an incident revision leaves stores that the next
start repairs: afterwards every incident, its ticket and its audit records agree, and no ticket
step or audit record was done twice or lost.

The crash is simulated at every write the coordinator makes (incident store, ticket backend,
audit log), right after the write completed: the next write never happens, as with kill -9.
The files are then reopened by a new service, as a restart does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.kill_restart import check_stores
from netvigil.config import load_settings
from netvigil.events import AuditRecord
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service
from tests.unit.resolvers.test_coordinator import incident

#: a life that takes every ticket step: open, resolve, reopen, note, resolve
LIFE = [
    incident(1),
    incident(2, status="resolved"),
    incident(3),
    incident(4, rc="a"),
    incident(5, status="resolved", rc="a"),
]
ACTIONS = [
    "incident.opened",
    "incident.resolved",
    "incident.reopened",
    "incident.updated",
    "incident.resolved",
]
WRITES = {
    "incidents": ("intend", "commit", "put"),
    "tickets": ("open", "reopen", "resolve", "add_note"),
    "audit": ("append",),
}


class Crash(BaseException):
    """kill -9: nothing after this point runs (not an Exception: no handler catches it)."""


def _crash(*args: object, **kwargs: object) -> None:
    raise Crash


class Stores:
    def __init__(self, data: Path) -> None:
        self.incidents = IncidentStore(data / "incidents.db")
        self.tickets = LocalTickets(data / "tickets.db")
        self.audit = AuditLog(data / "audit.db")
        self.writes = 0

    def crash_after(self, n: int | None) -> None:
        """Count the writes; let ``n`` happen, then crash right after the last (None: never)."""
        for name, methods in WRITES.items():
            obj = getattr(self, name)
            for m in methods:
                setattr(obj, m, self._counted(getattr(obj, m), n))

    def _counted(self, fn, n: int | None):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            out = fn(*a, **kw)
            self.writes += 1
            if self.writes == n:
                raise Crash
            return out

        return wrapper

    def coordinator(self) -> CoordinatorProcessor:
        return CoordinatorProcessor(self.incidents, self.tickets, self.audit)

    def close(self) -> None:
        self.incidents.close()
        self.tickets.close()
        self.audit.close()


async def live(data: Path, crash_after: int | None = None) -> int:
    """Apply LIFE, crashing after ``crash_after`` writes; returns the writes done."""
    stores = Stores(data)
    stores.crash_after(crash_after)
    coord = stores.coordinator()
    try:
        for inc in LIFE:
            await coord.process(inc, None)
    except Crash:
        pass
    finally:
        stores.close()
    return stores.writes


async def test_every_crash_point_is_repaired_at_the_next_start(tmp_path: Path) -> None:
    base = tmp_path / "count"
    base.mkdir()
    writes = await live(base)
    assert writes > 2 * len(LIFE)  # every revision wrote to several stores
    for n in range(1, writes + 1):
        data = tmp_path / f"crash-{n}"
        data.mkdir()
        assert await live(data, crash_after=n) == n
        restart = Stores(data)  # what the service's build does first at a start
        restart.coordinator().recover()
        restart.close()
        found = check_stores(data)
        assert found["disagreements"] == [], (n, found)
        # the redelivered revisions (at-least-once: the incidents topic is replayed) finish it
        await live(data)
        found = check_stores(data)
        assert found["disagreements"] == [] and found["audit_ok"], (n, found)
        audit = AuditLog(data / "audit.db")
        assert [r.action for r in audit.records()] == ACTIONS, n  # each step exactly once
        audit.close()
        tickets = LocalTickets(data / "tickets.db")
        (ticket,) = tickets.all()
        notes = tickets.notes(ticket)
        assert len(notes) == len(set(notes)) == 4, n  # resolve, reopen, note, resolve
        tickets.close()


async def test_the_service_recovers_when_it_is_built(tmp_path: Path) -> None:
    stores = Stores(tmp_path)
    coord = stores.coordinator()
    await coord.process(LIFE[0], None)
    stores.audit.append = _crash  # type: ignore[method-assign]
    with pytest.raises(Crash):  # revision 2: its intent and the ticket resolved, no audit
        await coord.process(LIFE[1], None)
    stores.close()
    assert (
        "incident fp1 is open, its ticket NVI0000001 is resolved"
        in (check_stores(tmp_path)["disagreements"])
    )
    svc = Service.build(load_settings(), data_dir=tmp_path)
    svc.close()
    found = check_stores(tmp_path)
    assert found["disagreements"] == [] and found["audit_ok"], found


async def test_recovery_reports_what_it_finished(tmp_path: Path) -> None:
    await live(tmp_path, crash_after=2)  # the intent of revision 1 and its ticket: no audit
    stores = Stores(tmp_path)
    coord = stores.coordinator()
    records = coord.recover()
    assert [r.action for r in records if isinstance(r, AuditRecord)] == ["incident.opened"]
    assert coord.ticketing.done["recovered"] == 1
    assert stores.incidents.intents() == []
    got = stores.incidents.get("fp1")
    assert got is not None and got[0].revision == 1 and got[1] == "NVI0000001"
    assert coord.recover() == []  # nothing left
    stores.close()


async def test_stale_and_repeated_revisions_are_counted(tmp_path: Path) -> None:
    stores = Stores(tmp_path)
    coord = stores.coordinator()
    for inc in LIFE[:3]:
        await coord.process(inc, None)
    assert await coord.process(LIFE[2], None) == []
    assert await coord.process(LIFE[0], None) == []
    assert dict(coord.ignored.counts) == {"repeated_revision": 1, "stale_revision": 1}
    stores.close()
