"""Exclusive, expiring locks on target entities, safe across processes.

Why written here: the lock is a few lines of lease logic, but it must be the *same* logic
in every runtime, so it is one pure function, :func:`grant`, over a mapping of entity ->
:class:`LockRow`. Where that mapping lives decides how far the lock reaches:

- **embedded** (:class:`SqliteLocks`): rows in one SQLite file, every grant inside a
  ``BEGIN IMMEDIATE`` transaction, so any number of worker *processes* sharing the data
  directory serialise on it (tested with several processes);
- **several machines** (:class:`~netvigil.resolvers.locks_neo4j.Neo4jLocks`): the same rows
  as nodes in the Neo4j database the Kafka workers share for the topology, every grant in one
  write transaction serialised on a token node (``coordinator.locks``; ``auto`` picks it when
  ``graph.url`` is Neo4j).

Every grant carries a *fencing token* that only grows. An executor checks
:meth:`SqliteLocks.valid` (the holder and token still own every entity, unexpired) right
before it touches a device, so a worker that stalled past its lease cannot act on a stale one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from netvigil.resolvers.base import Lease, LockRefusal
from netvigil.resolvers.sqlitedb import connect

__all__ = ["LockRow", "SqliteLocks", "grant", "release_rows", "still_held"]


@dataclass(frozen=True)
class LockRow:
    holder: str
    token: int
    expires: float


def grant(
    table: MutableMapping[str, LockRow],
    token: int,
    entities: list[str],
    holder: str,
    *,
    ttl_s: float,
    now: float,
) -> Lease | LockRefusal:
    """Grant every entity to ``holder`` under ``token``, or refuse naming the first conflict.

    A holder may re-acquire what it already holds (its lease is extended and re-tokened).
    """
    wanted = sorted(set(entities))
    for entity in wanted:
        row = table.get(entity)
        if row is not None and row.holder and row.holder != holder and row.expires > now:
            return LockRefusal(entity=entity, holder=row.holder, expires=row.expires)
    expires = now + ttl_s
    for entity in wanted:
        table[entity] = LockRow(holder, token, expires)
    return Lease(entities=tuple(wanted), holder=holder, token=token, expires=expires)


def release_rows(table: MutableMapping[str, LockRow], lease: Lease) -> None:
    """Free the rows still held under ``lease``'s token (a re-granted row is left alone)."""
    for entity in lease.entities:
        row = table.get(entity)
        if row is not None and row.token == lease.token and row.holder == lease.holder:
            table[entity] = LockRow("", row.token, 0.0)


def still_held(table: Mapping[str, LockRow], lease: Lease, *, now: float) -> bool:
    """Whether ``lease``'s holder and token still own every one of its entities, unexpired:
    what an executor checks right before it touches a device."""
    return all(
        e in table
        and table[e].token == lease.token
        and table[e].holder == lease.holder
        and table[e].expires > now
        for e in lease.entities
    )


class _Rows(MutableMapping[str, LockRow]):
    """The lock rows of some entities, read inside a transaction; writes go straight back."""

    def __init__(self, db: sqlite3.Connection, entities: list[str]) -> None:
        self._db = db
        marks = ",".join("?" * len(entities))
        self._rows = {
            r[0]: LockRow(r[1], r[2], r[3])
            for r in db.execute(
                f"SELECT entity, holder, token, expires FROM locks WHERE entity IN ({marks})",
                entities,
            ).fetchall()
        }

    def __getitem__(self, key: str) -> LockRow:
        return self._rows[key]

    def __setitem__(self, key: str, row: LockRow) -> None:
        self._rows[key] = row
        self._db.execute(
            "INSERT INTO locks VALUES (?, ?, ?, ?) ON CONFLICT(entity) DO UPDATE SET"
            " holder = excluded.holder, token = excluded.token, expires = excluded.expires",
            (key, row.holder, row.token, row.expires),
        )

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("lock rows are never deleted (tokens must keep growing)")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class SqliteLocks:
    """A :class:`~netvigil.resolvers.base.LockManager` in one SQLite file shared by workers."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path, wal=True)
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS locks (entity TEXT PRIMARY KEY, holder TEXT NOT NULL,"
            " token INTEGER NOT NULL, expires REAL NOT NULL);"
            "CREATE TABLE IF NOT EXISTS lock_tokens (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " last INTEGER NOT NULL);"
            "INSERT OR IGNORE INTO lock_tokens VALUES (1, 0);"
        )

    def acquire(
        self, entities: list[str], holder: str, *, ttl_s: float, now: float
    ) -> Lease | LockRefusal:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (last,) = self._db.execute("SELECT last FROM lock_tokens").fetchone()
            result = grant(
                _Rows(self._db, entities), last + 1, entities, holder, ttl_s=ttl_s, now=now
            )
            if isinstance(result, Lease):
                self._db.execute("UPDATE lock_tokens SET last = ?", (last + 1,))
                self._db.execute("COMMIT")
            else:
                self._db.execute("ROLLBACK")
            return result
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def release(self, lease: Lease) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            release_rows(_Rows(self._db, list(lease.entities)), lease)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def valid(self, lease: Lease, *, now: float) -> bool:
        return still_held(_Rows(self._db, list(lease.entities)), lease, now=now)

    def holders(self) -> dict[str, LockRow]:
        rows = self._db.execute(
            "SELECT entity, holder, token, expires FROM locks WHERE holder != ''"
        )
        return {r[0]: LockRow(r[1], r[2], r[3]) for r in rows.fetchall()}

    def close(self) -> None:
        self._db.close()
