"""The hash-chained audit log detects edits, insertions, deletions and reordering."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from netvigil.resolvers.audit import GENESIS, AuditLog, record_hash


def filled(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append(
            ts=float(i),
            actor="test",
            action="thing.done",
            subject=f"s{i}",
            detail={"i": i, "nested": {"b": 1, "a": [1, 2]}},
        )
    return log


def test_chain_verifies_and_links(tmp_path: Path) -> None:
    log = filled(tmp_path / "a.db")
    recs = log.records()
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5]
    assert recs[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(recs))
    v = log.verify()
    assert v.ok and v.records == 5 and v.problems == []


def test_edit_is_detected(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("UPDATE audit SET detail = '{\"i\":99}' WHERE seq = 3")
    db.commit()
    v = AuditLog(tmp_path / "a.db").verify()
    assert not v.ok
    assert v.problems == ["record 3: content does not match its hash"]


def test_deletion_is_detected(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    v = AuditLog(tmp_path / "a.db").verify()
    assert not v.ok
    assert any("record 3" in p for p in v.problems)


def test_insertion_with_recomputed_hash_is_detected(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("UPDATE audit SET seq = seq + 1000 WHERE seq >= 3")  # make room, keep hashes
    db.execute("UPDATE audit SET seq = seq - 999 WHERE seq >= 1000")
    prev = db.execute("SELECT hash FROM audit WHERE seq = 2").fetchone()[0]
    forged = record_hash(prev, 3, 2.5, "mallory", "thing.done", "s9", {})
    db.execute(
        "INSERT INTO audit VALUES (3, 2.5, 0, 'mallory', 'thing.done', 's9', '{}', ?, ?)",
        (prev, forged),
    )
    db.commit()
    v = AuditLog(tmp_path / "a.db").verify()
    assert not v.ok
    assert "record 4: does not chain to the record before it" in v.problems


def test_records_by_subject_and_persistence(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    log = AuditLog(tmp_path / "a.db")
    log.append(ts=9.0, actor="x", action="y", subject="s1")
    assert [r.seq for r in log.records(subject="s1")] == [2, 6]
    assert log.verify().ok
