"""Crashes and restarts over one data directory: kill -9 in a loop under a trap storm leaves
an incident store, tickets and an audit log that agree, with one incident per ongoing fault;
the audit log survives kill -9 mid-append; a restart that replays the twin opens nothing twice
and says what it ignored."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.kill_restart import FLAPS, kill_loop
from netvigil.cli.stop_summary import render, stop_report
from netvigil.config import load_settings
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.incidents import IncidentStore
from netvigil.service import Service

pytestmark = pytest.mark.e2e


def test_kill9_in_a_loop_under_a_trap_storm_leaves_stores_that_agree(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    found = kill_loop(data, kills=8, rate=300.0, min_up=1.0, max_up=5.0, seed=7)
    assert found["traps_sent"] > 10_000  # it was under load
    assert found["disagreements"] == [], found
    assert found["audit_ok"], found["audit_problems"]
    # each flapping interface is one incident across all the restarts, and the fault that
    # began between two kills has its own
    flapping = {f"{device}:{ifname}" for device, ifname, _ in FLAPS}
    assert found["incidents_by_entity"] == dict.fromkeys(sorted(flapping), 1), found
    assert found["incidents"] == found["tickets"] == 2
    assert found["final_exit"] == 0
    assert found["summary"] and found["summary"][0].startswith("stopped cleanly:"), found


APPEND_LOOP = """
import sys
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.incidents import IncidentStore
log = AuditLog(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    i += 1
    log.append(ts=float(i), actor="test", action="loop", subject="s", detail={"i": i})
"""


def test_the_audit_log_verifies_after_kill9_mid_append(tmp_path: Path) -> None:
    """A record committed but not yet anchored when the process dies still verifies (the
    anchor names it as the next record before it is committed)."""
    broken = []
    for k in range(30):
        path = tmp_path / f"audit-{k}.db"
        proc = subprocess.Popen(
            [sys.executable, "-c", APPEND_LOOP, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(0.05 + 0.01 * k)  # different moments of the append cycle
        proc.kill()
        proc.wait(timeout=30)
        log = AuditLog(path)
        result = log.verify()
        if not result.ok:
            broken.append((result.records, result.problems))
        else:  # and the next writer goes on from there
            log.append(ts=0.0, actor="test", action="after", subject="s")
            assert log.verify().ok
        log.close()
    assert broken == []


def test_a_restart_replaying_the_twin_opens_nothing_twice_and_says_what_it_ignored(
    tmp_path: Path,
) -> None:
    settings = load_settings()
    plan = Service.plan_twin(settings, fault_count=3, speed=0.0)

    def run() -> list[str]:
        svc = Service.build(settings, twin=plan, data_dir=tmp_path)
        asyncio.run(svc.run())
        lines = render(stop_report(svc))
        svc.close()
        return lines

    def stored() -> list[tuple[str, str, int]]:
        store = IncidentStore(tmp_path / "incidents.db")
        rows = [(inc.fingerprint, inc.status, inc.revision) for inc, _ in store.list()]
        store.close()
        return rows

    first = run()
    incidents = stored()
    records = AuditLog(tmp_path / "audit.db").records()
    second = run()  # the twin starts at its epoch again: the same faults, the same events
    assert "3 incidents in" in first[0] and "this run: 3 opened, 3 resolved" in first[0]
    assert second[0].startswith("stopped cleanly:"), second
    assert "3 incidents in" in second[0] and "(all runs; 0 open)" in second[0], second
    assert "this run: none opened or changed" in second[0], second
    # what it saw again it counted, and left alone: no incident, ticket or audit record moved
    (ignored,) = [ln for ln in second if "ignored by this run" in ln]
    assert "repeated_revision" in ignored and "stale_revision" in ignored, ignored
    assert stored() == incidents
    after = AuditLog(tmp_path / "audit.db").records()
    assert [r.action for r in after if r.action.startswith("incident.")] == [
        r.action for r in records if r.action.startswith("incident.")
    ]
