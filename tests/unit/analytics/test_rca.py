"""Root-cause ranking on the built-in topology for the three fault kinds of the first slice."""

from __future__ import annotations

import pytest

from netvigil.analytics import rca
from netvigil.analytics.rca import rank
from netvigil.events import AnomalyRef
from netvigil.graph.base import Device, Link, TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology


@pytest.fixture(scope="module")
def topo() -> TopologyStore:
    return load_topology(None)


def ref(
    entity: str, kind: str = "down", signal: str = "if.oper_status", score: float = 1.0
) -> AnomalyRef:
    return AnomalyRef(entity=entity, signal=signal, kind=kind, score=score, onset_ts=0.0)


def test_both_ends_down_point_at_the_link(topo: TopologyStore) -> None:
    lk = topo.link("core1--edge1")
    causes = rank(topo, [ref(lk.a_if), ref(lk.b_if)])
    assert causes[0].entity == "core1--edge1"
    assert causes[0].kind == "link" and causes[0].fault == "down"
    assert causes[0].score > causes[1].score


def test_unreachable_device_and_facing_interfaces_point_at_the_device(topo: TopologyStore) -> None:
    facing = [lk.end(lk.other("edge4")) for lk in topo.links_of("edge4")]
    anomalies = [ref("edge4", signal="reachability")] + [ref(i) for i in facing]
    causes = rank(topo, anomalies)
    assert causes[0].entity == "edge4" and causes[0].kind == "device"
    assert causes[0].fault == "down"


def test_one_congested_direction_points_at_its_link_despite_side_effects(
    topo: TopologyStore,
) -> None:
    lk = topo.link("core2--core3")
    anomalies = [
        ref(lk.a_if, kind="threshold", signal="if.out_util", score=1.0),
        ref("core2", kind="deviation", signal="cpu.util", score=0.6),
    ]
    causes = rank(topo, anomalies)
    assert causes[0].entity == "core2--core3"
    assert causes[0].fault == "congestion"


def test_unknown_entities_and_empty_input(topo: TopologyStore) -> None:
    assert rank(topo, []) == []
    assert rank(topo, [ref("nosuch:eth0")]) == []


def test_several_links_of_a_reachable_device_point_at_its_linecard(topo: TopologyStore) -> None:
    links = topo.links_of("core1")[:3]
    anomalies = [ref(e) for lk in links for e in (lk.a_if, lk.b_if)]
    causes = rank(topo, anomalies)
    assert causes[0].entity == "core1" and causes[0].fault == "linecard"
    assert {c.entity for c in causes[1:4]} <= {lk.id for lk in links} | {"core1"}


def test_links_failing_far_apart_in_time_are_not_a_linecard(topo: TopologyStore) -> None:
    a, b = topo.links_of("core1")[:2]
    anomalies = [
        AnomalyRef(entity=e, signal="if.oper_status", kind="down", score=1.0, onset_ts=t)
        for lk, t in ((a, 0.0), (b, 600.0))
        for e in (lk.a_if, lk.b_if)
    ]
    assert all(c.fault != "linecard" for c in rank(topo, anomalies))


def test_a_dead_device_is_found_even_when_its_unreachable_signal_was_lost(
    topo: TopologyStore,
) -> None:
    facing = [lk.end(lk.other("core2")) for lk in topo.links_of("core2")]
    causes = rank(topo, [ref(i) for i in facing])
    assert causes[0].entity == "core2" and causes[0].kind == "device"


def test_weak_evidence_alone_ranks_by_where_it_concentrates(topo: TopologyStore) -> None:
    lk = topo.link("core2--core3")
    anomalies = [
        ref(lk.a_if, kind="deviation", signal="if.out_bps", score=0.9),
        ref("core2", kind="deviation", signal="cpu.util", score=0.5),
    ]
    causes = rank(topo, anomalies)
    assert causes and causes[0].fault == "degraded"
    assert causes[0].entity in ("core2", "core2--core3")
    assert all(0 <= c.score <= 1 for c in causes)


