"""Neo4j's bulk load and whole-graph reads, on a real server: loading in many small
transactions and reading in small pages give what one transaction and one query give; a
second load of the same topology writes nothing; bad input writes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from netvigil.errors import TopologyError
from netvigil.graph.base import Link, TopologyStore
from netvigil.graph.memory import MemoryTopology
from netvigil.graph.neo4j import Neo4jTopology
from netvigil.twin.carrier import Carrier, CarrierSpec, generate

pytestmark = pytest.mark.integration

#: devices and links span several transactions, every kind several pages
TX, PAGE = 50, 5


@pytest.fixture(scope="module")
def net() -> Carrier:
    return generate(CarrierSpec(devices=120, services=12, seed=5))


@pytest.fixture
def stores(neo4j_url: str) -> Iterator[tuple[Neo4jTopology, Neo4jTopology]]:
    """The same server seen by a store of small transactions and pages, and by one whose
    loads and reads each fit one transaction and one query."""
    small = Neo4jTopology(neo4j_url, tx_rows=TX, page_rows=PAGE)
    whole = Neo4jTopology(neo4j_url, tx_rows=10**6, page_rows=10**6)
    try:
        whole.clear()
        yield small, whole
    finally:
        small.close()
        whole.close()


def contents(store: TopologyStore) -> dict[str, Any]:
    """Everything the store holds, in key order (a service's links and devices too: Neo4j
    keeps them as relationships, without the order they were given in)."""
    devices = sorted(store.devices(), key=lambda d: d.name)
    services = [
        dataclasses.replace(s, links=tuple(sorted(s.links)), devices=tuple(sorted(s.devices)))
        for s in store.services()
    ]
    return {
        "sites": sorted(store.sites(), key=lambda s: s.name),
        "devices": devices,
        "links": sorted(store.links(), key=lambda x: x.id),
        "services": sorted(services, key=lambda s: s.name),
        "interfaces": {d.name: store.interfaces(d.name) for d in devices},
    }


def node_ids(store: Neo4jTopology) -> dict[str, str]:
    """Every topology node's key and element id (a replaced node gets a new one)."""
    rows = store.execute(
        "read",
        lambda tx: list(
            tx.run(
                "MATCH (n) WHERE n:Site OR n:Device OR n:Link OR n:Interface OR n:Service "
                "RETURN CASE WHEN n:Link OR n:Interface THEN n.id ELSE n.name END "
                "+ '/' + labels(n)[0] AS k, elementId(n) AS e"
            )
        ),
    )
    return {r["k"]: r["e"] for r in rows}


def test_a_paged_load_and_paged_reads_equal_the_one_shot_ones(
    net: Carrier, stores: tuple[Neo4jTopology, Neo4jTopology]
) -> None:
    small, whole = stores
    reference = contents(net.load_into(MemoryTopology()))
    assert len(reference["links"]) > 10 * TX and len(reference["services"]) > 2 * PAGE

    net.load_into(whole)  # one transaction per kind of entity
    one_shot = contents(whole)
    assert one_shot == reference
    assert contents(small) == one_shot  # the same graph read in pages

    small.clear()  # in transactions of TX nodes
    assert whole.devices() == [] and whole.links() == []
    net.load_into(small)  # in transactions of TX rows
    assert contents(whole) == one_shot
    assert contents(small) == one_shot
    for a, b in (("cs00-cr1", net.devices[-1].name), (net.devices[30].name, "cs03-cr2")):
        assert small.shortest_path(a, b) == whole.shortest_path(a, b)
        assert small.blast_radius(a) == whole.blast_radius(a)


def test_loading_the_same_topology_again_writes_nothing(
    net: Carrier, stores: tuple[Neo4jTopology, Neo4jTopology]
) -> None:
    small, whole = stores
    net.load_into(small)
    gen, ids, before = small.generation(), node_ids(small), contents(small)
    net.load_into(small)
    assert small.generation() == gen  # no transaction wrote anything
    assert node_ids(small) == ids  # no node replaced
    assert contents(small) == before

    # one link and one device changed: those are written, nothing else is replaced
    lk = net.links[17]
    dev = net.devices[40]
    changed_link = dataclasses.replace(lk, igp_metric=lk.igp_metric + 7)
    changed_dev = dataclasses.replace(dev, role="edge")
    links = [changed_link if x.id == lk.id else x for x in net.links]
    devices = [changed_dev if d.name == dev.name else d for d in net.devices]
    small.load(sites=net.sites, devices=devices, links=links, services=net.services)
    assert small.generation() > gen
    assert small.link(lk.id).igp_metric == lk.igp_metric + 7
    assert small.device(dev.name).role == "edge"
    after = node_ids(small)
    replaced = {k for k in ids if after.get(k) != ids[k]}
    assert replaced == {f"{lk.id}/Link", f"{lk.a_if}/Interface", f"{lk.b_if}/Interface"}
    assert small.shortest_path(lk.a, lk.b) == whole.shortest_path(lk.a, lk.b)
    route = small.shortest_path(lk.a, lk.b)
    assert route is not None and route.cost <= lk.igp_metric + 7


def test_bad_input_spanning_many_transactions_writes_nothing(
    net: Carrier, stores: tuple[Neo4jTopology, Neo4jTopology]
) -> None:
    small, _ = stores
    gen = small.generation()
    bad = Link(
        "x--nowhere", net.devices[0].name, f"{net.devices[0].name}:x9", "nowhere", "nowhere:x"
    )
    with pytest.raises(TopologyError, match="unknown device 'nowhere'"):
        small.load(sites=net.sites, devices=net.devices, links=[*net.links, bad])
    assert small.generation() == gen and small.devices() == [] and small.sites() == []


def test_links_that_swap_an_interface_in_one_load(
    net: Carrier, stores: tuple[Neo4jTopology, Neo4jTopology]
) -> None:
    """Link 1 takes the interface link 2 holds, link 2 moves to a new one: one transaction
    per link, the taker first (the embedded store needs the other order), ends as the
    embedded store does."""
    small, _ = stores
    net.load_into(small)
    first, second = net.links[3], net.links[3 + 2 * TX]
    moved = dataclasses.replace(first, a=second.a, a_if=second.a_if)
    fresh = dataclasses.replace(second, a_if=f"{second.a}:moved0")
    ref = net.load_into(MemoryTopology())
    ref.load(links=[fresh, moved])
    small.tx_rows = 1
    small.load(links=[moved, fresh])
    assert contents(small) == contents(ref)
    assert small.interface(second.a_if).link == first.id


def test_a_link_given_twice_in_one_load_ends_as_the_last(
    net: Carrier, stores: tuple[Neo4jTopology, Neo4jTopology]
) -> None:
    small, _ = stores
    lk = net.links[5]
    again = dataclasses.replace(lk, igp_metric=lk.igp_metric + 3)
    ref = MemoryTopology()
    for store in (small, ref):
        store.load(sites=net.sites, devices=net.devices, links=[*net.links, again])
    assert small.link(lk.id).igp_metric == lk.igp_metric + 3
    assert contents(small) == contents(ref)
