"""The SNMP poller and trap receiver against net-snmp's snmpd and snmptrap."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from netvigil.collectors.snmp import SnmpPoller, SnmpTarget, TrapReceiver, V3User
from netvigil.events import DeadLetter, DeviceEvent, Event, Metric
from provision.servers import snmpd

from .conftest import netvigil

pytestmark = pytest.mark.integration

ENV = {"MIBS": "", "PATH": "/usr/bin:/bin"}


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_cli_v2c_poll_gives_status_rates_and_lldp_neighbours(agent: dict) -> None:
    r = netvigil(
        "collect",
        "snmp",
        "--target",
        f"127.0.0.1:{agent['port']}",
        "--community",
        "public",
        "--once",
        "--samples",
        "2",
        "--gap",
        "1",
    )
    assert r.returncode == 0, r.stderr
    events = _events(r.stdout)
    hostname = socket.gethostname()
    assert {e["device"] for e in events} == {hostname}  # named by sysName
    status = [e for e in events if e.get("name") == "if.oper_status"]
    assert {"interface": "lo"} in [e["labels"] for e in status]
    assert all(e["value"] == 1.0 for e in status if e["labels"]["interface"] == "lo")
    rates = [e for e in events if e.get("name") == "if.in_bps" and e["labels"]["interface"] == "lo"]
    assert len(rates) == 1 and rates[0]["value"] >= 0 and rates[0]["unit"] == "bps"
    lldp = [e for e in events if e.get("kind") == "lldp_neighbor"]
    assert len(lldp) == 1
    assert lldp[0]["entity"] == f"{hostname}:eth0"
    assert lldp[0]["attrs"]["remote_device"] == "core2"
    assert lldp[0]["attrs"]["remote_port"] == "Ethernet7"


def test_cli_v3_authpriv_poll(agent: dict) -> None:
    r = netvigil(
        "collect",
        "snmp",
        "--target",
        f"127.0.0.1:{agent['port']}",
        "--v3-user",
        str(agent["user"]),
        "--auth-key",
        str(agent["auth_key"]),
        "--priv-key",
        str(agent["priv_key"]),
        "--once",
        "--device",
        "lab1",
    )
    assert r.returncode == 0, r.stderr
    events = _events(r.stdout)
    assert any(e.get("name") == "if.oper_status" and e["device"] == "lab1" for e in events)


def test_cli_v3_wrong_key_reports_the_agent_unreachable(agent: dict) -> None:
    r = netvigil(
        "collect",
        "snmp",
        "--target",
        f"127.0.0.1:{agent['port']}",
        "--v3-user",
        str(agent["user"]),
        "--auth-key",
        "not-the-key-at-all",
        "--priv-key",
        str(agent["priv_key"]),
        "--once",
        "--timeout",
        "3",
    )
    assert r.returncode == 1
    (event,) = _events(r.stdout)
    assert event["kind"] == "unreachable" and event["attrs"]["target"].endswith(str(agent["port"]))


async def _run_for(poller: SnmpPoller, seconds: float) -> list[Event]:
    out: list[Event] = []

    async def emit(e: Event) -> None:
        out.append(e)

    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(emit, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return out


def test_dead_and_silent_agents_do_not_hold_up_a_healthy_one(agent: dict) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes requests, never answers
    silent.bind(("127.0.0.1", 0))
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there any more
    targets = [
        SnmpTarget("127.0.0.1", int(agent["port"]), device="healthy", lldp=False),
        SnmpTarget("127.0.0.1", silent.getsockname()[1], device="silent"),
        SnmpTarget("127.0.0.1", dead_port, device="dead"),
    ]
    poller = SnmpPoller(
        targets,
        interval_s=1.0,
        jitter_s=0.1,
        timeout_s=2.5,
        request_timeout_s=1.0,
        retries=1,
        max_concurrency=4,
    )
    try:
        events = asyncio.run(_run_for(poller, 5.0))
    finally:
        silent.close()
    healthy_polls = {e.ts for e in events if isinstance(e, Metric) and e.device == "healthy"}
    # every second, though the two bad targets each hold a slot for 2.5 s per poll
    assert len(healthy_polls) >= 3
    down = [e for e in events if isinstance(e, DeviceEvent) and e.kind == "unreachable"]
    assert sorted(e.device for e in down) == ["dead", "silent"]  # once each, not per poll
    assert poller.errors["timeout"] + poller.errors["deadline"] >= 2


def test_agent_restart_is_detected_and_gives_no_bogus_rate(tmp_path: Path) -> None:
    facts = snmpd.start(tmp_path)
    target = SnmpTarget("127.0.0.1", int(facts["port"]), device="r1", lldp=False)
    poller = SnmpPoller([target], timeout_s=5)

    async def scenario() -> tuple[list[Event], list[Event]]:
        await poller.poll_once(target)
        await asyncio.sleep(2.5)  # let sysUpTime grow beyond what a fresh agent shows
        before = await poller.poll_once(target)
        snmpd.stop(tmp_path)
        snmpd.start(tmp_path, port=int(facts["port"]))
        after = await poller.poll_once(target)
        poller.close()
        return before, after

    try:
        before, after = asyncio.run(scenario())
    finally:
        snmpd.stop(tmp_path)
    assert any(isinstance(e, Metric) and e.name == "if.in_bps" for e in before)
    assert [e.kind for e in after if isinstance(e, DeviceEvent)] == ["restart"]
    assert not any(isinstance(e, Metric) and e.name.endswith("_bps") for e in after)


def test_traps_and_informs_v2c_v3_and_bad_input_to_dead_letters() -> None:
    user = V3User("netvigil", "trap-auth-key-1", "trap-priv-key-1")

    async def scenario() -> tuple[list[Event], TrapReceiver]:
        receiver = TrapReceiver("127.0.0.1", 0, communities=["public"], v3_users=[user])
        port = await receiver.start()
        dest = f"127.0.0.1:{port}"
        v3 = [
            "-l",
            "authPriv",
            "-u",
            user.user,
            "-a",
            "SHA",
            "-A",
            user.auth_key,
            "-x",
            "AES",
            "-X",
            user.priv_key,
        ]
        commands = [
            [
                "snmptrap",
                "-v2c",
                "-c",
                "public",
                dest,
                "",
                "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.3",
                "i",
                "3",
                "1.3.6.1.2.1.31.1.1.1.1.3",
                "s",
                "Gi0/3",
            ],
            [
                "snmpinform",
                "-v2c",
                "-c",
                "public",
                dest,
                "",
                "1.3.6.1.6.3.1.1.5.4",
                "1.3.6.1.2.1.2.2.1.8.3",
                "i",
                "1",
            ],
            ["snmptrap", "-v3", "-e", "0x80001f8880aabbccdd", *v3, dest, "", "1.3.6.1.6.3.1.1.5.1"],
            [
                "snmpinform",
                "-v3",
                *v3,
                dest,
                "",
                "1.3.6.1.2.1.15.0.2",
                "1.3.6.1.2.1.15.3.1.14.10.0.0.2",
                "x",
                "0602",
            ],
            ["snmptrap", "-v2c", "-c", "guess", dest, "", "1.3.6.1.6.3.1.1.5.3"],
        ]
        out: list[Event] = []

        async def emit(e: Event) -> None:
            out.append(e)

        stop = asyncio.Event()
        task = asyncio.create_task(receiver.run(emit, stop))
        for cmd in commands:
            proc = await asyncio.create_subprocess_exec(*cmd, env=ENV)
            assert await proc.wait() == 0, cmd  # an inform returns only once it was answered
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x30\x03\x02\x01", ("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while len(out) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        return out, receiver

    events, receiver = asyncio.run(scenario())
    kinds = [(e.kind, e.entity) for e in events if isinstance(e, DeviceEvent)]
    assert kinds == [
        ("link_down", "127.0.0.1:Gi0/3"),
        ("link_up", "127.0.0.1:ifIndex3"),
        ("cold_start", ""),
        ("bgp_down", "10.0.0.2"),
    ]
    letters = [e for e in events if isinstance(e, DeadLetter)]
    assert [lt.reason.split(":")[0] for lt in letters] == ["bad_community", "asn1"]
    assert letters[1].raw == b"\x30\x03\x02\x01"
    assert receiver.counters.received >= 6 and receiver.handshakes >= 1
