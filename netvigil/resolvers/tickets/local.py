"""The local ticket backend (``local://``): tickets, problems and change requests in SQLite,
the embedded default. Humans act on it through the CLI (``netvigil change approve``), and
:meth:`LocalTickets.sync` reports what they did, once, like polling ServiceNow would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netvigil.resolvers.base import (
    ChangeDecided,
    ChangeKind,
    ChangeRecord,
    ChangeState,
    SyncUpdate,
    Ticket,
)
from netvigil.resolvers.sqlitedb import connect
from netvigil.resolvers.tickets.migrate import add_column

__all__ = ["LocalTickets"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_ts REAL NOT NULL,
    resolved_ts REAL
);
CREATE TABLE IF NOT EXISTS notes (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    ts REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id TEXT NOT NULL UNIQUE,
    incident TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    devices TEXT NOT NULL,
    opened_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS change_notes (change_id INTEGER NOT NULL, ts REAL NOT NULL,
    text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS human_updates (id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, correlation_id TEXT NOT NULL, number TEXT NOT NULL, note TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS problems (id INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, description TEXT NOT NULL,
    state TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', opened_ts REAL NOT NULL,
    closed_ts REAL);
CREATE TABLE IF NOT EXISTS problem_notes (problem_id INTEGER NOT NULL, ts REAL NOT NULL,
    text TEXT NOT NULL);
"""


