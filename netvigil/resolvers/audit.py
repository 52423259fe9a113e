"""The hash-chained audit log: every decision and action, tamper-evident.

Each record's hash is ``sha256(prev_hash || canonical JSON of the record body)``; the first
record chains to 64 zeros. :meth:`AuditLog.verify` recomputes the chain and reports any edited,
inserted, deleted or reordered record.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from netvigil.events import AuditRecord

__all__ = ["GENESIS", "AuditLog", "Verification", "record_hash"]

GENESIS = "0" * 64


def record_hash(
    prev_hash: str,
    seq: int,
    ts: float,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> str:
    body = msgspec.json.encode(
        {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        },
        order="sorted",
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    problems: list[str]


class AuditLog:
    """An append-only, hash-chained log in SQLite (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, ts REAL NOT NULL,"
            " recorded_at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
            " subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,"
            " hash TEXT NOT NULL)"
        )

    def append(
        self,
        *,
        ts: float,
        actor: str,
        action: str,
        subject: str,
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one record chained to the last; ``ts`` is the event time it concerns."""
        detail = msgspec.json.decode(msgspec.json.encode(detail or {}))  # plain JSON types
        with self._db:
            last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            row = last.fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = record_hash(prev, seq, ts, actor, action, subject, detail)
            self._db.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    ts,
                    time.time(),
                    actor,
                    action,
                    subject,
                    msgspec.json.encode(detail).decode(),
                    prev,
                    digest,
                ),
            )
        return AuditRecord(
            ts=ts,
            seq=seq,
            actor=actor,
            action=action,
            subject=subject,
            detail=detail,
            prev_hash=prev,
            hash=digest,
        )

    def records(self, *, subject: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        sql = "SELECT seq, ts, actor, action, subject, detail, prev_hash, hash FROM audit"
        args: list[Any] = []
        if subject is not None:
            sql += " WHERE subject = ?"
            args.append(subject)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            AuditRecord(
                seq=r[0],
                ts=r[1],
                actor=r[2],
                action=r[3],
                subject=r[4],
                detail=msgspec.json.decode(r[5]),
                prev_hash=r[6],
                hash=r[7],
            )
            for r in self._db.execute(sql, args).fetchall()
        ]

    def verify(self) -> Verification:
        """Recompute the chain; any edit, insertion, deletion or reordering is a problem."""
        problems = []
        prev = GENESIS
        expected_seq = 1
        n = 0
        for rec in self.records():
            n += 1
            if rec.seq != expected_seq:
                problems.append(f"record {rec.seq}: expected sequence number {expected_seq}")
            if rec.prev_hash != prev:
                problems.append(f"record {rec.seq}: does not chain to the record before it")
            digest = record_hash(
                rec.prev_hash, rec.seq, rec.ts, rec.actor, rec.action, rec.subject, rec.detail
            )
            if digest != rec.hash:
                problems.append(f"record {rec.seq}: content does not match its hash")
            prev = rec.hash
            expected_seq = rec.seq + 1
        return Verification(ok=not problems, records=n, problems=problems)

    def close(self) -> None:
        self._db.close()
