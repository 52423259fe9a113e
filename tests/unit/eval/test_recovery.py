"""Repair ground truth: when a fault's effect starts and ends in the twin, and what ended it."""

from __future__ import annotations

from netvigil.eval.recovery import RecoveryWatch
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import Change, apply_change, undo_change

T0 = 1_767_571_200.0
STEP = 60.0


def run(net: TwinNetwork, watch: RecoveryWatch, start: float, end: float, actions=None) -> None:
    t = start
    while t <= end:
        for at, act in (actions or {}).items():
            if at == t:
                act()
        net.step(t)
        watch(t)
        t += STEP


def test_a_hung_link_expires_unless_reset() -> None:
    topo = load_topology(None)
    f = Fault("link_down", "core1--edge1", T0 + 600, T0 + 1800)
    net = TwinNetwork(topo, [f], seed=1)
    watch = RecoveryWatch(net, [f])
    run(net, watch, T0, T0 + 2400)
    (r,) = watch.recoveries
    assert r.onset == f.start and r.cleared == f.end
    assert r.cleared_by == "expired" and r.repair_s == 1200.0

    net = TwinNetwork(topo, [f], seed=1)
    watch = RecoveryWatch(net, [f])
    reset = Change(restore=frozenset({f.target}))
    run(net, watch, T0, T0 + 2400, {T0 + 900: lambda: apply_change(net, reset, T0 + 900)})
    (r,) = watch.recoveries
    assert r.cleared == T0 + 900 and r.cleared_by == "change" and r.repair_s == 300.0


def test_congestion_is_cleared_by_a_policer_and_returns_on_rollback() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    f = Fault("congestion", lk.id, T0 + 600, T0 + 3600, magnitude=1.3, direction=lk.a)
    net = TwinNetwork(topo, [f], seed=1)
    watch = RecoveryWatch(net, [f])
    police = Change(policers={lk.id: 0.6})
    run(
        net,
        watch,
        T0,
        T0 + 1500,
        {T0 + 900: lambda: apply_change(net, police, T0 + 900)},
    )
    (r,) = watch.recoveries
    assert r.onset == f.start and r.cleared == T0 + 900 and not r.settled
    # the change is rolled back: congestion returns, the repair no longer counts
    run(net, watch, T0 + 1560, T0 + 2000, {T0 + 1560: lambda: undo_change(net, police)})
    assert r.cleared is None and r.cleared_by is None and r.repair_s is None
    run(net, watch, T0 + 2040, T0 + 3700)
    assert r.cleared == f.end and r.cleared_by == "expired" and r.settled


def test_a_ramp_harms_only_from_saturation_and_benign_faults_are_ignored() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    ramp = Fault("growth_ramp", lk.id, T0 + 600, T0 + 600 + 7200, magnitude=1.3, direction=lk.a)
    burst = Fault("traffic_burst", lk.id, T0 + 60, T0 + 300, magnitude=0.2, direction=lk.b)
    net = TwinNetwork(topo, [ramp, burst], seed=1)
    watch = RecoveryWatch(net, [ramp, burst])
    assert [r.fault for r in watch.recoveries] == [ramp]
    run(net, watch, T0, ramp.end + 120)
    (r,) = watch.recoveries
    assert r.onset is not None and ramp.start + 600 < r.onset < ramp.end
    util, _ = net.expected_load(r.onset - STEP)
    assert util[(lk.id, lk.a)] < 0.9  # the step before the onset was not saturated yet
    assert r.cleared_by == "expired"


def test_a_fault_never_present_is_not_a_repair() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    f = Fault("congestion", lk.id, T0 + 600, T0 + 1200, magnitude=1.3, direction=lk.a)
    net = TwinNetwork(topo, [f], seed=1)
    net.policers[lk.id] = 0.5  # policed before the surge starts: it never congests
    watch = RecoveryWatch(net, [f])
    run(net, watch, T0, T0 + 1500)
    (r,) = watch.recoveries
    assert r.onset is None and r.cleared_by == "never_present" and r.repair_s is None
    assert r.settled