class LocalTickets:
    """A TicketBackend in one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        add_column(self._db, "human_updates", "close_code", "TEXT NOT NULL DEFAULT ''")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One transaction (the connection autocommits each statement otherwise)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @staticmethod
    def _ticket(row: tuple[int, str, str, str]) -> Ticket:
        rid, corr, title, state = row
        return Ticket(
            id=str(rid),
            number=f"NVI{rid:07d}",
            correlation_id=corr,
            state="resolved" if state == "resolved" else "open",
            title=title,
        )

    def find(self, correlation_id: str) -> Ticket | None:
        row = self._db.execute(
            "SELECT id, correlation_id, title, state FROM tickets WHERE correlation_id = ?",
            (correlation_id,),
        ).fetchone()
        return self._ticket(row) if row else None

    def open(
        self, correlation_id: str, title: str, description: str, *, severity: str, ts: float
    ) -> Ticket:
        self._db.execute(
            "INSERT OR IGNORE INTO tickets (correlation_id, title, description, severity, state,"
            " opened_ts) VALUES (?, ?, ?, ?, 'open', ?)",
            (correlation_id, title, description, severity, ts),
        )
        found = self.find(correlation_id)
        assert found is not None
        return found

    def add_note(self, ticket: Ticket, text: str, *, ts: float) -> None:
        self._db.execute(
            "INSERT INTO notes (ticket_id, ts, text) VALUES (?, ?, ?)", (int(ticket.id), ts, text)
        )

    def resolve(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        with self._tx():
            cur = self._db.execute(
                "UPDATE tickets SET state = 'resolved', resolved_ts = ? "
                "WHERE id = ? AND state != 'resolved'",
                (ts, int(ticket.id)),
            )
            if cur.rowcount:
                self.add_note(ticket, note, ts=ts)
        found = self.find(ticket.correlation_id)
        assert found is not None
        return found

    def reopen(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        with self._tx():
            cur = self._db.execute(
                "UPDATE tickets SET state = 'open', resolved_ts = NULL "
                "WHERE id = ? AND state = 'resolved'",
                (int(ticket.id),),
            )
            if cur.rowcount:
                self.add_note(ticket, note, ts=ts)
        found = self.find(ticket.correlation_id)
        assert found is not None
        return found

    def notes(self, ticket: Ticket) -> list[str]:
        rows = self._db.execute(
            "SELECT text FROM notes WHERE ticket_id = ? ORDER BY rowid", (int(ticket.id),)
        ).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ changes

    @staticmethod
    def _change(row: tuple[int, str, str, str, str]) -> ChangeRecord:
        rid, corr, kind, state, title = row
        return ChangeRecord(
            id=str(rid),
            number=f"NVC{rid:07d}",
            correlation_id=corr,
            kind=kind,  # type: ignore[arg-type]
            state=state,  # type: ignore[arg-type]
            title=title,
        )

    def open_change(
        self,
        correlation_id: str,
        *,
        incident: str,
        kind: ChangeKind,
        title: str,
        description: str,
        devices: list[str],
        ts: float,
    ) -> ChangeRecord:
        state = "approved" if kind == "standard" else "requested"
        self._db.execute(
            "INSERT OR IGNORE INTO changes (correlation_id, incident, kind, state, title,"
            " description, devices, opened_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (correlation_id, incident, kind, state, title, description, ",".join(devices), ts),
        )
        found = self.find_change(correlation_id)
        assert found is not None
        return found

    def find_change(self, correlation_id: str) -> ChangeRecord | None:
        row = self._db.execute(
            "SELECT id, correlation_id, kind, state, title FROM changes WHERE correlation_id = ?",
            (correlation_id,),
        ).fetchone()
        return self._change(row) if row else None

    def update_change(
        self, change: ChangeRecord, state: ChangeState, note: str, *, ts: float
    ) -> ChangeRecord:
        with self._tx():
            self._db.execute("UPDATE changes SET state = ? WHERE id = ?", (state, int(change.id)))
            self._db.execute(
                "INSERT INTO change_notes VALUES (?, ?, ?)", (int(change.id), ts, note)
            )
        found = self.find_change(change.correlation_id)
        assert found is not None
        return found

    def change_notes(self, change: ChangeRecord) -> list[str]:
        rows = self._db.execute(
            "SELECT text FROM change_notes WHERE change_id = ? ORDER BY rowid", (int(change.id),)
        ).fetchall()
        return [r[0] for r in rows]

    def changes(self) -> list[ChangeRecord]:
        rows = self._db.execute("SELECT id, correlation_id, kind, state, title FROM changes")
        return [self._change(r) for r in rows.fetchall()]

    def change_by_number(self, number: str) -> ChangeRecord | None:
        """The change numbered ``number`` (``NVC0000001``), as the CLI names it."""
        digits = number.upper().removeprefix("NVC")
        if not digits.isdigit():
            return None
        row = self._db.execute(
            "SELECT id, correlation_id, kind, state, title FROM changes WHERE id = ?",
            (int(digits),),
        ).fetchone()
        return self._change(row) if row else None

    def decide_change(self, correlation_id: str, approved: bool, who: str) -> ChangeRecord:
        """Approve or reject a requested change (console, CLI); :meth:`sync` reports it once.
        The state moves only from ``requested``, in one transaction: the first decision wins."""
        state = "approved" if approved else "rejected"
        with self._tx():
            cur = self._db.execute(
                "UPDATE changes SET state = ? WHERE correlation_id = ? AND state = 'requested'",
                (state, correlation_id),
            )
            change = self.find_change(correlation_id)
            if change is None:
                raise ChangeDecided(f"no change for {correlation_id}")
            if not cur.rowcount:
                raise ChangeDecided(f"change {change.number} is {change.state}, not requested")
            self._db.execute(
                "INSERT INTO human_updates (kind, correlation_id, number, note)"
                " VALUES (?, ?, ?, ?)",
                (f"change_{state}", correlation_id, change.number, who),
            )
        return change

    def resolve_by_human(self, correlation_id: str, who: str, close_code: str = "") -> None:
        ticket = self.find(correlation_id)
        if ticket is None:
            raise KeyError(f"no ticket for {correlation_id}")
        self.resolve(ticket, f"Resolved by {who}", ts=0.0)
        self._human("incident_resolved", correlation_id, ticket.number, who, close_code)

    def judge_by_human(self, correlation_id: str, who: str, close_code: str) -> None:
        """A human sets ``close_code`` on an incident's ticket after it was resolved."""
        ticket = self.find(correlation_id)
        if ticket is None:
            raise KeyError(f"no ticket for {correlation_id}")
        self._human("incident_judged", correlation_id, ticket.number, who, close_code)

    def _human(self, kind: str, corr: str, number: str, who: str, close_code: str) -> None:
        self._db.execute(
            "INSERT INTO human_updates (kind, correlation_id, number, note, close_code)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, corr, number, who, close_code),
        )

    def sync(self) -> list[SyncUpdate]:
        with self._tx():
            rows = self._db.execute(
                "SELECT id, kind, correlation_id, number, note, close_code FROM human_updates"
                " WHERE reported = 0 ORDER BY id"
            ).fetchall()
            self._db.executemany(
                "UPDATE human_updates SET reported = 1 WHERE id = ?", [(r[0],) for r in rows]
            )
        return [SyncUpdate(r[1], r[2], r[3], r[4], r[5]) for r in rows]

    # ------------------------------------------------------------------ problems

    @staticmethod
    def _problem(row: tuple[int, str, str, str]) -> Ticket:
        rid, corr, title, state = row
        return Ticket(
            id=str(rid),
            number=f"NVP{rid:07d}",
            correlation_id=corr,
            state="resolved" if state == "closed" else "open",
            title=title,
        )

    def open_problem(
        self, correlation_id: str, title: str, description: str, *, ts: float
    ) -> Ticket:
        self._db.execute(
            "INSERT OR IGNORE INTO problems (correlation_id, title, description, state,"
            " opened_ts) VALUES (?, ?, ?, 'open', ?)",
            (correlation_id, title, description, ts),
        )
        found = self.find_problem(correlation_id)
        assert found is not None
        return found

    def find_problem(self, correlation_id: str) -> Ticket | None:
        row = self._db.execute(
            "SELECT id, correlation_id, title, state FROM problems WHERE correlation_id = ?",
            (correlation_id,),
        ).fetchone()
        return self._problem(row) if row else None

    def note_problem(self, ticket: Ticket, text: str, *, ts: float) -> None:
        self._db.execute("INSERT INTO problem_notes VALUES (?, ?, ?)", (int(ticket.id), ts, text))

    def close_problem(self, ticket: Ticket, code: str, note: str, *, ts: float) -> Ticket:
        with self._tx():
            cur = self._db.execute(
                "UPDATE problems SET state = 'closed', code = ?, closed_ts = ?"
                " WHERE id = ? AND state != 'closed'",
                (code, ts, int(ticket.id)),
            )
            if cur.rowcount:
                self.note_problem(ticket, note, ts=ts)
        found = self.find_problem(ticket.correlation_id)
        assert found is not None
        return found

    def problem_notes(self, ticket: Ticket) -> list[str]:
        rows = self._db.execute(
            "SELECT text FROM problem_notes WHERE problem_id = ? ORDER BY rowid", (int(ticket.id),)
        ).fetchall()
        return [r[0] for r in rows]

    def problem_code(self, ticket: Ticket) -> str:
        row = self._db.execute("SELECT code FROM problems WHERE id = ?", (int(ticket.id),))
        got = row.fetchone()
        return str(got[0]) if got else ""

    def all(self) -> list[Ticket]:
        rows = self._db.execute("SELECT id, correlation_id, title, state FROM tickets ORDER BY id")
        return [self._ticket(r) for r in rows.fetchall()]

    def close(self) -> None:
        self._db.close()
