"""Fault scheduling and the lab executor's translation of operations: pure parts."""

from __future__ import annotations

from collections import Counter

import pytest

from netvigil.graph.base import Device, Link
from netvigil.graph.memory import MemoryTopology
from netvigil.lab.faults import LAB_FAULT_KINDS, SCHEDULED_KINDS, schedule
from netvigil.lab.plan import LabPlan, plan_lab
from netvigil.resolvers.base import Op
from netvigil.resolvers.executors.lab import lab_commands

METRIC = (
    "/network-instances/network-instance[name=default]/protocols/protocol[identifier=ISIS]"
    "[name=0]/isis/interfaces/interface[interface-id={}]/levels/level[level-number=2]"
    "/config/metric"
)


def _plan() -> LabPlan:
    # a square a-b-c-d with a tail d-e: d is a cut router (e hangs off it)
    t = MemoryTopology()
    pairs = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("d", "e")]
    t.load(
        devices=[Device(n) for n in "abcde"],
        links=[
            Link(f"{x}--{y}", x, f"{x}:eth{i}", y, f"{y}:eth{i + 5}", capacity_bps=10e9)
            for i, (x, y) in enumerate(pairs)
        ],
    )
    return plan_lab(t)


def test_schedule_rotates_kinds_is_deterministic_and_avoids_cut_routers() -> None:
    plan = _plan()
    kinds = list(SCHEDULED_KINDS)
    one = schedule(plan, kinds=kinds, count=16, first=100.0, interval=60.0, duration=30.0, seed=3)
    two = schedule(plan, kinds=kinds, count=16, first=100.0, interval=60.0, duration=30.0, seed=3)
    assert one == two
    assert [f.kind for f in one] == kinds * 2
    assert [f.start for f in one] == [100.0 + 60.0 * i for i in range(16)]
    for f in one:
        if LAB_FAULT_KINDS[f.kind] == "device":
            assert f.target != "d"  # its loss would cut e off
        else:
            assert f.target in {lk.id for lk in plan.links}
        if f.kind == "congestion":
            lk = plan.link(f.target)
            assert f.direction in (lk.a, lk.b)
    # a target is not reused before every candidate was used
    assert max(Counter(f.target for f in one if f.kind == "link_down").values()) == 1


def test_schedule_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown lab fault kinds"):
        schedule(_plan(), kinds=["meteor"], count=1, first=0, interval=1, duration=1, seed=1)


def test_operations_become_the_lab_commands() -> None:
    plan = _plan()
    r = plan.router("a")
    ifname = r.interfaces[0].name
    cap = r.interfaces[0].capacity_bps
    enabled = f"/interfaces/interface[name={ifname}]/config/enabled"
    qos = f"/qos/interfaces/interface[interface-id={ifname}]/output/scheduler-policy/config/name"
    ops = [
        Op("a", "update", enabled, False),
        Op("a", "update", enabled, True),
        Op("a", "update", METRIC.format(ifname), 50),
        Op("a", "update", qos, "netvigil-police-60"),
        Op("a", "delete", qos),
    ]
    cmds, unknown = lab_commands(plan, ops)
    assert unknown == []
    assert cmds[0] == ["ip", "-n", r.netns, "link", "set", ifname, "down"]
    assert cmds[1][-1] == "up"
    assert cmds[2][:3] == ["vtysh", "-N", r.netns] and "ip ospf cost 50" in cmds[2]
    assert f"{int(cap * 0.6)}bit" in cmds[3] and "5001" in cmds[4]
    assert cmds[5][3:5] == ["filter", "del"] and cmds[6][3:5] == ["class", "del"]
    _, unknown = lab_commands(plan, [Op("zz", "update", enabled, 1), Op("a", "update", "/y", 1)])
    assert len(unknown) == 2
