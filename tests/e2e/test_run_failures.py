"""``netvigil run`` when it cannot do what it was configured to do: it exits non-zero with an
error line naming the setting, never a traceback, and never says "stopped cleanly"."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.common import free_port
from tests.conftest import netvigil

pytestmark = pytest.mark.e2e


def _run(data: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return netvigil("run", "--data-dir", str(data), *args, env=env)


def _failed(r: subprocess.CompletedProcess[str], expected: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "stopped cleanly" not in r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last, r.stderr


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port held by someone else, for TCP and UDP."""
    port = free_port()
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", port))
        tcp.listen()
        udp.bind(("127.0.0.1", port))
        yield port


def test_console_port_in_use(tmp_path: Path, taken: int) -> None:
    env = {"NETVIGIL_API__ENABLED": "true", "NETVIGIL_API__PORT": str(taken)}
    r = _run(tmp_path, env)
    _failed(r, f"api.port = {taken}: the console cannot listen on 127.0.0.1:{taken}")
    assert r.stdout == ""  # refused before anything ran


def test_collector_that_cannot_bind_stops_the_service(tmp_path: Path, taken: int) -> None:
    env = {"NETVIGIL_SYSLOG__HOST": "127.0.0.1", "NETVIGIL_SYSLOG__UDP_PORT": str(taken)}
    r = _run(tmp_path, env)
    _failed(r, "source syslog failed, so the service stopped: [Errno 98] Address already in use")
    assert "check the syslog.* settings" in r.stderr
    assert "stopped after an error" in r.stdout


def test_data_directory_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    r = _run(tmp_path / "file" / "data", {})
    _failed(r, "storage.data_dir = ")
    assert "cannot be written (Not a directory)" in r.stderr


def test_damaged_token_file(tmp_path: Path) -> None:
    (tmp_path / "api-tokens.json").write_text("{broken")
    env = {"NETVIGIL_API__ENABLED": "true", "NETVIGIL_API__PORT": str(free_port())}
    _failed(_run(tmp_path, env), "api-tokens.json is damaged")


def test_kafka_unreachable(tmp_path: Path) -> None:
    r = _run(tmp_path, {}, "--bus", f"kafka://127.0.0.1:{free_port()}")
    _failed(r, "is not reachable")
    assert "check bus.url" in r.stderr
    assert "stopped after an error" in r.stdout
