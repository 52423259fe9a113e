"""A 5-router lab comes up routed and observable, and ``lab down`` leaves nothing behind;
two labs in two lab directories run side by side without touching each other."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.graph.discovery.snmp import walk_lldp
from netvigil.lab import runner
from netvigil.lab.state import LabState, bridge_name
from netvigil.lab.system import alive, netns_exists, run
from tests.conftest import shared_data


@pytest.fixture()
def lab(lab_host: None, lab_dir: Path) -> Iterator[LabState]:
    topo = shared_data("topologies", "Nsfnet.graphml")
    state = runner.up(str(topo), max_routers=5, traffic=True, timeout_s=60)
    try:
        yield state
    finally:
        runner.down()


def test_lab_routes_answers_snmp_and_lldp_and_down_removes_everything(lab: LabState) -> None:
    st = runner.status()
    assert st["running"] and len(st["routers"]) == 5
    assert st["ready_s"] is not None and st["ready_s"] <= 60
    first, last = lab.plan.routers[0], lab.plan.routers[-1]
    # routed: the first router reaches the last one's loopback through OSPF
    routes = json.loads(run(["ip", "-n", first.netns, "-j", "route", "get", last.loopback]))
    assert routes and routes[0].get("gateway", "").startswith("198.18.")
    # each router's LLDP-MIB (lldpd through snmpd's AgentX) names its real neighbours
    creds = lab.credentials
    for r in lab.plan.routers:
        sysname, rows = asyncio.run(walk_lldp(r.mgmt, community=creds.community, timeout=2))
        assert sysname == r.name
        got = {(n.local_port, n.remote_system, n.remote_port) for n in rows}
        want = {(i.name, i.peer, i.peer_interface) for i in r.interfaces}
        assert got == want
    # the IF-MIB speed is the scaled capacity
    r = lab.plan.routers[0]
    i = r.interfaces[0]
    speeds = run(
        ["snmpwalk", "-v2c", "-c", creds.community, "-Oqv", r.mgmt, "1.3.6.1.2.1.31.1.1.1.15"]
    )
    assert str(int(i.capacity_bps // 1e6)) in speeds.split()
    pids = [p.pid for p in lab.procs]
    assert all(alive(p) for p in pids)
    res = runner.down()
    assert res["still_running"] == []
    assert not any(alive(p) for p in pids)
    assert not any(netns_exists(r.netns) for r in lab.plan.routers)
    assert lab.bridge == bridge_name()
    assert not Path(f"/sys/class/net/{lab.bridge}").exists()


def _udp(netns: str) -> dict[str, int]:
    """The namespace's UDP counters (``/proc/net/snmp``)."""
    names, values = [
        line.split()[1:]
        for line in run(["ip", "netns", "exec", netns, "cat", "/proc/net/snmp"]).splitlines()
        if line.startswith("Udp:")
    ]
    return dict(zip(names, map(int, values), strict=True))


def test_the_traffic_ends_in_the_routers_without_an_icmp_answer(lab: LabState) -> None:
    # a datagram to a closed port draws an ICMP port unreachable back over the links (a third
    # more bits than the demand on the slow links of docs/lab.md); the sinks take them
    routers = [r.netns for r in lab.plan.routers]
    before = {ns: _udp(ns) for ns in routers}

    def arrived() -> int:  # datagrams that reached the routers' UDP since ``before``
        now = {ns: _udp(ns) for ns in routers}
        return sum(
            now[ns][k] - before[ns][k]
            for ns in routers
            for k in ("InDatagrams", "RcvbufErrors", "NoPorts")
        )

    deadline = time.monotonic() + 60
    while arrived() < 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert arrived() >= 200
    after = {ns: _udp(ns) for ns in routers}
    assert {ns: after[ns]["NoPorts"] - before[ns]["NoPorts"] for ns in routers} == dict.fromkeys(
        routers, 0
    )


def test_a_second_up_after_a_crash_cleans_up_what_the_dead_run_left(
    lab_host: None, lab_dir: Path
) -> None:
    topo = str(shared_data("topologies", "Nsfnet.graphml"))
    first = runner.up(topo, max_routers=3, traffic=False, timeout_s=60)
    old = [p.pid for p in first.procs]
    # a crash: the CLI that made the lab is gone; its processes and namespaces are not
    second = runner.up(topo, max_routers=3, traffic=False, timeout_s=60)
    try:
        assert not any(alive(p) for p in old)
        assert all(alive(p.pid) for p in second.procs)
    finally:
        runner.down()
    assert not (lab_dir / "state.json").exists()


def test_two_labs_in_two_directories_run_side_by_side_and_come_down_apart(
    lab_host: None, lab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topo = str(shared_data("topologies", "Nsfnet.graphml"))
    first = runner.up(topo, max_routers=3, traffic=False, timeout_s=60)
    other = Path(f"{lab_dir}-other")
    try:
        monkeypatch.setenv("NETVIGIL_LAB_DIR", str(other))
        # a bring-up in another directory must neither take the first lab for a dead run
        # of its own nor share its names or management network
        second = runner.up(topo, max_routers=3, traffic=False, timeout_s=60)
        try:
            assert all(alive(p.pid) for p in first.procs)
            assert not set(first.netns) & set(second.netns)
            assert first.bridge != second.bridge
            assert first.plan.mgmt_gateway != second.plan.mgmt_gateway
            for state in (first, second):  # each lab's agents answer on its own network
                for r in state.plan.routers:
                    sysname, _ = asyncio.run(
                        walk_lldp(r.mgmt, community=state.credentials.community, timeout=2)
                    )
                    assert sysname == r.name
        finally:
            res = runner.down()
        assert res["still_running"] == []
        assert not any(netns_exists(ns) for ns in second.netns)
        assert all(alive(p.pid) for p in first.procs)
        assert all(netns_exists(ns) for ns in first.netns)
    finally:
        monkeypatch.setenv("NETVIGIL_LAB_DIR", str(lab_dir))
        runner.down()
        shutil.rmtree(other, ignore_errors=True)
    assert not any(netns_exists(ns) for ns in first.netns)
