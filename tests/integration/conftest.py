"""Real servers for integration tests, started by the project's own provisioning (provision/)
on free ports and shared per test session; every test here is marked ``integration``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provision.servers import kafka as kafka_server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here ``integration``. The ``cluster`` tests (three brokers of their
    own, a few minutes on two cores) run with the rest, CI included; ``-m "not cluster"``
    leaves them out, ``-m cluster`` runs them alone."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address (``127.0.0.1:PORT``) of one Apache Kafka broker per session.
    Tests share it: give your topics and consumer groups a unique prefix."""
    run_dir = tmp_path_factory.mktemp("kafka-server")
    info = kafka_server.start(run_dir)
    try:
        yield str(info["bootstrap"])
    finally:
        kafka_server.stop(run_dir)


@contextmanager
def serve_twin(*args: str, devices: int = 8) -> Iterator[dict[str, dict[str, str]]]:
    """Run ``netvigil twin serve ARGS`` (the built-in topology has 8 devices) and yield each
    device's endpoint record (``gnmi``, ``address``, ``snmp``, ...) by device name."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netvigil.cli", "twin", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    records: dict[str, dict[str, str]] = {}
    try:
        while len(records) < devices:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "twin exited"
            rec = json.loads(line)
            records[rec["device"]] = rec
        yield records
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def twin() -> Iterator[dict[str, tuple[str, int]]]:
    """The twin's gNMI endpoints (host, port) by device, 20x faster than real time."""
    with serve_twin("--speed", "20") as records:
        yield {
            dev: (rec["gnmi"].rsplit(":", 1)[0], int(rec["gnmi"].rsplit(":", 1)[1]))
            for dev, rec in records.items()
        }
