"""The hash-chained audit log detects edits, insertions, deletions, reordering, re-chaining and
a cut tail with a rewritten anchor, and reports damaged records instead of raising."""

from __future__ import annotations

import itertools
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from netvigil.resolvers.audit import GENESIS, AuditLog, record_hash
from tests.conftest import netvigil


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


def _rechain(db: sqlite3.Connection) -> tuple[int, str]:
    """Recompute every record's hash as someone editing the database would; the new head."""
    prev, seq = GENESIS, 0
    rows = db.execute("SELECT seq, ts, actor, action, subject, detail FROM audit ORDER BY seq")
    for seq, ts, actor, action, subject, detail in rows.fetchall():
        digest = record_hash(prev, seq, ts, actor, action, subject, json.loads(detail))
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    db.commit()
    return seq, prev


def test_without_a_configured_key_a_key_file_is_made_with_the_log(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    key = tmp_path / "a.db.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    assert "mac" in json.loads((tmp_path / "a.db.head").read_text())


def test_cutting_the_newest_records_and_rewriting_the_anchor_is_detected(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("DELETE FROM audit WHERE seq >= 4")
    head = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    db.commit()
    (tmp_path / "a.db.head").write_text(json.dumps({"seq": head[0], "hash": head[1]}))
    v = AuditLog(tmp_path / "a.db").verify()
    assert not v.ok and v.problems == [
        f"anchor {tmp_path}/a.db.head is not signed with the audit key"
    ]


def test_an_edit_re_chained_with_a_rewritten_anchor_is_detected(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    seq, digest = _rechain(db)
    (tmp_path / "a.db.head").write_text(json.dumps({"seq": seq, "hash": digest, "mac": "0" * 64}))
    v = AuditLog(tmp_path / "a.db").verify()
    assert not v.ok and any("not signed with the audit key" in p for p in v.problems)


def test_a_record_that_is_not_json_is_reported_not_raised(tmp_path: Path) -> None:
    filled(tmp_path / "a.db").close()
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("UPDATE audit SET detail = '{\"i\": 2, broken' WHERE seq = 3")
    db.commit()
    log = AuditLog(tmp_path / "a.db")
    v = log.verify()
    assert not v.ok and v.records == 5
    assert v.problems == ["record 3: its detail is not valid JSON"]
    assert log.records()[2].detail == {"unreadable": '{"i": 2, broken'}


def test_a_missing_key_is_reported_then_replaced_with_a_record_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    filled(tmp_path / "a.db").close()
    (tmp_path / "a.db.key").unlink()
    reader = AuditLog(tmp_path / "a.db", create_key=False)
    v = reader.verify()
    assert not v.ok and "a.db.key is missing or empty" in v.problems[0]
    assert not (tmp_path / "a.db.key").exists()
    writer = AuditLog(tmp_path / "a.db")
    assert "audit key" in caplog.text and "missing" in caplog.text
    writer.append(ts=9.0, actor="x", action="y", subject="s")
    marker, last = writer.records()[-2:]
    assert (marker.seq, marker.action, last.seq) == (6, "audit.key_created", 7)
    assert marker.detail["reason"] == "the key file was missing"
    assert marker.detail["previous_anchor"] == "matched the chain's head"
    assert writer.verify().ok


def test_cli_verify_reports_a_damaged_log_without_a_traceback(tmp_path: Path) -> None:
    filled(tmp_path / "audit.db").close()
    db = sqlite3.connect(tmp_path / "audit.db")
    db.execute("UPDATE audit SET detail = 'nope' WHERE seq = 2")
    db.commit()
    cli = ("audit", "verify", "--data-dir", str(tmp_path))
    r = netvigil(*cli)
    assert r.returncode == 1, r.stderr
    assert "BROKEN" in r.stdout and "record 2: its detail is not valid JSON" in r.stdout
    assert "Traceback" not in r.stderr
    (tmp_path / "audit.db").write_bytes(b"not a database at all" * 100)
    r = netvigil(*cli)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error:") and "audit.db" in r.stderr
