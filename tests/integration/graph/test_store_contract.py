"""The one contract every TopologyStore passes: the embedded store and Neo4j (real server)."""

from __future__ import annotations

import random

import pytest

from netvigil.errors import TopologyError
from netvigil.graph.base import Device, Link, Service, Site, TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from tests.conftest import shared_data

pytestmark = pytest.mark.integration


def backbone(store: TopologyStore) -> TopologyStore:
    """The demo backbone, plus a stub site hanging off edge1 and two services."""
    load_topology(None, store)
    store.add_site(Site("ams", region="eu", props={"tier": "1"}))
    store.add_device(Device("stub1", role="access", vendor="arista", site="ams"))
    store.add_link(Link("edge1--stub1", "edge1", "edge1:Ethernet9", "stub1", "stub1:Ethernet1"))
    store.add_service(
        Service(
            "vpn-blue",
            kind="l3vpn",
            links=("core1--edge1", "edge1--stub1"),
            devices=("edge1",),
            props={"customer": "acme"},
        )
    )
    store.add_service(Service("vpn-red", kind="l3vpn", devices=("edge3",)))
    return store


def test_entities_round_trip(store: TopologyStore) -> None:
    backbone(store)
    assert len(store.devices()) == 9 and len(store.links()) == 14
    assert store.site("ams").props == {"tier": "1"} and store.site("ams").region == "eu"
    assert [s.name for s in store.sites()] == ["ams"]
    d = store.device("core3")
    assert (d.role, d.vendor, d.site, d.weight) == ("core", "juniper", "par", 0.5)
    lk = store.link("core1--edge1")
    assert lk.capacity_bps == 40e9 and lk.igp_metric == 10
    assert store.interface(lk.a_if).link == lk.id and store.interface(lk.b_if).device == lk.b
    svc = store.service("vpn-blue")
    assert svc.links == ("core1--edge1", "edge1--stub1") and svc.devices == ("edge1",)
    assert svc.props == {"customer": "acme"} and svc.kind == "l3vpn"
    assert sorted(s.name for s in store.services()) == ["vpn-blue", "vpn-red"]
    assert [i.name for i in store.interfaces("stub1")] == ["Ethernet1"]
    assert [x.id for x in store.links_of("edge1")] == [
        "core1--edge1",
        "core2--edge1",
        "edge1--stub1",
    ]
    for e in ("core1", "core1--edge1", lk.a_if, "vpn-red"):
        assert store.has(e), e
    assert not store.has("nosuch") and not store.has("core1:nosuch")


def test_errors_name_the_unknown_thing(store: TopologyStore) -> None:
    backbone(store)
    for call, arg in (
        (store.device, "zz"),
        (store.link, "a--zz"),
        (store.interface, "zz:eth0"),
        (store.service, "zz"),
        (store.site, "zz"),
        (store.neighbors, "zz"),
        (store.links_of, "zz"),
    ):
        with pytest.raises(TopologyError, match="zz"):
            call(arg)
    with pytest.raises(TopologyError, match="unknown device 'zz'"):
        store.add_link(Link("core1--zz", "core1", "core1:x", "zz", "zz:x"))
    with pytest.raises(TopologyError, match="already on link"):
        store.add_link(
            Link("core1--core4#9", "core1", store.link("core1--edge1").a_if, "core4", "core4:new")
        )
    with pytest.raises(TopologyError, match="unknown link"):
        store.add_service(Service("bad", links=("no--link",)))
    with pytest.raises(TopologyError, match="may not"):
        store.add_device(Device("a:b"))
    with pytest.raises(TopologyError):
        store.blast_radius("zz")


def test_replace_and_remove_links_with_provenance(store: TopologyStore) -> None:
    backbone(store)
    g0 = store.generation()
    store.add_link(
        Link(
            "edge1--stub1",
            "edge1",
            "edge1:Ethernet9",
            "stub1",
            "stub1:Ethernet1",
            igp_metric=50,
            source="lldp:snmp",
            last_seen=1234.5,
        )
    )
    assert store.generation() != g0
    lk = store.link("edge1--stub1")
    assert (lk.igp_metric, lk.source, lk.last_seen) == (50, "lldp:snmp", 1234.5)
    assert len(store.links()) == 14
    store.remove_link("edge1--stub1")
    store.remove_link("edge1--stub1")  # idempotent
    assert not store.has("edge1--stub1") and not store.has("stub1:Ethernet1")
    assert store.neighbors("stub1") == [] and store.hops("edge1", "stub1") is None


def test_neighbours_hops_and_k_hop(store: TopologyStore) -> None:
    backbone(store)
    assert store.neighbors("edge1") == ["core1", "core2", "stub1"]
    assert store.hops("edge1", "edge3") == 3 and store.hops("stub1", "stub1") == 0
    assert store.hops("stub1", "zz") is None
    assert store.k_hop({"stub1"}, 1) == {"stub1", "edge1"}
    assert store.k_hop({"stub1"}, 2) == {"stub1", "edge1", "core1", "core2"}
    assert store.k_hop(set(), 3) == set()


