"""The hash-chained audit log: every decision and action, tamper-evident.

Each record's hash is ``sha256(prev_hash || canonical JSON of the record body)``; the first
record chains to 64 zeros. :meth:`AuditLog.verify` recomputes the chain and reports any edited,
inserted, deleted or reordered record.

A chain alone cannot show that its newest records were cut off (the shorter chain is still
valid), so the head is *anchored* outside the database: after every append the sequence number
and hash of the head are written to an anchor file next to it (atomically, by rename), signed
with HMAC-SHA256 when a key is configured (``coordinator.audit_key``). Verification compares
the chain's head with the anchor: a missing tail, or an anchor forged without the key, fails.

A process can die between committing a record and anchoring it, so before the record is
committed the anchor names it as ``next`` (its sequence number and hash, signed with the
rest); a chain whose head is that record verifies, and the next append anchors it for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
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

    def __init__(
        self, path: str | Path = ":memory:", *, anchor: str | Path | None = None, key: str = ""
    ) -> None:
        if anchor is None and str(path) != ":memory:":
            anchor = Path(str(path) + ".head")
        self._anchor = Path(anchor) if anchor is not None else None
        self._key = key.encode()
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
            self._write_anchor(seq - 1, prev, next_=(seq, digest))
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
            self._write_anchor(seq, digest)
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

    # ------------------------------------------------------------------ anchor

    def _sign(self, seq: int, digest: str, next_: tuple[int, str] | None = None) -> str:
        text = f"{seq}:{digest}" + (f":{next_[0]}:{next_[1]}" if next_ else "")
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def _write_anchor(self, seq: int, digest: str, next_: tuple[int, str] | None = None) -> None:
        """Anchor the head ``seq``; ``next_`` is the record about to be committed after it."""
        if self._anchor is None:
            return
        body: dict[str, Any] = {"seq": seq, "hash": digest}
        if next_:
            body["next"] = {"seq": next_[0], "hash": next_[1]}
        if self._key:
            body["mac"] = self._sign(seq, digest, next_)
        tmp = self._anchor.with_name(self._anchor.name + ".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self._anchor)

    def _check_anchor(self, last_seq: int, last_hash: str) -> list[str]:
        if self._anchor is None:
            return []
        if not self._anchor.exists():
            return [] if last_seq == 0 else [f"anchor {self._anchor} is missing"]
        try:
            head = json.loads(self._anchor.read_text())
            seq, digest = int(head["seq"]), str(head["hash"])
            nxt = head.get("next")
            next_ = (int(nxt["seq"]), str(nxt["hash"])) if nxt is not None else None
        except (ValueError, KeyError, TypeError):
            return [f"anchor {self._anchor} is unreadable"]
        problems = []
        mac = self._sign(seq, digest, next_)
        if self._key and not hmac.compare_digest(str(head.get("mac", "")), mac):
            problems.append(f"anchor {self._anchor} is not signed with the audit key")
        if next_ == (last_seq, last_hash):
            pass  # the writer died after committing the record it named, before anchoring it
        elif seq > last_seq:
            problems.append(
                f"records {last_seq + 1}..{seq} are missing: the anchored head is record {seq}"
            )
        elif seq < last_seq:
            problems.append(f"records after {seq} were added without updating the anchor")
        elif digest != last_hash:
            problems.append(f"record {seq}: does not match the anchored head hash")
        return problems

    def verify(self) -> Verification:
        """Recompute the chain and compare its head with the anchor; any edit, insertion,
        deletion (including of the newest records) or reordering is a problem."""
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
        problems.extend(self._check_anchor(expected_seq - 1, prev if n else GENESIS))
        return Verification(ok=not problems, records=n, problems=problems)

    def close(self) -> None:
        self._db.close()
