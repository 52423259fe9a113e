"""The twin: deterministic for a seed, faults change what devices report, routing follows."""

from __future__ import annotations

from netvigil.events import DeviceEvent, Metric
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault, schedule_faults
from netvigil.twin.network import TwinNetwork

T0 = 1_767_571_200.0


def metrics(events: list, name: str) -> dict[str, float]:
    return {e.entity: e.value for e in events if isinstance(e, Metric) and e.name == name}


def test_same_seed_same_telemetry() -> None:
    topo = load_topology(None)
    a, b = TwinNetwork(topo, seed=3), TwinNetwork(topo, seed=3)
    c = TwinNetwork(topo, seed=4)
    ea = [a.step(T0 + 10 * i) for i in range(5)]
    eb = [b.step(T0 + 10 * i) for i in range(5)]
    ec = [c.step(T0 + 10 * i) for i in range(5)]
    assert ea == eb
    assert ea != ec


def test_normal_load_is_below_congestion() -> None:
    net = TwinNetwork(load_topology(None), seed=1)
    for h in range(0, 24):
        util = metrics(net.step(T0 + 3600 * h), "if.out_util")
        assert 0 < max(util.values()) < 0.7


def test_link_down_reroutes_and_reports() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    fault = Fault("link_down", lk.id, T0 + 100, T0 + 200)
    net = TwinNetwork(topo, [fault], seed=1)
    before = net.step(T0 + 90)
    during = net.step(T0 + 100)
    st = metrics(during, "if.oper_status")
    assert st[lk.a_if] == 0 and st[lk.b_if] == 0
    downs = {e.entity for e in during if isinstance(e, DeviceEvent) and e.kind == "link_down"}
    assert downs == {lk.a_if, lk.b_if}
    other = topo.link("core2--edge1")
    assert (
        metrics(during, "if.out_bps")[other.b_if] > 1.5 * metrics(before, "if.out_bps")[other.b_if]
    )
    after = net.step(T0 + 200)
    ups = {e.entity for e in after if isinstance(e, DeviceEvent) and e.kind == "link_up"}
    assert ups == {lk.a_if, lk.b_if}


def test_node_down_silences_the_device_and_its_neighbours_see_it() -> None:
    topo = load_topology(None)
    net = TwinNetwork(topo, [Fault("node_down", "edge2", T0, T0 + 100)], seed=1)
    events = net.step(T0)
    assert not [e for e in events if isinstance(e, Metric) and e.device == "edge2"]
    assert any(
        isinstance(e, DeviceEvent) and e.kind == "unreachable" and e.device == "edge2"
        for e in events
    )
    st = metrics(events, "if.oper_status")
    for lk in topo.links_of("edge2"):
        assert st[lk.end(lk.other("edge2"))] == 0
    assert net.unreachable_demand_bps > 0


def test_congestion_saturates_the_link_in_its_direction() -> None:
    topo = load_topology(None)
    lk = topo.link("core2--core3")
    net = TwinNetwork(topo, [Fault("congestion", lk.id, T0, T0 + 100, 1.3, "core3")], seed=1)
    util = metrics(net.step(T0), "if.out_util")
    assert util[lk.end("core3")] >= 0.99
    assert util[lk.end("core2")] < 0.7


def test_a_congestion_whose_sender_does_not_answer_shows_at_its_far_end_only() -> None:
    """The lab's Marnet morning run: the congested link's sending router did not answer its
    polls while the far end counted the link full. The twin's form: the sender unreachable
    after ``down_after`` failed polls, none of its polled metrics, and the far end's
    received utilization (reported with ``received_util``, as the collectors derive it)
    at the link's capacity: the sender still forwards."""
    topo = load_topology(None)
    lk = topo.link("core2--core3")
    far = lk.end("core2")
    fault = Fault("congestion", lk.id, T0 + 20, T0 + 80, 1.3, "core3", sender_answers=False)
    net = TwinNetwork(
        topo, [fault], seed=1, poll_reachability=True, down_after=2, received_util=True
    )
    steps = [net.step(T0 + 10 * i) for i in range(10)]
    said = [
        (i, e.kind)
        for i, ev in enumerate(steps)
        for e in ev
        if isinstance(e, DeviceEvent) and e.device == "core3"
    ]
    assert said == [(3, "unreachable"), (8, "reachable")]
    for ev in steps[2:8]:
        assert {m.name for m in ev if isinstance(m, Metric) and m.device == "core3"} <= {
            "reachability"
        }
        assert metrics(ev, "if.in_util")[far] >= 0.99
    before = steps[0]
    assert metrics(before, "if.in_util")[far] < 0.7
    for e, util in metrics(before, "if.in_util").items():
        cap = topo.link(topo.interface(e).link or "").capacity_bps
        assert util == metrics(before, "if.in_bps")[e] / cap
    assert not metrics(TwinNetwork(topo, seed=1).step(T0), "if.in_util")  # not asked for


