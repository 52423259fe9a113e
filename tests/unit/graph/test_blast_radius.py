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


def halves() -> tuple[MemoryTopology, MemoryTopology]:
    """Failures that split a part into equal halves (the half with the smaller name is the
    one kept): a path a - m - z, and two triangles joined by one link (a bridge)."""
    path, bowtie = MemoryTopology(), MemoryTopology()
    path.load(devices=[Device(n) for n in "amz"], links=[link("a", "m"), link("m", "z")])
    bowtie.load(
        devices=[Device(n) for n in ["t1", "t2", "t3", "u1", "u2", "u3"]],
        links=[
            *(link("t1", "t2"), link("t2", "t3"), link("t3", "t1")),
            *(link("u1", "u2"), link("u2", "u3"), link("u3", "u1")),
            link("t1", "u1"),
        ],
    )
    return path, bowtie


def star() -> MemoryTopology:
    """A device ``a`` and three leaves linked in the order d, b, c: ``a`` failing leaves
    three parts of one device; the one with the smallest name (b) is kept."""
    t = MemoryTopology()
    t.load(devices=[Device(n) for n in "abcd"], links=[link("a", x) for x in "dbc"])
    return t


def test_a_splitting_failure_is_answered_from_the_depth_first_tree() -> None:
    """A device, or a bridge's links, whose loss splits a part: the parts from the
    depth-first tree (no search) give the search's radius, on the shapes, equal halves, a
    star, Cogentco and a generated carrier network; other splitting failures are
    searched."""
    from netvigil.twin.carrier import CarrierSpec, generate

    carrier = MemoryTopology()
    net = generate(CarrierSpec(devices=120, core_sites=3, regions=2, access_per_pop=6))
    carrier.load(devices=net.devices, links=net.links)
    path, bowtie = halves()
    nets = {"shapes": shapes(), "path": path, "bowtie": bowtie, "star": star()}
    nets["carrier"] = carrier
    nets["Cogentco"] = load_topology(shared_data("topologies", "Cogentco.graphml"))
    answered = dict.fromkeys(nets, 0)
    for name, t in nets.items():
        cuts = t.warm()
        for e in every_entity(t):
            devs, links = t._failed(e)
            if cuts.splits(t._g, t._links, devs, links):
                found = cuts.split(t._g, t._links, devs, links)
                assert found is not None and found.isdisjoint(devs), (name, e)
                answered[name] += 1
            assert t.blast_radius(e) == search(t, e), (name, e)
        lks = t.links()
        two = (set(), {lks[0].id, lks[-1].id})  # two links: searched
        assert cuts.split(t._g, t._links, *two) is None
    assert all(answered[n] for n in nets if n != "carrier"), answered  # (dual-homed: none)
    assert path.blast_radius("m").devices == ("m", "z")  # {a} and {z}: {a} is kept
    assert bowtie.blast_radius("t1--u1#1").devices == ("u1", "u2", "u3")
    assert bowtie.blast_radius("u1").devices == ("u1", "u2", "u3")
    assert bowtie.blast_radius("t1").devices == ("t1", "t2", "t3")
    assert star().blast_radius("a").devices == ("a", "c", "d")