def test_ranking_is_stable_under_input_order(topo: TopologyStore) -> None:
    facing = [lk.end(lk.other("edge4")) for lk in topo.links_of("edge4")]
    anomalies = [ref("edge4", signal="reachability")] + [ref(i) for i in facing]
    assert rank(topo, anomalies) == rank(topo, list(reversed(anomalies)))


def adjacency(entity: str) -> AnomalyRef:
    return ref(entity, signal="routing.ospf")


def test_a_reachable_device_its_neighbours_lost_points_at_its_routing(
    topo: TopologyStore,
) -> None:
    facing = [lk.end(lk.other("core2")) for lk in topo.links_of("core2")]
    causes = rank(topo, [adjacency(i) for i in facing])
    assert causes[0].entity == "core2" and causes[0].fault == "routing_down"
    # the same device unreachable too: it is down, not only its routing
    causes = rank(topo, [ref("core2", signal="reachability")] + [ref(i) for i in facing])
    assert causes[0].entity == "core2" and causes[0].fault == "down"


def test_an_adjacency_lost_at_both_ends_with_interfaces_up_points_at_the_link(
    topo: TopologyStore,
) -> None:
    lk = topo.link("core1--edge1")
    causes = rank(topo, [adjacency(lk.a_if), adjacency(lk.b_if)])
    assert causes[0].entity == lk.id and causes[0].fault == "adjacency_down"
    # an interface down as well: a link failure
    causes = rank(topo, [adjacency(lk.a_if), adjacency(lk.b_if), ref(lk.b_if)])
    assert causes[0].entity == lk.id and causes[0].fault == "down"


def test_a_routing_daemon_that_logs_its_own_adjacencies_down_is_still_its_device(
    topo: TopologyStore,
) -> None:
    own = [lk.end("core2") for lk in topo.links_of("core2")]
    facing = [lk.end(lk.other("core2")) for lk in topo.links_of("core2")]
    causes = rank(topo, [adjacency(i) for i in own + facing])
    assert causes[0].entity == "core2" and causes[0].fault == "routing_down"


def _leaf() -> TopologyStore:
    """core2 with one more device, ``leaf``, whose only link goes to core2."""
    base = load_topology(None)
    t = MemoryTopology()
    t.load(
        devices=[*base.devices(), Device("leaf")],
        links=[*base.links(), Link("core2--leaf", "core2", "core2:eth9", "leaf", "leaf:eth0")],
    )
    return t


def test_a_one_link_router_whose_daemon_stopped_is_its_routing_not_an_mtu_mismatch() -> None:
    """Both ends of the leaf's one link lose the adjacency either way; zebra's word that the
    leaf's OSPF client is gone tells the daemon from the link, even without the far end."""
    t = _leaf()
    dead = ref("leaf", signal="routing.process.ospf")
    both = [adjacency("leaf:eth0"), adjacency("core2:eth9")]
    causes = rank(t, [*both, dead])
    assert causes[0].entity == "leaf" and causes[0].fault == "routing_down", causes
    assert "leaf routing daemon down" in causes[0].evidence
    # the neighbour's log lost: the daemon's own word and its own adjacency still name it
    causes = rank(t, [adjacency("leaf:eth0"), dead])
    assert causes[0].entity == "leaf" and causes[0].fault == "routing_down", causes
    # no word from the device: both ends of one link are the link (an MTU mismatch)
    causes = rank(t, both)
    assert causes[0].entity == "core2--leaf" and causes[0].fault == "adjacency_down", causes


def test_a_one_link_router_that_answers_and_says_nothing_is_its_link_s_mtu_mismatch() -> None:
    """Claranet's lab run: an MTU mismatch on London--Manchester (Manchester's one link); the
    end that keeps the smaller MTU sees the neighbour stuck in ExStart, so only the far end
    logged the adjacency down, and the larger frames were discarded on the leaf's side. The
    leaf answers its polls and its routing daemon did not say it was gone: its link, not it."""
    t = _leaf()
    discards = ref("leaf:eth0", kind="deviation", signal="if.in_discards")
    causes = rank(t, [adjacency("core2:eth9"), discards])
    assert causes[0].entity == "core2--leaf" and causes[0].fault == "adjacency_down", causes
    assert "leaf" in [c.entity for c in causes[1:3]], causes
    # its daemon's own word that it is gone still names the leaf's routing
    causes = rank(
        t, [adjacency("core2:eth9"), discards, ref("leaf", signal="routing.process.ospf")]
    )
    assert causes[0].entity == "leaf" and causes[0].fault == "routing_down", causes


