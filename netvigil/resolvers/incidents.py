"""The incident store of the embedded runtime: the latest revision of each incident, in SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from netvigil.events import Incident, decode_as, encode

__all__ = ["IncidentStore"]


class IncidentStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS incidents (fingerprint TEXT PRIMARY KEY,"
            " revision INTEGER NOT NULL, status TEXT NOT NULL, opened_ts REAL NOT NULL,"
            " updated_ts REAL NOT NULL, ticket TEXT, body BLOB NOT NULL)"
        )

    def get(self, fingerprint: str) -> tuple[Incident, str | None] | None:
        row = self._db.execute(
            "SELECT body, ticket FROM incidents WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        if row is None:
            return None
        inc = decode_as(row[0], Incident)
        assert isinstance(inc, Incident)
        return inc, row[1]

    def put(self, incident: Incident, ticket: str | None) -> None:
        self._db.execute(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE"
            " SET revision = excluded.revision, status = excluded.status,"
            " updated_ts = excluded.updated_ts, ticket = COALESCE(excluded.ticket, ticket),"
            " body = excluded.body",
            (
                incident.fingerprint,
                incident.revision,
                incident.status,
                incident.opened_ts,
                incident.ts,
                ticket,
                encode(incident),
            ),
        )

    def list(self, status: str | None = None) -> list[tuple[Incident, str | None]]:
        sql = "SELECT body, ticket FROM incidents"
        args: tuple[str, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        out = []
        for body, ticket in self._db.execute(sql + " ORDER BY opened_ts", args).fetchall():
            inc = decode_as(body, Incident)
            assert isinstance(inc, Incident)
            out.append((inc, ticket))
        return out

    def close(self) -> None:
        self._db.close()
