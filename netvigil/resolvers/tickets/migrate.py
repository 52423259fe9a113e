"""Schema upgrades of the ticket backends' SQLite files made by an older NetVigil."""

from __future__ import annotations

import sqlite3

__all__ = ["add_column"]


def add_column(db: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    """Add ``column`` (declared ``decl``, with a default) to ``table`` when it lacks it."""
    have = {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}
    if column not in have:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