def test_a_device_down_explains_its_routing_daemon_gone() -> None:
    t = _leaf()
    causes = rank(
        t,
        [
            ref("leaf", signal="reachability"),
            ref("core2:eth9"),
            ref("leaf", signal="routing.process.ospf"),
        ],
    )
    assert causes[0].entity == "leaf" and causes[0].fault == "down", causes


def test_a_link_with_one_end_shut_down_is_down_and_explains_the_congestion_it_causes(
    topo: TopologyStore,
) -> None:
    # one end shut down (not polled), the other seen down; the traffic it moved congests a
    # nearby link a poll later: the link failure is the cause, the congestion its effect
    lk, hot = topo.link("core1--edge1"), topo.link("core1--core2")
    anomalies = [
        AnomalyRef(
            entity=lk.a_if, signal="if.admin_status", kind="admin_down", score=1.0, onset_ts=0.0
        ),
        ref(lk.b_if),
        adjacency(lk.b_if),
        AnomalyRef(entity=hot.a_if, signal="if.out_util", kind="threshold", score=1.0, onset_ts=10),
        AnomalyRef(entity=hot.b_if, signal="if.out_util", kind="threshold", score=1.0, onset_ts=10),
    ]
    causes = rank(topo, anomalies)
    assert causes[0].entity == lk.id and causes[0].fault == "down"
    # the same congestion with nothing before it is a congestion
    assert rank(topo, anomalies[3:])[0].entity == hot.id


