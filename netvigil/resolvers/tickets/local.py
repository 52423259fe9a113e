"""The local ticket backend (``local://``): tickets in SQLite, the embedded default."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from netvigil.resolvers.base import Ticket

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
"""


class LocalTickets:
    """A TicketBackend in one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.executescript(_SCHEMA)

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
        with self._db:
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

    def notes(self, ticket: Ticket) -> list[str]:
        rows = self._db.execute(
            "SELECT text FROM notes WHERE ticket_id = ? ORDER BY rowid", (int(ticket.id),)
        ).fetchall()
        return [r[0] for r in rows]

    def all(self) -> list[Ticket]:
        rows = self._db.execute("SELECT id, correlation_id, title, state FROM tickets ORDER BY id")
        return [self._ticket(r) for r in rows.fetchall()]

    def close(self) -> None:
        self._db.close()
