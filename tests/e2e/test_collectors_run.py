"""`netvigil run` with the syslog and flow collectors configured: real sockets, a real sender
(`logger`), dead letters for garbage, and templates that survive a restart (cold start)."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from provision.common import free_port, wait_for_port
from tests.conftest import clean_env

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
pytestmark = pytest.mark.e2e


def _ipfix(sets: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(struct.pack(">HH", sid, 4 + len(b)) + b for sid, b in sets)
    return struct.pack(">HHIII", 10, 16 + len(body), 1_700_000_000, 1, 0) + body


def _incidents(data_dir: Path) -> int:
    db = data_dir / "incidents.db"
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def _wait_for(done: Callable[[], bool], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not done within {timeout_s:.0f} s"
        time.sleep(0.5)


TEMPLATE = (2, struct.pack(">HHHHHHHH", 256, 3, 8, 4, 12, 4, 1, 8))
DATA = (256, socket.inet_aton("10.1.1.1") + socket.inet_aton("10.2.2.2") + struct.pack(">Q", 1500))


def _run(tmp: Path, env: dict[str, str], send: list[tuple[str, int, bytes]]) -> str:
    proc = subprocess.Popen(
        [*NETVIGIL, "run", "--data-dir", str(tmp)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_port(int(env["NETVIGIL_SYSLOG__TCP_PORT"]), timeout=60)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, port, data in send:
                s.sendto(data, ("127.0.0.1", port))
        subprocess.run(
            ["logger", "-n", "127.0.0.1", "-P", env["NETVIGIL_SYSLOG__TCP_PORT"], "-T",
             "--octet-count", "--rfc5424", "-t", "e2e", "hello from logger"],
            check=True,
        )  # fmt: skip
        time.sleep(1.5)  # the service publishes what it received; then Ctrl-C
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stdout


def test_run_collects_syslog_and_flows_and_keeps_templates(tmp_path: Path) -> None:
    syslog_port, flow_port = free_port(), free_port()
    env = clean_env()
    env.update(
        NETVIGIL_SYSLOG__HOST="127.0.0.1",
        NETVIGIL_SYSLOG__UDP_PORT=str(syslog_port),
        NETVIGIL_SYSLOG__TCP_PORT=str(free_port()),
        NETVIGIL_FLOWS__HOST="127.0.0.1",
        NETVIGIL_FLOWS__PORT=str(flow_port),
    )
    first = _run(
        tmp_path,
        env,
        [
            ("syslog", syslog_port, b"<13>this is not syslog at all"),
            ("flow", flow_port, b"\x00\x63garbage"),
            ("flow", flow_port, _ipfix([TEMPLATE, DATA])),
        ],
    )
    assert "0 left in flight" in first and "2 dead letters" in first, first
    letters = [json.loads(x) for x in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert sorted(x["source"] for x in letters) == ["flows", "syslog"]
    templates = (tmp_path / "flow-templates.jsonl").read_text().splitlines()
    assert len(templates) == 1 and json.loads(templates[0])["template_id"] == 256
    # restart: a data set alone decodes with the template kept from the first run
    second = _run(tmp_path, env, [("flow", flow_port, _ipfix([DATA]))])
    assert "0 left in flight" in second and "0 dead letters" in second, second


def test_run_on_the_twins_ipfix_and_vendor_syslog(tmp_path: Path) -> None:
    """The twin exports IPFIX and vendor syslog (TCP, octet counting) from each device; the
    service, with no twin of its own, must see its faults through the collectors alone."""
    env = clean_env()
    tcp, flows = free_port(), free_port()
    env.update(
        NETVIGIL_SYSLOG__HOST="127.0.0.1",
        NETVIGIL_SYSLOG__TCP_PORT=str(tcp),
        NETVIGIL_FLOWS__HOST="127.0.0.1",
        NETVIGIL_FLOWS__PORT=str(flows),
    )
    run = subprocess.Popen(
        [*NETVIGIL, "run", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    twin = None
    try:
        wait_for_port(tcp, timeout=60)
        twin = subprocess.Popen(
            [*NETVIGIL, "twin", "serve", "--speed", "300", "--faults",
             "--ipfix", f"127.0.0.1:{flows}", "--syslog", f"127.0.0.1:{tcp}",
             "--syslog-transport", "tcp"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        # until the service has a template on file and an incident in its store (the twin's
        # first fault comes after its warm-up); a liveness bound, not a speed check
        _wait_for(
            lambda: (tmp_path / "flow-templates.jsonl").exists() and _incidents(tmp_path) > 0,
            timeout_s=240,
        )
    finally:
        if twin is not None:
            twin.send_signal(signal.SIGINT)
            twin.communicate(timeout=60)
        time.sleep(1)
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    assert "incident" in stdout, stdout
    assert "0 left in flight" in stdout and "0 dead letters" in stdout, stdout
    assert (tmp_path / "flow-templates.jsonl").read_text().count("flow_template") >= 1


def test_run_probes_a_dead_service_and_its_slo_burns(tmp_path: Path) -> None:
    """A probe of a closed port, with a 99.9 % SLO: the service's error budget burns and an
    slo_burn anomaly is published; the probe's check_down event is seen once."""
    cfg = tmp_path / "nv.yaml"
    cfg.write_text(
        "services:\n"
        "  probes:\n"
        f"    - {{name: co, kind: tcp, target: '127.0.0.1:{free_port()}', service: checkout,"
        " device: edge1, interval_s: 0.2, timeout_s: 0.5}\n"
        "  slos:\n"
        "    - {service: checkout, objective: 0.999}\n"
    )
    env = clean_env()
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from netvigil.config import load_settings\n"
        "from netvigil.service import Service\n"
        f"svc = Service.build(load_settings({str(cfg)!r}), data_dir=Path({str(tmp_path)!r}))\n"
        "seen = []\n"
        "svc.runtime.listen('netvigil.anomalies', lambda t, e: seen.append(e))\n"
        "svc.runtime.listen('netvigil.events', lambda t, e: seen.append(e))\n"
        "async def main():\n"
        "    stop = asyncio.Event()\n"
        "    task = asyncio.create_task(svc.run(stop))\n"
        "    for _ in range(300):\n"
        "        await asyncio.sleep(0.1)\n"
        "        if any(getattr(e, 'kind', '') == 'slo_burn' for e in seen):\n"
        "            break\n"
        "    stop.set(); await task\n"
        "asyncio.run(main())\n"
        "print(sorted({(type(e).__name__, e.kind) for e in seen}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "('Anomaly', 'slo_burn')" in out.stdout, out.stdout
    assert "('DeviceEvent', 'check_down')" in out.stdout, out.stdout