def test_the_dense_and_the_edge_list_walk_rank_alike(
    topo: TopologyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small walks iterate a dense matrix, large ones the edge list: the same rankings,
    a device without links (dangling: its mass goes back to the seeds) included."""
    lone = MemoryTopology()
    lone.load(devices=[*topo.devices(), Device("lone")], links=topo.links())
    cases = [
        [ref(lk.a_if, "deviation", "if.util", 0.5 + i / 20), ref(lk.b_if)]
        for i, lk in enumerate(topo.links())
    ]
    cases += [
        [ref(d.name, signal="reachability"), ref("lone", "deviation", "cpu")]
        for d in topo.devices()
    ]
    cases += [
        [ref(d.name, "deviation", "cpu.util", 0.7), ref("lone", "deviation", "cpu", 0.9)]
        for d in topo.devices()
    ]
    dense = [rank(lone, c) for c in cases]
    monkeypatch.setattr(rca, "WALK_DENSE_MAX", 0)
    assert [rank(lone, c) for c in cases] == dense
    assert any(rc.entity == "lone" for r in dense for rc in r)  # the dangling node ranks


def _dual_homed() -> MemoryTopology:
    """Two core routers x1, x2 (the pair) joined to the rest of the core (c1, c2, a ring),
    and four POP routers p1..p4 each homed on both of the pair, each with an access switch."""
    devices = [
        "c1",
        "c2",
        "x1",
        "x2",
        *(f"p{i}" for i in range(1, 5)),
        *(f"s{i}" for i in range(1, 5)),
    ]
    pairs = [("c1", "c2"), ("c1", "x1"), ("c2", "x2"), ("x1", "x2")]
    pairs += [(x, f"p{i}") for i in range(1, 5) for x in ("x1", "x2")]
    pairs += [(f"p{i}", f"s{i}") for i in range(1, 5)]
    t = MemoryTopology()
    t.load(
        devices=[Device(d) for d in devices],
        links=[Link(f"{a}--{b}", a, f"{a}:{b}", b, f"{b}:{a}") for a, b in pairs],
    )
    return t


def test_a_failed_router_pair_is_blamed_for_the_devices_it_cuts_off() -> None:
    """Both routers of a pair fail: every POP behind them is unreachable too. No single
    router's failure isolates a POP (each is homed on both), yet the pair's border routers,
    not each POP's own router, are what explains the cut-off part."""
    t = _dual_homed()
    cut = ["x1", "x2", "p1", "p2", "p3", "p4", "s1", "s2", "s3", "s4"]
    anomalies = [ref(d, signal="reachability") for d in cut]
    anomalies += [ref("c1:x1"), ref("c2:x2")]  # the reachable neighbours see their links drop
    causes = rank(t, anomalies)
    assert {causes[0].entity, causes[1].entity} == {"x1", "x2"}, causes
    assert causes[0].fault == "down"
    assert causes[1].score > causes[2].score
    # one router of the pair down alone isolates nothing: it is named, nothing else explained
    facing = [lk.end(lk.other("x1")) for lk in t.links_of("x1")]
    causes = rank(t, [ref("x1", signal="reachability"), *(ref(i) for i in facing)])
    assert causes[0].entity == "x1", causes


@pytest.mark.parametrize("dense_max", [rca.WALK_DENSE_MAX, 0])
def test_the_walk_stops_at_the_first_step_under_its_tolerance(
    topo: TopologyStore, monkeypatch: pytest.MonkeyPatch, dense_max: int
) -> None:
    """The walk makes its iterates in one buffer and takes the first whose change is under
    WALK_TOL: with a tolerance every step meets, that is the first step, the ranking of a
    walk of one iteration (dense and edge-list walks alike)."""
    monkeypatch.setattr(rca, "WALK_DENSE_MAX", dense_max)
    cases = [[ref(d.name, "deviation", "cpu.util", 0.7)] for d in topo.devices()]
    cases += [[ref(lk.a_if, "deviation", "if.util", 0.6), ref(lk.b_if)] for lk in topo.links()]
    full = [rank(topo, c) for c in cases]
    monkeypatch.setattr(rca, "WALK_TOL", float("inf"))
    first = [rank(topo, c) for c in cases]
    monkeypatch.setattr(rca, "WALK_TOL", 0.0)
    monkeypatch.setattr(rca, "WALK_ITERATIONS", 1)
    assert [rank(topo, c) for c in cases] == first
    assert first != full  # one step is not the converged walk: the case can tell them apart


def test_a_direction_congested_seen_only_by_its_receiver_is_its_link(topo: TopologyStore) -> None:
    # the sending end's agent gave no usable sample while its link was over capacity (the
    # lab's Marnet run); the receiving end counts the link full, and a reroute elsewhere
    # shows as side effects: the link is the cause
    lk = topo.link("core2--core3")
    anomalies = [
        AnomalyRef(entity=lk.b_if, signal="if.in_util", kind="threshold", score=1.0, onset_ts=10.0),
        ref("core2", kind="deviation", signal="cpu.util", score=0.6),
    ]
    causes = rank(topo, anomalies)
    assert (causes[0].entity, causes[0].fault) == ("core2--core3", "congestion")


@pytest.mark.parametrize(("dev", "lid"), [("edge1", "core1--edge1"), ("core2", "core2--core3")])
def test_a_sender_unreachable_while_its_far_end_receives_the_link_full_is_its_link(
    topo: TopologyStore, dev: str, lid: str
) -> None:
    """The lab's Marnet morning run: a router congests one of its links and its agent times
    out (unreachable) while the far end counts the link full. Traffic arriving says the
    router forwards: the link's congestion, not the device down that predicts that far end
    down; the same far end seen down as well (the router failed) meets the prediction."""
    lk = topo.link(lid)
    far = lk.end(lk.other(dev))
    unreachable = AnomalyRef(
        entity=dev, signal="reachability", kind="down", score=1.0, onset_ts=10.0
    )
    full = AnomalyRef(entity=far, signal="if.in_util", kind="threshold", score=0.99, onset_ts=20.0)
    causes = rank(topo, [unreachable, full])
    assert (causes[0].entity, causes[0].fault) == (lid, "congestion"), causes
    assert (causes[1].entity, causes[1].fault) == (dev, "down"), causes
    assert f"{far} threshold (0.89)" not in causes[1].evidence  # not explained by it
    down = AnomalyRef(entity=far, signal="if.oper_status", kind="down", score=1.0, onset_ts=30.0)
    causes = rank(topo, [unreachable, full, down])
    assert (causes[0].entity, causes[0].fault) == (dev, "down"), causes
