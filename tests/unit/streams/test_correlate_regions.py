"""The correlator split into regions: an anomaly goes to every region that sees it, and each
incident is emitted once, the same as one correlator emits it (fingerprint, revisions, root
cause), wherever the fault is, borders included."""

from __future__ import annotations

from netvigil.events import Anomaly, Event, Feedback, Incident
from netvigil.graph.base import Device
from netvigil.graph.memory import MemoryTopology
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from tests.unit.graph.test_regions import grid
from tests.unit.streams.test_correlate import anomaly

W, H = 6, 6
REGIONS = 4


def topology() -> MemoryTopology:
    devices, links = grid(W, H)
    t = MemoryTopology()
    t.load(devices=[Device(d) for d in devices], links=links)
    return t


TOPO = topology()


async def run(events: list[Anomaly], regions: int) -> list[Incident]:
    """The events through the correlator as a runtime drives it: each to every key."""
    proc = CorrelatorProcessor(TOPO, CorrelatorConfig(regions=regions, halo_hops=2))
    states: dict[str, CorrelationState] = {}
    out: list[Event] = []
    for e in events:
        for key in proc.keys(e):
            state = states.setdefault(key, proc.new_state_for(key))
            out += await proc.process(e, state)
    return [e for e in out if isinstance(e, Incident)]


def device_down(device: str, t0: float) -> list[Anomaly]:
    """What a device failure looks like: the interfaces facing it go down, then clear."""
    facing = sorted(lk.end(lk.other(device)) for lk in TOPO.links_of(device))
    down = [anomaly(f, t0 + i) for i, f in enumerate(facing)]
    return down + [anomaly(f, t0 + 300 + i, state="cleared") for i, f in enumerate(facing)]


def shape(incidents: list[Incident]) -> list[tuple[object, ...]]:
    return [
        (
            i.fingerprint,
            i.revision,
            i.status,
            i.ts,
            [rc.entity for rc in i.root_causes],
            [(a.entity, a.state) for a in i.anomalies],
        )
        for i in incidents
    ]


async def test_every_device_failure_is_the_same_incident_with_regions() -> None:
    proc = CorrelatorProcessor(TOPO, CorrelatorConfig(regions=REGIONS, halo_hops=2))
    regions = proc.sharding.regions()
    assert all(view < set(TOPO.k_hop({"r00"}, 99)) for view in regions.views)  # not trivial
    crossing = 0
    for d in sorted(x.name for x in TOPO.devices()):
        events = device_down(d, 100.0)
        crossing += len({k for e in events for k in proc.keys(e)}) > 1
        one, split = await run(events, 1), await run(events, REGIONS)
        assert one and shape(split) == shape(one), d
        assert {i.fingerprint for i in split} == {one[0].fingerprint}
        assert one[-1].root_cause is not None and one[-1].root_cause.entity == d
    assert crossing > W * H // 3  # many faults were seen by more than one region


async def test_faults_in_two_regions_at_once_are_two_incidents_once_each() -> None:
    events = sorted(device_down("r11", 100.0) + device_down("r44", 100.5), key=lambda e: e.ts)
    one, split = await run(events, 1), await run(events, REGIONS)
    assert len({i.fingerprint for i in one}) == 2
    assert sorted(shape(split)) == sorted(shape(one))


async def test_keys_name_each_region_that_sees_the_entity_and_feedback_goes_to_all() -> None:
    proc = CorrelatorProcessor(TOPO, CorrelatorConfig(regions=REGIONS, halo_hops=2))
    regions = proc.sharding.regions()
    for d in ("r00", "r25", "r55"):
        keys = proc.keys(anomaly(d, 1.0))
        assert keys == tuple(f"region-{i}" for i in regions.seen_by((d,)))
        assert f"region-{regions.home((d,))}" in keys
    fb = Feedback(ts=1.0, verdict="lift", suppression="s1")  # type: ignore[call-arg]
    assert proc.keys(fb) == tuple(f"region-{i}" for i in range(REGIONS))
    # without regions: one partition, as before
    single = CorrelatorProcessor(TOPO)
    assert single.keys(anomaly("r00", 1.0)) == ("all",) and single.key(fb) == "all"
