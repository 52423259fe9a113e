"""The whole embedded pipeline against the twin: the command-line contract and a clean stop."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netvigil.events import Incident
from tests.conftest import clean_env, shared_data

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
ENV = clean_env()

pytestmark = pytest.mark.e2e


def demo(*args: str) -> dict:
    proc = subprocess.run(
        [*NETVIGIL, "demo", *args], capture_output=True, text=True, timeout=180, env=ENV
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # exactly one JSON object
    return json.loads(lines[0])


def test_demo_json_contract_detects_every_fault_with_the_right_root_cause() -> None:
    report = demo("--duration", "60", "--json")
    faults = report["faults"]
    assert len(faults) >= 3
    assert len({f["kind"] for f in faults}) >= 2
    for f in faults:
        assert set(f) >= {"kind", "true_root_cause", "detected_root_cause", "detection_latency_s"}
        assert f["detected_root_cause"] == f["true_root_cause"], f
        assert 0 <= f["detection_latency_s"] <= 60, f
    assert report["complete"] is True
    assert report["false_incidents"] == 0
    assert report["tickets"] == report["incidents"] == len(faults)
    assert report["audit_verified"] is True


def test_demo_replays_identically() -> None:
    a = demo("--json", "--faults", "4", "--seed", "21")
    b = demo("--json", "--faults", "4", "--seed", "21")
    for r in (a, b):
        r.pop("wall_s")
    assert a == b


def test_demo_on_a_topology_zoo_graph() -> None:
    bics = shared_data("topologies", "Bics.graphml")
    report = demo("--json", "--faults", "6", "--topology", str(bics))
    assert report["correct"] == 6, report


def test_run_with_twin_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*NETVIGIL, "run", "--twin", "--speed", "900", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.monotonic() + 180  # generous: CI machines may be busy
    while time.monotonic() < deadline and _audit_records(tmp_path) < 2:
        time.sleep(0.5)  # wait until an incident was opened, ticketed and audited
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "incident" in stdout and "ticket NVI" in stdout
    assert "0 left in flight" in stdout
    assert "audit chain verified" in stdout
    verify = subprocess.run(
        [*NETVIGIL, "audit", "verify", "--data-dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert verify.returncode == 0
    assert json.loads(verify.stdout)["ok"] is True


def _audit_records(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / "audit.db") as db:
            return int(db.execute("SELECT count(*) FROM audit").fetchone()[0])
    except sqlite3.Error:
        return 0


async def test_service_in_process_opens_tickets_and_audits(tmp_path: Path) -> None:
    from netvigil.config import load_settings
    from netvigil.service import Service

    settings = load_settings()
    plan = Service.plan_twin(settings, fault_count=3, speed=0.0)
    svc = Service.build(settings, twin=plan, data_dir=tmp_path)
    seen: list[Incident] = []
    svc.runtime.listen(
        "netvigil.incidents", lambda t, e: seen.append(e) if isinstance(e, Incident) else None
    )
    await svc.run()
    stored = svc.incidents.list()
    assert len(stored) == 3
    assert all(inc.status == "resolved" for inc, _ in stored)
    assert sorted(t for _, t in stored) == ["NVI0000001", "NVI0000002", "NVI0000003"]
    assert {inc.root_cause.entity for inc, _ in stored if inc.root_cause} == {
        f.target for f in plan.faults
    }
    actions = [r.action for r in svc.audit.records()]
    assert actions.count("incident.opened") == 3 and actions.count("incident.resolved") == 3
    assert svc.audit.verify().ok
    svc.close()
