"""Cross-domain correlation: a service's SLO burn and the network anomalies on its path end in
ONE incident whose root cause is the network element, with the service and SLO as impact."""

from __future__ import annotations

import pytest

from netvigil.events import Anomaly, Event, Incident
from netvigil.graph.base import Service
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.priority import SEVERITY_WEIGHT, blast_radius, score
from netvigil.streams.correlate import CorrelationState, CorrelatorProcessor
from tests.unit.streams.test_correlate import tick

LOSSY = "core1--edge1"


@pytest.fixture
def topo() -> MemoryTopology:
    t = MemoryTopology()
    load_topology(None, t)
    # shop: used from edge3, runs on edge1; its traffic crosses core3 and core1
    t.add_service(
        Service("shop", "http", ("core1--core3", LOSSY, "core3--edge3"), ("edge1", "edge3"))
    )
    # video: edge2 <-> edge4 through core2, core1 and core4; never crosses the lossy link
    t.add_service(
        Service("video", "http", ("core1--core2", "core1--core4", "core2--edge2", "core4--edge4"))
    )
    return t


def errors(topo: MemoryTopology, link: str, ts: float) -> list[Anomaly]:
    lk = topo.link(link)
    return [
        Anomaly(
            ts=ts,
            device=ifid.partition(":")[0],
            entity=ifid,
            signal="if.in_errors",
            kind="errors",
            score=1.0,
            onset_ts=ts,
        )
        for ifid in (lk.a_if, lk.b_if)
    ]


def burn(service: str, ts: float, state: str = "active", score: float = 1.0) -> Anomaly:
    return Anomaly(
        ts=ts,
        device="edge3",
        entity=service,
        signal="slo.success",
        kind="slo_burn",
        score=score,
        state=state,  # type: ignore[arg-type]
        onset_ts=ts,
        detector="slo:burn-rate",
    )


async def feed(topo: MemoryTopology, events: list[Anomaly]) -> list[Incident]:
    proc = CorrelatorProcessor(topo)
    state = CorrelationState()
    out: list[Event] = []
    for e in events:
        out += await proc.process(e, state)
    # the sampler's clock goes on after the last anomaly: what was held back goes out
    out += await proc.process(tick(events[-1].ts + proc.cfg.revision_s), state)
    return [e for e in out if isinstance(e, Incident)]


async def test_slo_burn_joins_the_network_incident_on_its_path(topo: MemoryTopology) -> None:
    incs = await feed(topo, [*errors(topo, LOSSY, 100.0), burn("shop", 160.0)])
    assert len({i.fingerprint for i in incs}) == 1  # ONE incident
    last = incs[-1]
    assert last.root_cause is not None
    assert last.root_cause.entity == LOSSY and last.root_cause.fault == "packet_loss"
    assert last.slos == ["shop:success"]
    assert "shop" in last.services and "shop" in last.impact
    assert "video" not in last.services
    assert incs[0].severity == "minor" and last.severity == "major"  # the breach raises it


async def test_slo_burn_first_then_network_still_one_incident(topo: MemoryTopology) -> None:
    incs = await feed(topo, [burn("shop", 90.0), *errors(topo, LOSSY, 100.0)])
    assert len({i.fingerprint for i in incs}) == 1
    assert incs[-1].root_cause is not None and incs[-1].root_cause.entity == LOSSY
    assert incs[-1].slos == ["shop:success"]


async def test_a_burn_alone_opens_no_incident(topo: MemoryTopology) -> None:
    assert await feed(topo, [burn("shop", 90.0), burn("ghost", 95.0)]) == []


async def test_a_service_off_the_path_does_not_join(topo: MemoryTopology) -> None:
    incs = await feed(topo, [*errors(topo, LOSSY, 100.0), burn("video", 160.0)])
    assert all(i.slos == [] for i in incs)
    assert incs[-1].severity == "minor"


async def test_fault_without_service_impact_ranks_lower(topo: MemoryTopology) -> None:
    hurt = (await feed(topo, [*errors(topo, LOSSY, 100.0), burn("shop", 160.0)]))[-1]
    # the same kind of fault on a link no service crosses, as far from the poller
    quiet = (await feed(topo, [*errors(topo, "core3--edge2", 100.0)]))[-1]
    assert quiet.services == [] and quiet.slos == []
    assert SEVERITY_WEIGHT[hurt.severity] > SEVERITY_WEIGHT[quiet.severity]
    assert score(hurt, blast_radius(topo, hurt)) > score(quiet, blast_radius(topo, quiet))


async def test_the_burn_clearing_keeps_the_slo_out_of_later_revisions(
    topo: MemoryTopology,
) -> None:
    incs = await feed(
        topo,
        [*errors(topo, LOSSY, 100.0), burn("shop", 160.0), burn("shop", 400.0, "cleared", 0.0)],
    )
    assert incs[-1].slos == [] and incs[-1].severity == "minor"
    assert incs[-1].root_cause is not None and incs[-1].root_cause.entity == LOSSY
