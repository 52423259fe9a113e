"""The correlator on a real Neo4j: a storm of anomalies asks the store for the topology
generation once per ``generation_check_s``, not once per anomaly, and a topology change is
taken into account by the anomalies that come ``generation_check_s`` after it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest

from netvigil.events import Anomaly, Event, Incident
from netvigil.graph.base import Device, Link
from netvigil.graph.neo4j import Neo4jTopology
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from tests.unit.streams.test_correlate import anomaly

pytestmark = pytest.mark.integration


@pytest.fixture
def topo(neo4j_url: str) -> Iterator[Neo4jTopology]:
    """A chain of 30 devices r00..r29, and three devices apart: a, b (linked), c."""
    store = Neo4jTopology(neo4j_url)
    store.clear()
    chain = [f"r{i:02d}" for i in range(30)]
    store.load(
        devices=[Device(d) for d in [*chain, "a", "b", "c"]],
        links=[
            *(Link(f"{x}--{y}", x, f"{x}:e1", y, f"{y}:e0") for x, y in itertools.pairwise(chain)),
            Link("a--b", "a", "a:e9", "b", "b:e9"),
        ],
    )
    try:
        yield store
    finally:
        store.close()


def counted(store: Neo4jTopology) -> list[int]:
    """Count the store's generation queries from now on."""
    calls: list[int] = []
    read: Callable[[], int] = store.generation

    def generation() -> int:
        calls.append(1)
        return read()

    store.generation = generation  # type: ignore[method-assign]
    return calls


async def feed(
    proc: CorrelatorProcessor, state: CorrelationState, events: list[Anomaly]
) -> list[Incident]:
    out: list[Event] = []
    for e in events:
        out += await proc.process(e, state)
    return [e for e in out if isinstance(e, Incident)]


async def test_a_storm_asks_for_the_generation_once_per_check_interval(
    topo: Neo4jTopology,
) -> None:
    calls = counted(topo)
    proc = CorrelatorProcessor(topo, CorrelatorConfig(generation_check_s=3600.0))
    storm = [anomaly(f"r{i:02d}", 100.0 + i / 10, signal="reachability") for i in range(30)]
    incidents = await feed(proc, CorrelationState(), storm)
    assert {i.fingerprint for i in incidents} and len({i.fingerprint for i in incidents}) == 1
    # one round trip for the 30 anomalies (one each before), and the store's own check of
    # its routing snapshot when an incident revision asks for the blast radius
    assert 1 <= len(calls) <= 1 + len(incidents) < len(storm)
    # asked every time when the interval is 0
    calls.clear()
    every = CorrelatorProcessor(topo, CorrelatorConfig(generation_check_s=0.0))
    assert await feed(every, CorrelationState(), storm)
    assert len(calls) >= len(storm)


async def run_link_change(topo: Neo4jTopology, check_s: float, wait_s: float) -> set[str]:
    """c shows a weak symptom, a goes down, a link a--c appears, then c goes down: the
    incidents' fingerprints (one if c's failure was placed next to a, two if not)."""
    proc = CorrelatorProcessor(topo, CorrelatorConfig(generation_check_s=check_s))
    state = CorrelationState()
    before = [
        anomaly("c", 100.0, kind="deviation", signal="cpu.util", score=0.5),
        anomaly("a", 101.0, signal="reachability"),
    ]
    incidents = await feed(proc, state, before)
    topo.add_link(Link("a--c", "a", "a:e8", "c", "c:e8"))
    time.sleep(wait_s)
    incidents += await feed(proc, state, [anomaly("c", 102.0, signal="reachability")])
    return {i.fingerprint for i in incidents}


async def test_a_topology_change_is_seen_after_the_check_interval(topo: Neo4jTopology) -> None:
    assert len(await run_link_change(topo, 0.2, 0.4)) == 1  # c's failure joined a's incident
    topo.remove_link("a--c")
    # within the interval the neighbourhoods read before the change still hold
    assert len(await run_link_change(topo, 3600.0, 0.4)) == 2
