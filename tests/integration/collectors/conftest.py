"""Real peers for the collectors: net-snmp's snmpd (with LLDP-MIB rows served by a pass
script), and the twin's gNMI endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.servers import snmpd

#: LLDP-MIB rows the agent serves through net-snmp's ``pass`` (Linux has no LLDP agent here)
LLDP_ROWS = {
    "1.0.8802.1.1.2.1.3.7.1.2.2": ("integer", "5"),
    "1.0.8802.1.1.2.1.3.7.1.3.2": ("string", "eth0"),
    "1.0.8802.1.1.2.1.3.7.1.4.2": ("string", "uplink"),
    "1.0.8802.1.1.2.1.4.1.1.4.0.2.1": ("integer", "4"),
    "1.0.8802.1.1.2.1.4.1.1.5.0.2.1": ("string", "00:1b:54:aa:bb:cc"),
    "1.0.8802.1.1.2.1.4.1.1.6.0.2.1": ("integer", "5"),
    "1.0.8802.1.1.2.1.4.1.1.7.0.2.1": ("string", "Ethernet7"),
    "1.0.8802.1.1.2.1.4.1.1.9.0.2.1": ("string", "core2"),
}

_PASS = """import sys
ROWS = {rows!r}
key = lambda o: tuple(int(p) for p in o.strip(".").split("."))
order = sorted(ROWS, key=key)
mode, oid = sys.argv[1], sys.argv[2].strip(".")
if mode == "-g":
    hit = oid if oid in ROWS else None
elif mode == "-n":
    hit = next((o for o in order if key(o) > key(oid)), None)
else:
    hit = None
if hit:
    kind, value = ROWS[hit]
    print("." + hit); print(kind); print(value)
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    run = tmp_path_factory.mktemp("snmpd")
    script = run / "lldp_pass.py"
    script.write_text(_PASS.format(rows=LLDP_ROWS))
    facts = snmpd.start(run, extra_conf=f"pass .1.0.8802.1.1.2 {sys.executable} {script}")
    yield facts
    snmpd.stop(run)


@pytest.fixture(scope="module")
def twin() -> Iterator[dict[str, tuple[str, int]]]:
    """The twin's gNMI endpoints (8 devices), 20x faster than real time."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netvigil.cli", "twin", "serve", "--speed", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    endpoints: dict[str, tuple[str, int]] = {}
    assert proc.stdout is not None
    while len(endpoints) < 8:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "twin exited"
        rec = json.loads(line)
        host, port = rec["gnmi"].rsplit(":", 1)
        endpoints[rec["device"]] = (host, int(port))
    yield endpoints
    proc.terminate()
    proc.wait(timeout=20)


def netvigil(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netvigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[3],
    )