def test_k_hop_subgraph_around_entities(store: TopologyStore) -> None:
    backbone(store)
    lk = store.link("edge3--core4") if store.has("edge3--core4") else store.link("core4--edge3")
    sub = store.subgraph([lk.a_if], 0)
    assert [d.name for d in sub.devices] == [lk.a]
    sub = store.subgraph(["stub1", "vpn-red"], 1)
    assert [d.name for d in sub.devices] == ["core3", "core4", "edge1", "edge3", "stub1"]
    assert [x.id for x in sub.links] == [
        "core3--core4",
        "core3--edge3",
        "core4--edge3",
        "edge1--stub1",
    ]


def test_neighbourhood_is_the_entities_with_their_links(store: TopologyStore) -> None:
    backbone(store)
    lk = store.link("core1--edge1")
    sub = store.neighbourhood([lk.end("core1"), "stub1"])
    assert [d.name for d in sub.devices] == [
        "core1",
        "core2",
        "core3",
        "core4",
        "edge1",
        "edge4",
        "stub1",
    ]
    assert [x.id for x in sub.links] == sorted(
        {x.id for x in store.links_of("core1")} | {"edge1--stub1"}
    )
    assert store.neighbourhood(["nosuch"]).devices == ()


def test_shortest_and_alternate_paths_by_igp_metric(store: TopologyStore) -> None:
    backbone(store)
    r = store.shortest_path("edge1", "edge3")
    assert r is not None
    # edge1-core1 (10) + core1-core3 (15) + core3-edge3 (10) beats the 3-core ring paths
    assert r.devices == ("edge1", "core1", "core3", "edge3") and r.cost == 35
    assert r.links == ("core1--edge1", "core1--core3", "core3--edge3")
    avoid = store.shortest_path("edge1", "edge3", avoid=["core1--core3"])
    assert avoid is not None and avoid.cost == 40
    assert avoid.devices == ("edge1", "core1", "core4", "edge3")
    assert store.shortest_path("edge1", "edge3", avoid=["core1", "core2", "core3"]) is None
    alts = store.alternate_paths("edge1", "edge3", k=3)
    assert [a.cost for a in alts] == [35, 40, 40]
    assert alts[1].devices == ("edge1", "core1", "core4", "edge3")
    assert alts[2].devices == ("edge1", "core2", "core3", "edge3")
    assert len({a.devices for a in alts}) == 3
    assert store.shortest_path("stub1", "stub1") is not None


def test_blast_radius_of_device_link_and_interface(store: TopologyStore) -> None:
    backbone(store)
    br = store.blast_radius("edge1")
    assert br.devices == ("edge1", "stub1")  # stub1 is cut off with it
    assert br.links == ("core1--edge1", "core2--edge1", "edge1--stub1")
    assert br.services == ("vpn-blue",)
    br = store.blast_radius("core1--edge1")
    assert br.devices == () and br.links == ("core1--edge1",) and br.services == ("vpn-blue",)
    br = store.blast_radius("stub1:Ethernet1")
    assert br.devices == ("stub1",) and br.services == ("vpn-blue",)
    br = store.blast_radius("edge3")
    assert br.devices == ("edge3",) and br.services == ("vpn-red",)


def test_common_upstream(store: TopologyStore) -> None:
    backbone(store)
    # default vantage: most links (core1, 5 links)
    assert store.common_upstream(["stub1"]) == ["stub1", "edge1", "core1"]
    assert store.common_upstream(["stub1", "edge1:Ethernet9"]) == ["edge1", "core1"]
    # edge3 is reached from core1 over core3 or core4: neither is on every shortest path
    assert store.common_upstream(["edge3"]) == ["edge3", "core1"]
    assert store.common_upstream(["stub1"], root="core3") == ["stub1", "edge1", "core3"]
    with pytest.raises(TopologyError):
        store.common_upstream(["stub1"], root="zz")


def test_batched_load_of_many_links(store: TopologyStore) -> None:
    n = 1200
    store.load(
        sites=[Site("lab")],
        devices=[Device(f"r{i}", site="lab") for i in range(n)],
        links=[
            Link(f"r{i}--r{i + 1}", f"r{i}", f"r{i}:e1", f"r{i + 1}", f"r{i + 1}:e0")
            for i in range(n - 1)
        ],
    )
    assert len(store.devices()) == n and len(store.links()) == n - 1
    assert store.hops("r0", f"r{n - 1}") == n - 1
    r = store.shortest_path("r0", "r5")
    assert r is not None and r.cost == 50


def test_same_answers_as_the_reference_on_a_topology_zoo_graph(store: TopologyStore) -> None:
    path = shared_data("topologies", "Geant2012.graphml")
    ref = load_topology(path, MemoryTopology())
    load_topology(path, store)
    assert sorted(d.name for d in store.devices()) == sorted(d.name for d in ref.devices())
    assert sorted(x.id for x in store.links()) == sorted(x.id for x in ref.links())
    rng = random.Random(3)
    names = sorted(d.name for d in ref.devices())
    for _ in range(8):
        a, b = rng.sample(names, 2)
        assert store.neighbors(a) == ref.neighbors(a)
        assert store.hops(a, b) == ref.hops(a, b)
        assert store.shortest_path(a, b) == ref.shortest_path(a, b)
        assert store.alternate_paths(a, b, 3) == ref.alternate_paths(a, b, 3)
        assert store.blast_radius(a) == ref.blast_radius(a)
        assert store.common_upstream([a, b]) == ref.common_upstream([a, b])
        assert store.subgraph([a], 2) == ref.subgraph([a], 2)
        assert store.neighbourhood([a, b]) == ref.neighbourhood([a, b])
