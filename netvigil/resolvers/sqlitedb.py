"""How the resolvers' stores open their SQLite files.

Every store (incidents, actions, locks, breakers, tickets, audit, ...) may be shared by the
coordinator's partitions in several processes (``coordinator.partitions``), so each connection
waits up to 30 s for another writer instead of failing at once with "database is locked", and
runs in autocommit mode (``isolation_level=None``): a store opens its own transactions where it
needs them (``BEGIN IMMEDIATE``). The stores the partitions write most (incidents, actions,
locks, the ticket outbox) use write-ahead logging, so their readers do not wait for a writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["connect"]

#: seconds a connection waits for another process's write lock
BUSY_TIMEOUT_S = 30


def connect(path: str | Path, *, wal: bool = False, any_thread: bool = False) -> sqlite3.Connection:
    """A connection to the store at ``path`` (``:memory:`` for tests); ``wal``: write-ahead
    logging (not for ``:memory:``, which has no file); ``any_thread``: the connection may be
    used from threads other than its creator's (the caller serialises its use)."""
    db = sqlite3.connect(
        str(path), isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=not any_thread
    )
    if wal and str(path) != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
    return db
