"""Real peers for the collectors (net-snmp's snmpd with LLDP-MIB rows served by a pass script,
the twin's gNMI endpoints) and helpers to run a collector and wait for what it emits."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netvigil.events import Event
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


def netvigil(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netvigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[3],
    )


def need(tool: str) -> str:
    """The path of a peer program the project installs (scripts/system-deps.sh)."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(
            f"{tool} is not installed: run scripts/system-deps.sh (scripts/apt-packages.txt)"
        )
    return path


class Sink:
    """Collects emitted events; ``wait`` until a predicate holds (or time out)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    async def wait(self, ok: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not ok():
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def running(collector: Any) -> AsyncIterator[Sink]:
    """Run ``collector`` until the block ends, then stop it and wait for it to finish."""
    sink = Sink()
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(sink.emit, stop))
    await asyncio.wait_for(collector.ready.wait(), 10)
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def run_peer(*argv: str, timeout: float = 30.0) -> str:
    """Run a peer program to completion; its combined output (fails the test if it fails)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{argv[0]} exited {proc.returncode}: {text}"
    return text