def test_schedule_rotates_kinds_and_is_deterministic() -> None:
    topo = load_topology(None)
    kw = dict(
        kinds=["link_down", "congestion", "node_down"],
        count=6,
        first=T0,
        interval=900.0,
        duration=300.0,
        seed=5,
    )
    a, b = schedule_faults(topo, **kw), schedule_faults(topo, **kw)  # type: ignore[arg-type]
    assert a == b
    assert [f.kind for f in a] == ["link_down", "congestion", "node_down"] * 2
    assert all(topo.has(f.target) for f in a)
    assert [f.start for f in a] == [T0 + 900 * i for i in range(6)]


def test_growth_ramp_raises_utilisation_steadily_until_saturation() -> None:
    from netvigil.graph.importers import load_topology
    from netvigil.twin.faults import schedule_faults
    from netvigil.twin.network import TwinNetwork

    topo = load_topology(None)
    (ramp,) = schedule_faults(
        topo, kinds=["growth_ramp"], count=1, first=0.0, interval=1.0, duration=3600.0, seed=3
    )
    net = TwinNetwork(topo, [ramp], seed=3)
    lk = topo.link(ramp.target)
    entity = lk.end(ramp.direction)

    def util(t: float) -> float:
        return next(
            e.value
            for e in net.step(t)
            if getattr(e, "name", "") == "if.out_util" and e.entity == entity  # type: ignore[attr-defined]
        )

    samples = [util(t) for t in (0.0, 1200.0, 2400.0, 3590.0)]
    assert samples == sorted(samples)
    assert samples[-1] >= 0.99  # saturated by the end of the ramp
    assert util(4000.0) < 0.9  # the ramp is over


def kinds_by_entity(events: list, *kinds: str) -> dict[str, str]:
    return {e.entity: e.kind for e in events if isinstance(e, DeviceEvent) and e.kind in kinds}


def test_routing_crash_keeps_interfaces_up_and_neighbours_route_around() -> None:
    topo = load_topology(None)
    crash = Fault("routing_crash", "core2", T0 + 100, T0 + 200)
    net = TwinNetwork(topo, [crash], seed=1)
    net.step(T0 + 90)
    during = net.step(T0 + 100)
    facing = {lk.end(lk.other("core2")) for lk in topo.links_of("core2")}
    own = {lk.end("core2") for lk in topo.links_of("core2")}
    both = facing | own  # a daemon stopping logs its own adjacencies down, as FRRouting's does
    assert kinds_by_entity(during, "ospf_down", "ospf_up") == dict.fromkeys(both, "ospf_down")
    assert not kinds_by_entity(during, "link_down", "unreachable")
    process = [(e.device, e.kind) for e in during if isinstance(e, DeviceEvent)]
    assert ("core2", "routing_process_down") in process
    st = metrics(during, "if.oper_status")
    util = metrics(during, "if.out_util")
    for lk in topo.links_of("core2"):
        assert st[lk.a_if] == st[lk.b_if] == 1
        assert util[lk.a_if] == util[lk.b_if] == 0  # no route through it
    assert net.unreachable_demand_bps > 0  # its own traffic has no route
    after = net.step(T0 + 200)
    assert kinds_by_entity(after, "ospf_down", "ospf_up") == dict.fromkeys(both, "ospf_up")
    assert ("core2", "routing_process_up") in [
        (e.device, e.kind) for e in after if isinstance(e, DeviceEvent)
    ]


def test_mtu_mismatch_and_cost_misconfig_move_traffic_off_a_link_that_stays_up() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--core2")
    for kind, adjacency in (("mtu_mismatch", "ospf_down"), ("cost_misconfig", None)):
        net = TwinNetwork(topo, [Fault(kind, lk.id, T0 + 100, T0 + 200)], seed=1)
        before = metrics(net.step(T0 + 90), "if.out_util")
        during = net.step(T0 + 100)
        util = metrics(during, "if.out_util")
        assert before[lk.a_if] > 0.01 and util[lk.a_if] == 0
        assert metrics(during, "if.oper_status")[lk.a_if] == 1
        got = kinds_by_entity(during, "ospf_down")
        # the mismatch is logged by the end that kept its MTU (b: a is lowered by default)
        assert got == ({lk.b_if: adjacency} if adjacency else {})


