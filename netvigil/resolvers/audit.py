"""The hash-chained audit log: every decision and action, tamper-evident.

Each record's hash is ``sha256(prev_hash || canonical JSON of the record body)``; the first
record chains to 64 zeros. :meth:`AuditLog.verify` recomputes the chain and reports any edited,
inserted, deleted or reordered record, and any record it cannot read, without raising.

A chain alone cannot show that its newest records were cut off (the shorter chain is still
valid, and anyone can re-chain edited records), so the head is *anchored* outside the
database: after every append the sequence number and hash of the head are written to an anchor
file next to it (``audit.db.head``, atomically, by rename) and signed with HMAC-SHA256. The key
is ``coordinator.audit_key`` when set; otherwise a random key made when the log is created and
kept beside it (``audit.db.key``, mode 0600). Verification compares the chain's head with the
anchor and checks the signature: a missing tail, a re-chained edit or an anchor rewritten
without the key fails.

What that proves depends on who can read the key: a key file in the data directory protects
against anyone who can change the database and the anchor but not read the key; whoever can
read the key can re-sign a forged chain. A key from outside the data directory (a secret store,
``NETVIGIL_COORDINATOR__AUDIT_KEY``) keeps that power away from whoever holds the data. An
anchor that is not signed is always reported: without a signature, deleting the newest records
and rewriting the anchor cannot be told from a shorter log.

When a log that already has records has no key (a log from before keys, or a key file that
disappeared), the writer makes a new key, says so in the service log, and appends an
``audit.key_created`` record stating why and whether the old anchor still matched the chain:
a key replaced after the first record is evidence in the chain itself.

A process can die between committing a record and anchoring it, so before the record is
committed the anchor names it as ``next`` (its sequence number and hash, signed with the
rest); a chain whose head is that record verifies, and the next append anchors it for good.

Processes sharing the data directory (coordinator partitions on several workers) append to
one chain: each append holds an exclusive lock on ``audit.db.lock`` from reading the head to
anchoring the new record.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from netvigil.events import AuditRecord
from netvigil.filelock import exclusive
from netvigil.resolvers.sqlitedb import connect

__all__ = ["GENESIS", "AuditLog", "Verification", "record_hash"]

GENESIS = "0" * 64
KEY_CREATED = "audit.key_created"
log = logging.getLogger(__name__)


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
    """An append-only, hash-chained log in SQLite (``:memory:`` for tests).

    ``key`` signs the anchor; empty means the key file beside the database, made when the log
    is opened new, or for a log with records but no key, at its next append, with an
    ``audit.key_created`` record. With ``create_key=False`` (a reader such as ``netvigil audit
    verify``) no key is made; :meth:`verify` reports the missing key instead.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        anchor: str | Path | None = None,
        key: str = "",
        create_key: bool = True,
    ) -> None:
        file_backed = str(path) != ":memory:"
        if anchor is None and file_backed:
            anchor = Path(str(path) + ".head")
        self._anchor = Path(anchor) if anchor is not None else None
        self._key_file = Path(str(path) + ".key") if file_backed and not key else None
        self._key = key.encode()
        self._lock_file = Path(str(path) + ".lock") if file_backed else None
        self._db = connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, ts REAL NOT NULL,"
            " recorded_at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
            " subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,"
            " hash TEXT NOT NULL)"
        )
        self._create_key = create_key and self._key_file is not None
        if self._key_file is not None:
            self._key = self._read_key(self._key_file)
        if self._create_key and not self._key:
            if self._head()[0] == 0:
                self._make_key()  # a new log: its key from the start
            else:
                log.warning(
                    "audit key %s is missing; a new one is made with the next record",
                    self._key_file,
                )

    # ------------------------------------------------------------------ key

    @staticmethod
    def _read_key(path: Path) -> bytes:
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            return b""
        if path.stat().st_mode & 0o077:
            log.warning("audit key %s is readable by others; chmod 600 it", path)
        return key

    def _head(self) -> tuple[int, str]:
        row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def _make_key(self) -> None:
        """A new random key in the key file (0600, never overwriting one made meanwhile)."""
        path = self._key_file
        assert path is not None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            self._key = self._read_key(path)
            return
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        self._key = key.encode()
        seq, digest = self._head()
        if seq == 0:
            return  # a new log: nothing was anchored before
        previous = self._check_anchor(seq, digest, signed=False)
        signed = self._anchor_signed()
        reason = "the key file was missing" if signed else "the log had no key"
        log.warning(
            "audit key %s: %s; made a new one. Records 1..%d were anchored %s; an %s record "
            "marks the change",
            path,
            reason,
            seq,
            "with the lost key" if signed else "unsigned",
            KEY_CREATED,
        )
        self.append(
            ts=time.time(),
            actor="netvigil",
            action=KEY_CREATED,
            subject=str(path.name),
            detail={
                "reason": reason,
                "records_before": seq,
                "previous_anchor": "; ".join(previous) or "matched the chain's head",
            },
        )

    def _anchor_signed(self) -> bool:
        try:
            return self._anchor is not None and "mac" in json.loads(self._anchor.read_text())
        except (OSError, ValueError, TypeError):
            return False

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
        if self._create_key and not self._key:
            self._make_key()
        detail = msgspec.json.decode(msgspec.json.encode(detail or {}))  # plain JSON types
        with self._writer(), self._db:
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

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time across processes (workers sharing the data directory, e.g.
        partitions of the coordinator): reading the head, anchoring it as ``next``, inserting
        and anchoring the record happen under an exclusive lock on ``audit.db.lock``, so one
        chain stays one chain and the anchor never falls behind its head."""
        if self._lock_file is None:
            yield
            return
        with exclusive(self._lock_file):
            yield

    def records(self, *, subject: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        """Records in chain order; a detail that is not JSON (a damaged record) is shown as
        ``{"unreadable": <its text>}`` (``verify`` reports it)."""
        sql = "SELECT seq, ts, actor, action, subject, detail, prev_hash, hash FROM audit"
        args: list[Any] = []
        if subject is not None:
            sql += " WHERE subject = ?"
            args.append(subject)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        out = []
        for r in self._db.execute(sql, args).fetchall():
            detail = _detail(r[5])
            out.append(
                AuditRecord(
                    seq=r[0],
                    ts=r[1],
                    actor=r[2],
                    action=r[3],
                    subject=r[4],
                    detail={"unreadable": str(r[5])[:1000]} if detail is None else detail,
                    prev_hash=r[6],
                    hash=r[7],
                )
            )
        return out

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

    def _check_anchor(self, last_seq: int, last_hash: str, *, signed: bool = True) -> list[str]:
        if self._anchor is None:
            return []
        if not self._anchor.exists():
            return [] if last_seq == 0 else [f"anchor {self._anchor} is missing"]
        try:
            head = json.loads(self._anchor.read_text())
            seq, digest = int(head["seq"]), str(head["hash"])
            nxt = head.get("next")
            next_ = (int(nxt["seq"]), str(nxt["hash"])) if nxt is not None else None
        except (OSError, ValueError, KeyError, TypeError):
            return [f"anchor {self._anchor} is unreadable"]
        problems = []
        if signed and not self._key:
            why = (
                f"the key file {self._key_file} is missing or empty"
                if self._key_file is not None
                else "no key is configured"
            )
            problems.append(
                f"anchor {self._anchor} cannot be checked: {why}; without it, deleted newest "
                "records cannot be told from a shorter log (restore the key, or start the "
                "service once to make a new one)"
            )
        elif signed and not hmac.compare_digest(
            str(head.get("mac", "")), self._sign(seq, digest, next_)
        ):
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
        """Recompute the chain and compare its head with the signed anchor; any edit,
        insertion, deletion (including of the newest records), reordering or unreadable record
        is a problem. Never raises on a damaged log: the damage is the answer."""
        try:
            rows = self._db.execute(
                "SELECT seq, ts, actor, action, subject, detail, prev_hash, hash FROM audit "
                "ORDER BY seq"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            return Verification(False, 0, [f"the audit database cannot be read: {exc}"])
        problems = []
        prev = GENESIS
        expected_seq = 1
        for seq, ts, actor, action, subject, text, prev_hash, stored in rows:
            if seq != expected_seq:
                problems.append(f"record {seq}: expected sequence number {expected_seq}")
            if prev_hash != prev:
                problems.append(f"record {seq}: does not chain to the record before it")
            detail = _detail(text)
            if detail is None:
                problems.append(f"record {seq}: its detail is not valid JSON")
            elif record_hash(prev_hash, seq, ts, actor, action, subject, detail) != stored:
                problems.append(f"record {seq}: content does not match its hash")
            prev = stored
            expected_seq = seq + 1
        problems.extend(self._check_anchor(expected_seq - 1, prev))
        return Verification(ok=not problems, records=len(rows), problems=problems)

    def close(self) -> None:
        self._db.close()


def _detail(text: object) -> dict[str, Any] | None:
    """A record's detail, or None when the stored text is not a JSON object."""
    try:
        value = msgspec.json.decode(text if isinstance(text, str | bytes) else str(text))
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
