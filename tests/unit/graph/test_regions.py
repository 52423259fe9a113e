"""Regions of a topology: cores cover every device once, views are the core plus its halo,
and the same graph gives the same regions whatever order it is read in."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from netvigil.graph.base import Link
from netvigil.graph.importers import load_topology
from netvigil.graph.regions import partition
from tests.conftest import shared_data


def _link(a: str, b: str) -> Link:
    return Link(id=f"{a}--{b}", a=a, a_if=f"{a}:to-{b}", b=b, b_if=f"{b}:to-{a}")


def grid(w: int, h: int) -> tuple[list[str], list[Link]]:
    devices = [f"r{x}{y}" for x in range(w) for y in range(h)]
    links = [_link(f"r{x}{y}", f"r{x + 1}{y}") for x in range(w - 1) for y in range(h)]
    links += [_link(f"r{x}{y}", f"r{x}{y + 1}") for x in range(w) for y in range(h - 1)]
    return devices, links


def _graph(devices: list[str], links: list[Link]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(devices)
    g.add_edges_from((lk.a, lk.b) for lk in links)
    return g


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_cores_cover_every_device_exactly_once(n: int) -> None:
    devices, links = grid(6, 6)
    r = partition(devices, links, n, halo=1)
    assert r.n == n and all(r.cores)
    assert sum(len(c) for c in r.cores) == len(devices)
    assert set().union(*r.cores) == set(devices)
    for d in devices:
        homes = [i for i, c in enumerate(r.cores) if d in c]
        assert homes == [r.home((d,))]


@pytest.mark.parametrize("halo", [0, 1, 2, 3])
def test_a_view_is_its_core_and_everything_within_the_halo(halo: int) -> None:
    devices, links = grid(6, 6)
    g = _graph(devices, links)
    r = partition(devices, links, 4, halo=halo)
    for core, view in zip(r.cores, r.views, strict=True):
        dist = nx.multi_source_dijkstra_path_length(g, set(core))
        assert view == {d for d, k in dist.items() if k <= halo}
    if halo == 0:
        assert r.views == r.cores
    # a device on a border is seen by both sides once the halo is one hop
    for lk in links:
        if halo >= 1 and r.home((lk.a,)) != r.home((lk.b,)):
            assert {r.home((lk.a,)), r.home((lk.b,))} <= set(r.seen_by((lk.a,)))


def test_the_same_graph_gives_the_same_regions_in_any_order() -> None:
    devices, links = grid(7, 5)
    first = partition(devices, links, 4, halo=2)
    rng = random.Random(5)
    for _ in range(5):
        d, lk = devices[:], links[:]
        rng.shuffle(d)
        rng.shuffle(lk)
        assert partition(d, lk, 4, halo=2) == first


def test_a_real_network_splits_into_contiguous_regions_that_halos_overlap() -> None:
    topo = load_topology(shared_data("topologies", "Cogentco.graphml"))
    devices = [d.name for d in topo.devices()]
    r = partition(devices, topo.links(), 4, halo=2)
    g = _graph(devices, topo.links())
    assert sum(len(c) for c in r.cores) == len(devices)
    assert all(nx.is_connected(g.subgraph(c)) for c in r.cores)
    # every view is more than its core (borders are shared) and less than the network
    assert all(core < view < set(devices) for core, view in zip(r.cores, r.views, strict=True))


def test_disconnected_parts_and_unknown_devices_have_one_home() -> None:
    devices, links = grid(4, 4)
    devices += ["island1", "island2"]
    links.append(_link("island1", "island2"))
    r = partition(devices, links, 3, halo=1)
    assert sum(len(c) for c in r.cores) == len(devices)
    assert r.home(("island1",)) == r.home(("island2",))  # a component is never split
    # a device the topology does not know: a stable home, seen by it alone
    assert r.seen_by(("ghost",)) == (r.home(("ghost",)),)
    assert partition(devices, links, 3, halo=1).home(("ghost",)) == r.home(("ghost",))
    # a link's home is the smaller of its ends' homes
    assert r.home_of("r00--island1") == min(r.home(("r00",)), r.home(("island1",)))


def test_more_regions_than_devices_leaves_the_rest_empty() -> None:
    r = partition(["a", "b"], [_link("a", "b")], 4, halo=1)
    assert [len(c) for c in r.cores] == [1, 1, 0, 0]
    assert partition(["a"], [], 1, halo=0).cores == (frozenset({"a"}),)
    with pytest.raises(ValueError, match="n >= 1"):
        partition(["a"], [], 0, halo=1)
