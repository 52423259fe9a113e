"""The twin's SNMP agents answer net-snmp's tools, and its traps reach net-snmp's snmptrapd."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.common import Server, free_port
from tests.integration.conftest import serve_twin

pytestmark = pytest.mark.integration
ENV = {**os.environ, "MIBS": "", "MIBDIRS": ""}
V3 = [
    "-v3",
    "-l",
    "authPriv",
    "-u",
    "netvigil",
    "-a",
    "SHA",
    "-A",
    "netvigil-auth-key",
    "-x",
    "AES",
    "-X",
    "netvigil-priv-key",
]


def tool(*args: str) -> str:
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} missing: run scripts/system-deps.sh")
    out = subprocess.run(["timeout", "20", *args], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def trapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    run_dir = tmp_path_factory.mktemp("trapd")
    port = free_port()
    conf = run_dir / "snmptrapd.conf"
    conf.write_text("disableAuthorization yes\n")
    server = Server("snmptrapd", run_dir)
    server.spawn(
        [
            "snmptrapd",
            "-f",
            "-Lf",
            str(run_dir / "traps.log"),
            "-On",
            "-C",
            "-c",
            str(conf),
            f"udp:127.0.0.1:{port}",
        ],
        env={"MIBS": "", "MIBDIRS": ""},
    )
    time.sleep(1.0)
    yield port, run_dir / "traps.log"
    server.stop()


@pytest.fixture(scope="module")
def twin(trapd: tuple[int, Path]) -> Iterator[dict[str, dict[str, str]]]:
    args = ["--speed", "300", "--snmp", "--faults", "--traps", f"127.0.0.1:{trapd[0]}"]
    with serve_twin(*args) as devices:
        yield devices


def test_snmpwalk_v2c_reads_if_mib(twin: dict[str, dict[str, str]]) -> None:
    target = twin["core1"]["snmp"]
    names = tool("snmpwalk", "-v2c", "-c", "public", "-On", "-Oq", target, "1.3.6.1.2.1.31.1.1.1.1")
    assert names.count("GigabitEthernet0/0/") == 5
    first = tool(
        "snmpget", "-v2c", "-c", "public", "-On", "-Oqv", target, "1.3.6.1.2.1.31.1.1.1.10.1"
    )
    time.sleep(1.0)
    second = tool(
        "snmpget", "-v2c", "-c", "public", "-On", "-Oqv", target, "1.3.6.1.2.1.31.1.1.1.10.1"
    )
    assert int(second) > int(first)  # ifHCOutOctets grows


def test_snmpbulkwalk_v3_authpriv_reads_lldp_neighbours(twin: dict[str, dict[str, str]]) -> None:
    out = tool("snmpbulkwalk", *V3, "-On", "-Oq", twin["edge3"]["snmp"], "1.0.8802.1.1.2.1.4.1.1.9")
    assert sorted(line.split(" ", 1)[1].strip('"') for line in out.splitlines()) == [
        "core3",
        "core4",
    ]


def test_wrong_community_gets_no_answer(twin: dict[str, dict[str, str]]) -> None:
    out = subprocess.run(
        [
            "snmpget",
            "-v2c",
            "-c",
            "wrong",
            "-t",
            "0.5",
            "-r",
            "0",
            twin["core1"]["snmp"],
            "1.3.6.1.2.1.1.5.0",
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert out.returncode != 0 and "Timeout" in out.stderr


def test_link_down_traps_reach_snmptrapd(
    twin: dict[str, dict[str, str]], trapd: tuple[int, Path]
) -> None:
    log = trapd[1]
    deadline = time.monotonic() + 30  # the first fault comes after 30 simulated minutes
    while time.monotonic() < deadline:
        if log.exists() and ".1.3.6.1.6.3.1.1.5.3" in log.read_text():
            break
        time.sleep(0.5)
    text = log.read_text()
    assert ".1.3.6.1.6.3.1.1.5.3" in text  # linkDown
    assert "127.1.0." in text  # from the device's own address
