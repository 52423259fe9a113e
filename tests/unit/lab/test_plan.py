"""The lab's plan and rendered configuration: pure functions of a topology."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from netvigil.graph.base import Device, Link
from netvigil.graph.memory import MemoryTopology
from netvigil.lab import faults
from netvigil.lab.plan import (
    MAX_LINK_BPS,
    MGMT_PREFIX,
    MIN_LINK_BPS,
    LabPlan,
    hostname,
    lab_topology,
    mgmt_gateway,
    plan_lab,
    scale_of,
    select_routers,
)
from netvigil.lab.render import (
    IF_IN_ERRORS,
    LINE_COUNTER_PREFIX,
    LINE_TABLE,
    QUERY_USER,
    Credentials,
    frr_conf,
    line_errors_script,
    lldpd_conf,
    snmpd_conf,
    softflowd_argv,
)
from netvigil.lab.runner import free_slot
from netvigil.lab.state import bridge_name, lab_tag, netns_prefix
from netvigil.lab.system import LabError
from tests.conftest import shared_data


def _ring(n: int, cap: float = 10e9) -> MemoryTopology:
    t = MemoryTopology()
    names = [f"r{i} site" for i in range(n)]
    t.load(
        devices=[Device(x) for x in names],
        links=[
            Link(
                f"l{i}",
                names[i],
                f"{names[i]}:eth{2 * i}",
                names[(i + 1) % n],
                f"{names[(i + 1) % n]}:eth{2 * i + 1}",
                capacity_bps=cap if i else 155e6,
                igp_metric=10 + i,
            )
            for i in range(n)
        ],
    )
    return t


def test_hostnames_are_one_word_and_unique() -> None:
    assert hostname("New York, NY") == "New-York-NY"
    assert hostname("::") == "router"
    plan = plan_lab(_ring(4))
    names = [r.name for r in plan.routers]
    assert len(set(names)) == 4 and all(" " not in n for n in names)


def test_link_addresses_are_distinct_31s_and_each_end_has_its_peer() -> None:
    plan = plan_lab(_ring(6))
    seen = set()
    for lk in plan.links:
        a, b = ipaddress.ip_interface(lk.a_addr), ipaddress.ip_interface(lk.b_addr)
        assert a.network == b.network and a.network.prefixlen == 31
        assert a.ip != b.ip and a.network not in seen
        assert a.network.subnet_of(ipaddress.ip_network("198.18.0.0/15"))
        seen.add(a.network)
    for r in plan.routers:
        for i in r.interfaces:
            peer = plan.router(i.peer)
            back = next(x for x in peer.interfaces if x.name == i.peer_interface)
            assert back.peer == r.name and back.link == i.link
    assert len({r.loopback for r in plan.routers}) == 6
    assert len({r.mgmt for r in plan.routers}) == 6
    assert len({r.netns for r in plan.routers}) == 6


def test_capacities_scale_by_a_power_of_ten_and_slow_links_are_raised() -> None:
    assert scale_of([10e9, 1e9]) == pytest.approx(1e-3)
    assert scale_of([100e9]) == pytest.approx(1e-4)
    assert scale_of([1e6]) == 1.0
    plan = plan_lab(_ring(4))
    assert max(lk.capacity_bps for lk in plan.links) <= MAX_LINK_BPS
    slow = [lk for lk in plan.links if lk.original_bps == 155e6]
    assert slow and all(lk.raised and lk.capacity_bps == MIN_LINK_BPS for lk in slow)
    topo = _ring(4)
    metric = {frozenset((lk.a, lk.b)): lk.igp_metric for lk in topo.links()}
    for lk in plan.links:
        assert lk.cost == metric[frozenset((lk.a.replace("-", " "), lk.b.replace("-", " ")))]


def test_max_routers_keeps_a_connected_part() -> None:
    topo = _ring(8)
    chosen = select_routers(topo, 4)
    assert len(chosen) == 4
    plan = plan_lab(topo, max_routers=4)
    # every chosen router keeps at least one link: the part is connected
    assert all(r.interfaces for r in plan.routers)


def test_plan_round_trips_through_its_dict() -> None:
    plan = plan_lab(_ring(5))
    assert LabPlan.from_dict(plan.to_dict()) == plan


def test_lab_topology_has_the_lab_names_and_scaled_capacities() -> None:
    plan = plan_lab(_ring(5))
    topo = lab_topology(plan)
    assert sorted(d.name for d in topo.devices()) == sorted(r.name for r in plan.routers)
    for lk in plan.links:
        got = topo.link(lk.id)
        assert got.capacity_bps == lk.capacity_bps and got.igp_metric == lk.cost


def test_frr_config_has_ospf_per_link_with_its_cost_and_fast_timers() -> None:
    plan = plan_lab(_ring(5))
    r = plan.routers[0]
    conf = frr_conf(r, plan)
    assert f"hostname {r.name}" in conf and f"ospf router-id {r.loopback}" in conf
    for i in r.interfaces:
        block = conf.split(f"interface {i.name}\n", 1)[1].split("exit", 1)[0]
        assert f"ip ospf cost {i.cost}" in block
        assert "ip ospf hello-interval 1" in block and "ip ospf dead-interval 4" in block
    assert "format rfc5424" in conf
    bgp = [x for x in plan.routers if x.bgp]
    assert len(bgp) == 3
    bconf = frr_conf(bgp[0], plan)
    for other in bgp[1:]:
        assert f"neighbor {other.loopback} remote-as" in bconf
    assert "router bgp" not in frr_conf(next(x for x in plan.routers if not x.bgp), plan)


def test_snmpd_lldpd_softflowd_config() -> None:
    plan = plan_lab(_ring(5))
    r = plan.routers[1]
    creds = Credentials()
    conf = snmpd_conf(r, plan, creds, "/x/agentx.sock", "/x/line-errors.sh")
    assert f"pass {IF_IN_ERRORS} /bin/sh /x/line-errors.sh" in conf
    assert f"agentAddress udp:{r.mgmt}:161" in conf
    assert f"rocommunity {creds.community}" in conf and f"createUser {creds.user} SHA" in conf
    for i in r.interfaces:
        assert f"interface {i.name} 6 {int(i.capacity_bps)}" in conf
    assert "agentXSocket /x/agentx.sock" in conf
    assert f"trap2sink {plan.collectors.traps}" in conf
    # link traps: the Event MIB samples ifOperStatus every second through an internal user
    # the agent lets read at authNoPriv (without it every sample fails and nothing is sent)
    assert f"iquerySecName {QUERY_USER}" in conf and f"rouser {QUERY_USER} auth" in conf
    assert f"createUser {QUERY_USER} SHA" in conf and f"agentSecName {QUERY_USER}" in conf
    monitors = [line for line in conf.splitlines() if line.startswith("monitor ")]
    assert len(monitors) == 2 and all("-r 1 " in m for m in monitors)
    assert any(m.endswith(".1.3.6.1.2.1.2.2.1.8 != 1") for m in monitors)
    assert f"configure system hostname {r.name}" in lldpd_conf(r)
    argv = softflowd_argv(7, "eth3", "198.19.0.1:2055", "/p", "/c")
    assert argv[argv.index("-i") + 1] == "7:eth3" and argv[argv.index("-v") + 1] == "10"


def test_a_zoo_graph_plans() -> None:
    from netvigil.graph.importers import load_topology

    topo = load_topology(shared_data("topologies", "Nsfnet.graphml"))
    plan = plan_lab(topo, max_routers=11)
    assert len(plan.routers) == 11 and len(plan.links) >= 10


def test_a_receiver_s_input_errors_are_the_frames_its_peer_s_line_dropped() -> None:
    plan = plan_lab(_ring(5))
    r = plan.routers[1]
    script = line_errors_script(r, plan)
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    for i in r.interfaces:  # each interface reads its peer's counter, in the peer's namespace
        peer = plan.router(i.peer)
        assert f"{i.name}) ns={peer.netns}; pif={i.peer_interface} ;;" in script
    assert f"nft list counter netdev {LINE_TABLE}" in script
    assert f'"{LINE_COUNTER_PREFIX}$pif"' in script
    rule = faults._loss_rule("eth2", 0.05)
    assert 'hook egress device "eth2"' in rule
    assert f'numgen random mod 1000 < 50 counter name "{LINE_COUNTER_PREFIX}eth2" drop' in rule


def test_a_lab_in_another_slot_and_directory_has_its_own_names_and_network() -> None:
    first = plan_lab(_ring(4))
    second = plan_lab(_ring(4), netns_prefix="nvl1a2b-", slot=3)
    assert [r.netns for r in first.routers] == ["nvl-0", "nvl-1", "nvl-2", "nvl-3"]
    assert first.routers[2].host_veth == "nvm-2"
    assert [r.netns for r in second.routers][:2] == ["nvl1a2b-0", "nvl1a2b-1"]
    assert second.routers[2].host_veth == "nvm1a2b-2"
    assert all(len(r.host_veth) <= 15 and len(r.netns) <= 15 for r in second.routers)
    assert first.mgmt_gateway == "198.19.0.1" and second.mgmt_gateway == "198.19.48.1"
    # each lab's agents are on its own /20, its collectors at its own bridge address
    for plan in (first, second):
        net = ipaddress.ip_network(f"{plan.mgmt_gateway}/{MGMT_PREFIX}", strict=False)
        assert all(ipaddress.ip_address(r.mgmt) in net for r in plan.routers)
        assert plan.collectors.syslog.rpartition(":")[0] == plan.mgmt_gateway
    nets = [
        ipaddress.ip_network(f"{mgmt_gateway(s)}/{MGMT_PREFIX}", strict=False) for s in range(16)
    ]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    with pytest.raises(ValueError):
        plan_lab(_ring(4), slot=16)
    with pytest.raises(ValueError):
        plan_lab(_ring(4), netns_prefix="lab-")


def test_a_lab_directory_names_its_lab_and_a_free_slot_is_taken() -> None:
    default = Path("/run/netvigil-lab")
    assert (lab_tag(default), netns_prefix(default), bridge_name(default)) == ("", "nvl-", "nvlab0")
    a, b = Path("/run/netvigil-lab-a"), Path("/run/netvigil-lab-b")
    assert lab_tag(a) != lab_tag(b) and len(lab_tag(a)) == 4
    assert netns_prefix(a) == f"nvl{lab_tag(a)}-" and bridge_name(a) == f"nvlab{lab_tag(a)}"
    assert netns_prefix(a) != netns_prefix(default) and not netns_prefix(a).startswith("nvl-")
    assert free_slot(set()) == 0
    assert free_slot({"127.0.0.1", "198.19.0.1"}) == 1
    assert free_slot({"198.19.0.1", "198.19.16.1"}, preferred=15) == 15
    assert free_slot({mgmt_gateway(15)}, preferred=15) == 0
    with pytest.raises(LabError, match="in use"):
        free_slot({mgmt_gateway(s) for s in range(16)})