def test_an_mtu_mismatch_is_logged_by_the_end_that_kept_its_mtu_only() -> None:
    """The lab's one-sided form: the lowered end sits in ExStart and logs nothing; both
    directions leave routing; the end that logged it logs Full again after."""
    topo = load_topology(None)
    lk = topo.link("core1--core2")
    for lowered, logging in ((lk.a, lk.b_if), (lk.b, lk.a_if)):
        f = Fault("mtu_mismatch", lk.id, T0 + 100, T0 + 200, direction=lowered)
        net = TwinNetwork(topo, [f], seed=1)
        net.step(T0 + 90)
        during = net.step(T0 + 100)
        assert kinds_by_entity(during, "ospf_down", "ospf_up") == {logging: "ospf_down"}
        util = metrics(during, "if.out_util")
        assert util[lk.a_if] == util[lk.b_if] == 0
        after = net.step(T0 + 200)
        assert kinds_by_entity(after, "ospf_down", "ospf_up") == {logging: "ospf_up"}


def test_a_link_shut_at_one_end_is_admin_down_there_and_down_at_the_other() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    net = TwinNetwork(topo, [Fault("link_down", lk.id, T0, T0 + 100, direction=lk.a)], seed=1)
    during = net.step(T0)
    events = {(e.entity, e.kind) for e in during if isinstance(e, DeviceEvent)}
    assert events == {(lk.a_if, "admin_down"), (lk.b_if, "link_down"), (lk.b_if, "ospf_down")}
    status = metrics(during, "if.oper_status")
    assert lk.a_if not in status and status[lk.b_if] == 0  # polls skip a shut interface
    after = net.step(T0 + 100)
    assert kinds_by_entity(after, "link_up")[lk.a_if] == "link_up"


def test_equal_cost_traffic_splits_per_hop_as_routers_do() -> None:
    # s reaches d over three equal paths, two of them behind a: routers split at s (1/2 to
    # a, 1/2 to b), then at a (1/4 each way), not 1/3 per path
    import networkx as nx

    from netvigil.graph.base import Link
    from netvigil.twin.network import _hops

    edges = [("s", "a"), ("s", "b"), ("a", "x"), ("a", "y"), ("x", "d"), ("y", "d")]
    edges += [("b", "z"), ("z", "d")]
    g = nx.Graph()
    best = {}
    for u, v in edges:
        g.add_edge(u, v, weight=10)
        best[(min(u, v), max(u, v))] = [Link(f"{u}--{v}", u, f"{u}:e", v, f"{v}:e")]
    to_d = nx.single_source_dijkstra_path_length(g, "d", weight="weight")
    got = {lk.id: share for _, lk, share in _hops(g, best, to_d, "s", "d")}
    assert got == {
        "s--a": 0.5,
        "s--b": 0.5,
        "a--x": 0.25,
        "a--y": 0.25,
        "x--d": 0.25,
        "y--d": 0.25,
        "b--z": 0.5,
        "z--d": 0.5,
    }


def test_a_flap_shorter_than_the_step_is_reported_whatever_the_sampling_phase() -> None:
    # the lab's flapper: down 8 s of every 20 s; samples every 10 s that fall 9 s into a
    # period never see the link down at their instant, but its router reported every spell
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    start = T0 + 100
    flap = Fault("flap", lk.id, start, start + 60, flap_period_s=20.0, flap_down_s=8.0)
    steps = [start - 1 + 10 * k for k in range(8)]  # 99, 109, ... 169 s
    assert not any(flap.links_down(t) for t in steps)
    assert [bool(flap.links_down(t, t - 10)) for t in steps] == [
        False,  # (89, 99]: before it
        True,  # (99, 109]: its first spell, 100-108
        False,
        True,  # 120-128
        False,
        True,  # 140-148
        False,
        False,  # (159, 169]: it ended at 160
    ]
    net = TwinNetwork(topo, [flap], seed=1)
    downs = []
    for t in steps:
        downs += [
            t
            for e in net.step(t)
            if isinstance(e, DeviceEvent) and e.kind == "link_down" and e.entity == lk.b_if
        ]
    assert downs == [start + 9, start + 29, start + 49]


def test_a_flap_repaired_before_the_last_sample_flaps_no_more() -> None:
    # the same flapper, repaired (an executor cleared it) at 115 s: its spells from 120 s on
    # are not reported, though they fall inside its schedule
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    start = T0 + 100
    flap = Fault("flap", lk.id, start, start + 60, flap_period_s=20.0, flap_down_s=8.0)
    net = TwinNetwork(topo, [flap], seed=1)
    net.fault_cleared[flap] = start + 15
    downs = []
    for t in [start - 1 + 10 * k for k in range(8)]:
        downs += [
            t
            for e in net.step(t)
            if isinstance(e, DeviceEvent) and e.kind == "link_down" and e.entity == lk.b_if
        ]
    assert downs == [start + 9]
