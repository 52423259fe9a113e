"""The durable side of the ServiceNow backend: a SQLite mirror of NetVigil's tickets and
changes, and an outbox of the operations still to send.

Why: ServiceNow can be down, slow or throttling; the resolver must not wait for it nor lose
what it asked for. Every ticket operation is first committed here (one transaction with the
mirror update), then sent by a worker, in order, retried with backoff until ServiceNow has
it. A restart finds the pending operations in the file and carries on. An operation that
ServiceNow rejects for good stays in the table as ``dead`` with the reason.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from netvigil.resolvers.sqlitedb import connect
from netvigil.resolvers.tickets.migrate import add_column

__all__ = ["OutboxOp", "OutboxStore"]

F = TypeVar("F", bound=Callable[..., Any])


def _locked(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(self: OutboxStore, *a: Any, **kw: Any) -> Any:
        with self.lock:
            return fn(self, *a, **kw)

    return wrapper  # type: ignore[return-value]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (correlation_id TEXT PRIMARY KEY, title TEXT NOT NULL,
    state TEXT NOT NULL, sys_id TEXT NOT NULL DEFAULT '', number TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS notes (correlation_id TEXT NOT NULL, ts REAL NOT NULL,
    text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (correlation_id TEXT PRIMARY KEY, kind TEXT NOT NULL,
    state TEXT NOT NULL, title TEXT NOT NULL, sys_id TEXT NOT NULL DEFAULT '',
    number TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    correlation_id TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_ts REAL NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS human_updates (id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, correlation_id TEXT NOT NULL, number TEXT NOT NULL, note TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS problems (correlation_id TEXT PRIMARY KEY, title TEXT NOT NULL,
    state TEXT NOT NULL, sys_id TEXT NOT NULL DEFAULT '', number TEXT NOT NULL DEFAULT '');
"""
_MIRRORS = ("tickets", "changes", "problems")


@dataclass(frozen=True)
class OutboxOp:
    id: int
    kind: str
    """open_incident, note, resolve, reopen, open_change, update_change, decide_change,
    open_problem, problem_note, close_problem"""
    correlation_id: str
    payload: dict[str, Any]
    attempts: int


class OutboxStore:
    """Mirror and outbox in one SQLite file, shared by the caller and the worker thread: one
    connection, every method under one re-entrant lock, so transactions never interleave."""

    def __init__(self, path: str | Path) -> None:
        self.db = connect(path, wal=True, any_thread=True)
        self.db.executescript(_SCHEMA)
        add_column(self.db, "human_updates", "close_code", "TEXT NOT NULL DEFAULT ''")
        self.lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[None]:
        """One atomic transaction (the connection is in autocommit mode otherwise)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @_locked
    def enqueue(self, kind: str, correlation_id: str, payload: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO outbox (kind, correlation_id, payload) VALUES (?, ?, ?)",
            (kind, correlation_id, json.dumps(payload, sort_keys=True)),
        )

    @_locked
    def due(self, now: float) -> OutboxOp | None:
        """The oldest pending operation if it is due (order matters: a note needs its
        ticket), else None."""
        row = self.db.execute(
            "SELECT id, kind, correlation_id, payload, attempts, next_ts FROM outbox"
            " WHERE status = 'pending' ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None or row[5] > now:
            return None
        return OutboxOp(row[0], row[1], row[2], json.loads(row[3]), row[4])

    @_locked
    def next_due(self) -> float | None:
        row = self.db.execute(
            "SELECT next_ts FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 1"
        ).fetchone()
        return None if row is None else float(row[0])

    @_locked
    def started(self, op_id: int) -> None:
        """Count the attempt before sending, so a crash mid-request is known as a retry."""
        self.db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (op_id,))

    @_locked
    def done(self, op_id: int) -> None:
        self.db.execute("UPDATE outbox SET status = 'done', last_error = '' WHERE id = ?", (op_id,))

    @_locked
    def retry(self, op_id: int, next_ts: float, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET next_ts = ?, last_error = ? WHERE id = ?", (next_ts, error, op_id)
        )

    @_locked
    def dead(self, op_id: int, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error, op_id)
        )

    @_locked
    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    @_locked
    def dead_ops(self) -> list[tuple[str, str, str]]:
        return self.db.execute(
            "SELECT kind, correlation_id, last_error FROM outbox WHERE status = 'dead'"
        ).fetchall()

    @_locked
    def pending_kinds(self, correlation_id: str) -> set[str]:
        rows = self.db.execute(
            "SELECT kind FROM outbox WHERE status = 'pending' AND correlation_id = ?",
            (correlation_id,),
        ).fetchall()
        return {r[0] for r in rows}

    # ------------------------------------------------------------------ mirror

    @_locked
    def row(self, table: str, correlation_id: str) -> dict[str, str] | None:
        assert table in _MIRRORS
        cur = self.db.execute(f"SELECT * FROM {table} WHERE correlation_id = ?", (correlation_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return {d[0]: v for d, v in zip(cur.description, row, strict=True)}

    @_locked
    def rows(self, table: str, state: str) -> list[dict[str, str]]:
        assert table in _MIRRORS
        cur = self.db.execute(f"SELECT * FROM {table} WHERE state = ? AND sys_id != ''", (state,))
        return [{d[0]: v for d, v in zip(cur.description, r, strict=True)} for r in cur.fetchall()]

    @_locked
    def set(self, table: str, correlation_id: str, **values: str) -> None:
        assert table in _MIRRORS and values
        cols = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(
            f"UPDATE {table} SET {cols} WHERE correlation_id = ?",
            (*values.values(), correlation_id),
        )

    @_locked
    def human(
        self, kind: str, correlation_id: str, number: str, note: str, close_code: str = ""
    ) -> None:
        self.db.execute(
            "INSERT INTO human_updates (kind, correlation_id, number, note, close_code)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, correlation_id, number, note, close_code),
        )

    @_locked
    def judged(self, correlation_id: str, close_code: str) -> bool:
        """Whether a human's ``close_code`` on this incident was recorded already."""
        row = self.db.execute(
            "SELECT 1 FROM human_updates WHERE correlation_id = ? AND close_code = ?"
            " AND kind IN ('incident_resolved', 'incident_judged')",
            (correlation_id, close_code),
        ).fetchone()
        return row is not None

    @_locked
    def unreported(self) -> list[tuple[str, str, str, str, str]]:
        with self.tx():
            rows = self.db.execute(
                "SELECT id, kind, correlation_id, number, note, close_code FROM human_updates"
                " WHERE reported = 0 ORDER BY id"
            ).fetchall()
            self.db.executemany(
                "UPDATE human_updates SET reported = 1 WHERE id = ?", [(r[0],) for r in rows]
            )
        return [(r[1], r[2], r[3], r[4], r[5]) for r in rows]

    @_locked
    def close(self) -> None:
        self.db.close()
