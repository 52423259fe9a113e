"""The blast radius answered from the graph's cuts is the one a search of the graph gives,
for every device, link and interface (bridges, parallel links, separate parts), and follows
changes to the store."""

from __future__ import annotations

import networkx as nx

from netvigil.graph import algorithms as alg
from netvigil.graph.base import Device, Link, Service
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from tests.conftest import shared_data


def link(a: str, b: str, n: int = 1) -> Link:
    return Link(f"{a}--{b}#{n}", a, f"{a}:e{b}{n}", b, f"{b}:e{a}{n}")


def shapes() -> MemoryTopology:
    """A ring with a chord, a spur by one link (a bridge), a pair joined by two parallel
    links, a chain of articulation points, and a part of its own."""
    t = MemoryTopology()
    names = ["r1", "r2", "r3", "r4", "spur", "p1", "p2", "c1", "c2", "c3", "x1", "x2", "x3"]
    t.load(
        devices=[Device(n) for n in names],
        links=[
            *(link("r1", "r2"), link("r2", "r3"), link("r3", "r4"), link("r4", "r1")),
            link("r1", "r3"),
            link("r2", "spur"),
            *(link("r4", "p1"), link("p1", "p2"), link("p1", "p2", 2)),
            *(link("r3", "c1"), link("c1", "c2"), link("c2", "c3")),
            *(link("x1", "x2"), link("x2", "x3")),
        ],
        services=[Service("svc", devices=("spur", "c3"), links=("c1--c2#1",))],
    )
    return t


def search(t: MemoryTopology, entity: str) -> object:
    devs, links = t._failed(entity)
    return alg.blast_radius(
        t._g, entity, t._links, t.services(), failed_devices=devs, failed_links=links
    )


def every_entity(t: MemoryTopology) -> list[str]:
    ifaces = [lk.a_if for lk in t.links()]
    return [d.name for d in t.devices()] + [lk.id for lk in t.links()] + ifaces


def test_every_failure_has_the_radius_a_search_gives() -> None:
    t = shapes()
    cuts = alg.cuts(t._g)
    assert {"r2", "r4", "r3", "p1", "c1", "c2", "x2"} == set(cuts.articulation)
    for e in every_entity(t):
        assert t.blast_radius(e) == search(t, e), e
    # the part of its own is outside the largest part whatever fails
    assert t.blast_radius("p1--p2#1").devices == ("x1", "x2", "x3")  # parallel link holds
    assert t.blast_radius("r2--spur#1").devices == ("spur", "x1", "x2", "x3")
    assert t.blast_radius("r3").devices == ("c1", "c2", "c3", "r3", "x1", "x2", "x3")


def test_the_cuts_follow_the_store() -> None:
    t = shapes()
    assert t.blast_radius("r2--spur#1").devices == ("spur", "x1", "x2", "x3")
    t.add_link(link("spur", "r1"))  # the spur is on a cycle now
    assert t.blast_radius("r2--spur#1").devices == ("x1", "x2", "x3")
    assert t.blast_radius("r2--spur#1") == search(t, "r2--spur#1")


def test_zoo_networks() -> None:
    for name in ("Geant2012", "Surfnet", "Nsfnet"):
        t = load_topology(shared_data("topologies", f"{name}.graphml"))
        for e in every_entity(t):
            assert t.blast_radius(e) == search(t, e), (name, e)


def test_the_search_finds_the_parts_networkx_finds() -> None:
    """``parts_without`` (the search a splitting failure falls back to) against networkx's
    components of a copy of the graph without the failed devices and links: every device,
    link and interface, a device with a link, and two links, of the shapes and a Zoo network
    (parallel links: one of two failing splits nothing)."""

    def components(t: MemoryTopology, devices: set[str], links: set[str]) -> list[set[str]]:
        rest = nx.Graph()
        rest.add_nodes_from(n for n in t._g.nodes if n not in devices)
        for u, v, key in t._g.edges(keys=True):
            if key not in links and u not in devices and v not in devices:
                rest.add_edge(u, v)
        return sorted(nx.connected_components(rest), key=sorted)

    for t in (shapes(), load_topology(shared_data("topologies", "Cogentco.graphml"))):
        failures = [t._failed(e) for e in every_entity(t)]
        lks = t.links()
        failures += [({lk.a}, {lks[i - 1].id}) for i, lk in enumerate(lks)]
        failures += [(set(), {lk.id, lks[i - 1].id}) for i, lk in enumerate(lks)]
        for devices, links in failures:
            got = sorted(alg.parts_without(t._g, devices, links), key=sorted)
            assert got == components(t, devices, links), (devices, links)
