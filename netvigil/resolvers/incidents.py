"""The incident store: the latest applied revision of each incident, in SQLite, and the one
revision being applied.

It is the coordinator's source of truth. Applying a revision touches three stores (the ticket
system, the audit log, this one), which are separate files and, for ServiceNow, a separate
system, so no one transaction can hold them. Instead the coordinator writes its *intent* here
first (the revision and the ticket steps it decided, :meth:`IncidentStore.intend`), then
performs the steps, then commits the revision and drops the intent in one transaction
(:meth:`IncidentStore.commit`). A process that dies in between leaves the intent behind, and
the next start finishes it (:meth:`~netvigil.resolvers.coordinator.CoordinatorProcessor.
recover`): so after any crash the three stores can be brought to agree.

Every write is a committed SQLite transaction in WAL mode with ``synchronous=FULL``: committed
means on disk, so the order of the writes (intent, ticket, audit, commit) holds across a
power cut as it does across ``kill -9``.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

from netvigil.events import Incident, decode_as, encode
from netvigil.resolvers.sqlitedb import connect

__all__ = ["IncidentStore"]


class IncidentStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path, wal=True)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS incidents (fingerprint TEXT PRIMARY KEY,"
            " revision INTEGER NOT NULL, status TEXT NOT NULL, opened_ts REAL NOT NULL,"
            " updated_ts REAL NOT NULL, ticket TEXT, body BLOB NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS intents (fingerprint TEXT PRIMARY KEY,"
            " revision INTEGER NOT NULL, steps TEXT NOT NULL, body BLOB NOT NULL)"
        )

    def get(self, fingerprint: str) -> tuple[Incident, str | None] | None:
        row = self._db.execute(
            "SELECT body, ticket FROM incidents WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        if row is None:
            return None
        return _incident(row[0]), row[1]

    def put(self, incident: Incident, ticket: str | None) -> None:
        """Store ``incident`` as the applied revision (the intent, if any, stays)."""
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

    # ------------------------------------------------------------------ intents

    def intend(self, incident: Incident, steps: list[str]) -> None:
        """Record that ``incident`` is being applied with these ticket ``steps``."""
        self._db.execute(
            "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)",
            (incident.fingerprint, incident.revision, json.dumps(steps), encode(incident)),
        )

    def commit(self, incident: Incident, ticket: str | None) -> None:
        """Store ``incident`` as applied and drop its intent, in one transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self.put(incident, ticket)
            self._db.execute(
                "DELETE FROM intents WHERE fingerprint = ? AND revision = ?",
                (incident.fingerprint, incident.revision),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def intents(self) -> list[tuple[Incident, list[str]]]:
        """Revisions a process began to apply and did not commit (it died), oldest first."""
        rows = self._db.execute("SELECT body, steps FROM intents ORDER BY rowid").fetchall()
        return [(_incident(body), list(json.loads(steps))) for body, steps in rows]

    # ------------------------------------------------------------------ reading

    def list(self, status: str | None = None) -> list[tuple[Incident, str | None]]:
        sql = "SELECT body, ticket FROM incidents"
        args: tuple[str, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        rows = self._db.execute(sql + " ORDER BY opened_ts", args).fetchall()
        return [(_incident(body), ticket) for body, ticket in rows]

    def resumable(self, reopen_s: float) -> builtins.list[Incident]:
        """What a correlator that lost its memory must know again: every open incident, and
        every resolved one updated within ``reopen_s`` of the newest update (its symptoms
        coming back reopen it)."""
        rows = self._db.execute(
            "SELECT body FROM incidents WHERE status = 'open' OR updated_ts >="
            " (SELECT max(updated_ts) FROM incidents) - ? ORDER BY opened_ts",
            (reopen_s,),
        ).fetchall()
        return [_incident(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Incidents by status."""
        rows = self._db.execute("SELECT status, count(*) FROM incidents GROUP BY status")
        return {str(s): int(n) for s, n in rows.fetchall()}

    def close(self) -> None:
        self._db.close()


def _incident(body: bytes) -> Incident:
    inc = decode_as(body, Incident)
    assert isinstance(inc, Incident)
    return inc
