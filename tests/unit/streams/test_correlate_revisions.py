"""Held-back revisions (``revision_s``): an incident opens at its first anomaly, resolves and
reopens at once, and a burst of changes between is ranked once, released by the first
anomaly or clock tick ``revision_s`` later; the last revision is the one a correlator that
emits every change ends with."""

from __future__ import annotations

import msgspec

from netvigil.events import Anomaly, Event, Incident, Sample
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from tests.unit.streams.test_correlate import TOPO, anomaly, tick
from tests.unit.streams.test_correlate_regions import TOPO as GRID
from tests.unit.streams.test_correlate_regions import device_down

HELD = CorrelatorConfig(revision_s=5.0)
EVERY = CorrelatorConfig(revision_s=0.0)


async def feed(events: list[Event], cfg: CorrelatorConfig, topo: object = TOPO) -> list[Incident]:
    proc = CorrelatorProcessor(topo, cfg)  # type: ignore[arg-type]
    states: dict[str, CorrelationState] = {}
    out: list[Event] = []
    for e in events:
        for key in proc.keys(e):
            out += await proc.process(e, states.setdefault(key, proc.new_state_for(key)))
    return [e for e in out if isinstance(e, Incident)]


def failure(device: str, t0: float) -> list[Anomaly]:
    """The interfaces facing ``device`` go down one second apart (it is unreachable too)."""
    facing = sorted(lk.end(lk.other(device)) for lk in TOPO.links_of(device))
    down = [anomaly(f, t0 + i) for i, f in enumerate(facing)]
    return [*down, anomaly(device, t0 + 1, signal="reachability")]


def last(incidents: list[Incident]) -> tuple[object, ...]:
    i = incidents[-1]
    return (
        i.fingerprint,
        i.status,
        [(rc.entity, rc.fault, rc.score) for rc in i.root_causes],
        [(a.entity, a.signal, a.state) for a in i.anomalies],
        i.impact,
        i.severity,
    )


async def test_a_burst_opens_at_once_and_is_ranked_once_more_when_a_tick_comes() -> None:
    events: list[Event] = [*failure("core1", 100.0)]  # 6 anomalies within 5 s
    every = await feed(events, EVERY)
    held = await feed(events, HELD)
    assert len(every) == 6
    assert len(held) == 1 and (held[0].ts, held[0].revision) == (100.0, 1)  # opened at once
    assert held[0].root_causes == every[0].root_causes
    # the clock ticks: under revision_s after the oldest held change (101) nothing, then all
    assert await feed([*events, tick(103.0)], HELD) == held
    released = await feed([*events, tick(103.0), tick(106.0)], HELD)
    assert [(i.ts, i.revision) for i in released] == [(100.0, 1), (106.0, 2)]
    assert last(released) == last(every)
    assert released[-1].root_cause is not None and released[-1].root_cause.entity == "core1"


async def test_an_anomaly_elsewhere_releases_what_is_due() -> None:
    other = anomaly("edge3", 200.0, kind="deviation", signal="cpu.util", score=0.5)
    released = await feed([*failure("core1", 100.0), other], HELD)
    assert [(i.ts, i.revision) for i in released] == [(100.0, 1), (200.0, 2)]
    assert last(released) == last(await feed([*failure("core1", 100.0), other], EVERY))


async def test_resolving_and_reopening_go_out_at_once() -> None:
    a, b = (TOPO.link("core1--edge1").a_if, TOPO.link("core1--edge1").b_if)
    events: list[Event] = [
        *(anomaly(a, 100.0), anomaly(b, 101.0)),
        *(anomaly(a, 160.0, state="cleared"), anomaly(b, 161.0, state="cleared")),
        *(anomaly(a, 200.0), anomaly(b, 201.0)),  # the link flaps
    ]
    every = await feed(events, EVERY)
    held = await feed(events, HELD)
    assert len({i.fingerprint for i in every}) == len({i.fingerprint for i in held}) == 1
    # b's onset is held, then released by a's clear; the resolution and the reopening at once
    assert [(i.ts, i.status) for i in held] == [
        (100.0, "open"),
        (160.0, "open"),
        (161.0, "resolved"),
        (200.0, "open"),
    ]
    assert held[-1].root_cause is not None and held[-1].root_cause.fault == "flapping"
    final = await feed([*events, tick(206.0)], HELD)
    assert len(final) == len(held) + 1 and last(final) == last(every)


async def test_a_device_failure_is_named_within_the_storm_bound_on_the_sampler_clock() -> None:
    # anomalies come with the twin's 10 s steps; the sampler ticks every 10 s per device
    facing = failure("core1", 0.0)
    events: list[Event] = [
        *[
            msgspec.structs.replace(a, ts=t, onset_ts=t)
            for a, t in zip(facing, [100.0] * 2 + [110.0] * 4, strict=True)
        ],
        *[tick(100.0 + 10 * k, device) for k in range(4) for device in ("core2", "edge3")],
    ]
    events.sort(key=lambda e: e.ts)
    held = await feed(events, HELD)
    assert len({i.fingerprint for i in held}) == 1  # exactly one incident
    named = [i for i in held if i.root_cause is not None and i.root_cause.entity == "core1"]
    assert named and named[0].ts - held[0].opened_ts <= 30.0
    assert last(held) == last(await feed(events, EVERY))


def test_clock_ticks_are_keyed_and_thinned() -> None:
    proc = CorrelatorProcessor(TOPO, HELD)
    assert proc.keys(tick(100.0)) == ("all",)
    assert proc.keys(tick(102.0, "edge2")) == ()  # under revision_s / 2 after the last
    assert proc.keys(tick(102.5, "edge2")) == ("all",)
    assert proc.keys(Sample(ts=110.0, device="core1", kpi="if.util", value=0.5)) == ()
    assert CorrelatorProcessor(TOPO, EVERY).keys(tick(100.0)) == ()  # nothing is held back
    split = CorrelatorProcessor(GRID, CorrelatorConfig(regions=4, halo_hops=2))
    regions = split.sharding.regions()
    for i, device in enumerate(sorted(d.name for d in GRID.devices())):
        want = tuple(f"region-{r}" for r in regions.seen_by((device,)))
        assert split.keys(tick(1000.0 * i, device)) == want


async def test_regions_end_each_incident_as_one_correlator_does() -> None:
    split = CorrelatorConfig(regions=4, halo_hops=2, revision_s=5.0)
    one = CorrelatorConfig(regions=1, halo_hops=2, revision_s=5.0)
    devices = sorted(d.name for d in GRID.devices())
    for d in devices:
        events: list[Event] = [*device_down(d, 100.0)]
        events += [tick(100.0 + 10 * k, x) for k in range(40) for x in devices]
        events.sort(key=lambda e: e.ts)
        a, b = await feed(events, one, GRID), await feed(events, split, GRID)
        assert a and last(a) == last(b), d
        assert (a[0].ts, a[0].root_causes) == (b[0].ts, b[0].root_causes)
        assert a[-1].root_cause is not None and a[-1].root_cause.entity == d
