"""The correlator: one incident per root cause, stable fingerprints, updates, close, reopen."""

from __future__ import annotations

import msgspec

from netvigil.events import POLLER_OVERLOAD, Anomaly, Event, Incident, Sample
from netvigil.graph.importers import load_topology
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor

TOPO = load_topology(None)


def anomaly(
    entity: str,
    ts: float,
    *,
    kind: str = "down",
    signal: str = "if.oper_status",
    state: str = "active",
    score: float = 1.0,
) -> Anomaly:
    return Anomaly(
        ts=ts,
        device=entity.partition(":")[0],
        entity=entity,
        signal=signal,
        kind=kind,
        score=score,
        state=state,
        onset_ts=ts,
    )  # type: ignore[arg-type]


def tick(ts: float, device: str = "core1") -> Sample:
    """The sampler's clock tick: the metrics of ``device`` have reached ``ts``."""
    return Sample(ts=ts, device=device)


async def feed(events: list[Anomaly], cfg: CorrelatorConfig | None = None) -> list[Incident]:
    proc = CorrelatorProcessor(TOPO, cfg)
    state = CorrelationState()
    out: list[Event] = []
    for e in events:
        out += await proc.process(e, state)
    return [e for e in out if isinstance(e, Incident)]


def link_ends(link: str) -> tuple[str, str]:
    lk = TOPO.link(link)
    return lk.a_if, lk.b_if


async def test_a_link_failure_is_one_incident_that_updates_and_resolves() -> None:
    a, b = link_ends("core1--edge1")
    incs = await feed(
        [
            anomaly(a, 100),
            anomaly(b, 100),
            anomaly(a, 160, state="cleared"),
            anomaly(b, 160, state="cleared"),
        ]
    )
    assert len({i.fingerprint for i in incs}) == 1
    assert [i.revision for i in incs] == list(range(1, len(incs) + 1))
    assert incs[-1].status == "resolved" and incs[-1].root_cause is not None
    assert incs[-1].root_cause.entity == "core1--edge1"
    assert incs[0].opened_ts == 100


async def test_fingerprints_are_stable_across_replays() -> None:
    a, b = link_ends("core3--edge3")
    events = [anomaly(a, 50), anomaly(b, 50)]
    assert [i.fingerprint for i in await feed(events)] == [
        i.fingerprint for i in await feed(events)
    ]


async def test_weak_anomalies_alone_open_no_incident() -> None:
    events = [anomaly("core2", 10, kind="deviation", signal="cpu.util", score=0.9)]
    assert await feed(events) == []


async def test_a_flapping_link_reopens_the_same_incident() -> None:
    a, b = link_ends("core2--core3")
    events = []
    for k in range(4):
        t = 1000 + 60 * k
        events += [anomaly(a, t), anomaly(b, t)]
        events += [anomaly(a, t + 20, state="cleared"), anomaly(b, t + 20, state="cleared")]
    incs = await feed(events)
    assert len({i.fingerprint for i in incs}) == 1
    last = incs[-1]
    assert last.root_cause is not None and last.root_cause.fault == "flapping"
    assert last.status == "resolved"


async def test_a_later_fault_nearby_is_a_new_incident() -> None:
    a, b = link_ends("core1--edge1")
    c, d = link_ends("core1--core2")
    lingering = anomaly("core1:x", 0, kind="deviation", signal="if.out_bps", score=1.0)
    incs = await feed(
        [
            anomaly(a, 100),
            anomaly(b, 100),
            lingering,
            anomaly(a, 200, state="cleared"),
            anomaly(b, 200, state="cleared"),
            anomaly(c, 2000),
            anomaly(d, 2000),
        ]
    )
    fps = {i.fingerprint: i for i in incs}
    assert len(fps) == 2
    assert {i.root_cause.entity for i in fps.values() if i.root_cause} == {
        "core1--edge1",
        "core1--core2",
    }


async def test_two_simultaneous_faults_far_apart_are_two_incidents() -> None:
    a, b = link_ends("core1--edge1")
    c, d = link_ends("core3--edge3")
    incs = await feed(
        [anomaly(a, 100), anomaly(c, 100), anomaly(b, 100), anomaly(d, 100)],
        CorrelatorConfig(max_hops=0),
    )
    causes = {i.fingerprint: i.root_cause.entity for i in incs if i.root_cause}
    assert sorted(set(causes.values())) == ["core1--edge1", "core3--edge3"]


async def test_a_side_effect_that_returns_with_another_fault_is_that_fault_s_incident() -> None:
    # a link failure pushes traffic onto core1--core2 (congested); both clear; a minute later
    # core1--core2 congests on its own: not the old incident reopening (it is no flap)
    a, b = link_ends("core1--edge1")
    hot, _ = link_ends("core1--core2")
    congested = {"kind": "threshold", "signal": "if.out_util"}
    incs = await feed(
        [
            anomaly(a, 100),
            anomaly(b, 100),
            anomaly(hot, 110, **congested),
            anomaly(hot, 150, state="cleared", **congested),
            anomaly(a, 160, state="cleared"),
            anomaly(b, 160, state="cleared"),
            anomaly(hot, 220, **congested),
        ]
    )
    by_fp = {i.fingerprint: i for i in incs}
    assert len(by_fp) == 2
    assert {i.root_cause.entity for i in by_fp.values() if i.root_cause} == {
        "core1--edge1",
        "core1--core2",
    }


async def test_one_end_s_adjacency_down_names_its_link_not_a_neighbour_with_other_links() -> None:
    """Ranking sees every link of the neighbours: core1 (five links) whose one far end lost
    its adjacency is not a routing failure of core1, which would predict five."""
    lk = TOPO.link("core1--edge1")
    edge_end = lk.end("edge1")
    incs = await feed([anomaly(edge_end, 100, signal="routing.ospf")])
    assert incs, "a strong symptom opens an incident"
    causes = incs[-1].root_causes
    assert causes[0].entity == lk.id, causes
    assert all(c.entity != "core1" or c.score < causes[0].score for c in causes)


async def test_unreachable_verdicts_of_an_overloaded_poller_open_no_incident() -> None:
    """A burst of poll timeouts over every device, the poller overloaded: no incidents.
    A real router failure in the same burst (its neighbours' links go down) still opens
    one, and names the router."""

    def unreachable(device: str, ts: float) -> Anomaly:
        a = anomaly(device, ts, signal="reachability")
        return msgspec.structs.replace(a, evidence={POLLER_OVERLOAD: "6 of 8 targets late"})

    burst = [unreachable(d.name, 100 + i) for i, d in enumerate(TOPO.devices())]
    assert await feed(burst) == []
    facing = [lk.end(lk.other("core2")) for lk in TOPO.links_of("core2")]
    proc, state = CorrelatorProcessor(TOPO), CorrelationState()
    out: list[Event] = []
    for e in [*burst, *(anomaly(i, 110) for i in facing), tick(120)]:
        out += await proc.process(e, state)
    incs = [e for e in out if isinstance(e, Incident)]
    assert incs and {i.fingerprint for i in incs} == {incs[0].fingerprint}
    assert incs[-1].root_causes[0].entity == "core2"


def _router_down(dev: str, ts: float, state: str = "active") -> list[Anomaly]:
    """What a router whose daemons stopped and links went down shows: its neighbours'
    interfaces and adjacencies down, its zebra's report, then its polls unanswered."""
    out = [anomaly(dev, ts, signal="routing.process.ospf", state=state)]
    for lk in TOPO.links_of(dev):
        far = lk.b_if if lk.a == dev else lk.a_if
        out += [
            anomaly(far, ts, state=state),
            anomaly(far, ts, signal="routing.ospf", state=state),
        ]
    return [*out, anomaly(dev, ts + 10, signal="reachability", state=state)]


async def test_a_routing_crash_after_the_router_came_back_is_its_own_incident() -> None:
    # the lab's node_down of a router, then 120 s later (44 s after its incident resolved)
    # its ospfd killed: the router answers, its daemon and adjacencies go down
    crash = [anomaly("core2", 300, signal="routing.process.ospf")]
    for lk in TOPO.links_of("core2"):
        crash += [anomaly(lk.a_if, 300, signal="routing.ospf")]
        crash += [anomaly(lk.b_if, 303.5, signal="routing.ospf")]
    incs = await feed(_router_down("core2", 180) + _router_down("core2", 246, "cleared") + crash)
    down = [i for i in incs if i.fingerprint == incs[0].fingerprint]
    assert down[-1].status == "resolved" and down[-1].root_cause is not None
    assert (down[-1].root_cause.entity, down[-1].root_cause.fault) == ("core2", "down")
    last = incs[-1]
    assert last.fingerprint != down[0].fingerprint
    assert last.status == "open" and last.root_cause is not None
    assert (last.root_cause.entity, last.root_cause.fault) == ("core2", "routing_down")


async def test_a_flapping_link_s_adjacency_first_seen_on_a_later_cycle_reopens_it() -> None:
    # the lab's flapper shuts one end 8 s of every 20: on the first cycle only the far end
    # reported, on the next the shut end's own adjacency log came first
    shut, far = link_ends("core2--core3")
    incs = await feed(
        [
            anomaly(far, 100),
            anomaly(far, 100, signal="routing.ospf"),
            anomaly(far, 108, state="cleared"),
            anomaly(far, 108, signal="routing.ospf", state="cleared"),
            anomaly(shut, 120, signal="routing.ospf"),
            anomaly(far, 120),
        ]
    )
    assert len({i.fingerprint for i in incs}) == 1
    last = incs[-1]
    assert last.status == "open" and last.root_cause is not None
    assert (last.root_cause.entity, last.root_cause.fault) == ("core2--core3", "flapping")


CONFIRM = CorrelatorConfig(confirm_s=30.0)


async def test_a_lone_unreachability_that_clears_in_time_is_no_incident() -> None:
    lone = [
        anomaly("edge2", 100, signal="reachability"),
        tick(110),
        anomaly("edge2", 110, signal="reachability", state="cleared"),
        tick(200),
    ]
    proc, state = CorrelatorProcessor(TOPO, CONFIRM), CorrelationState()
    for e in lone:
        assert not [i for i in await proc.process(e, state) if isinstance(i, Incident)]
    assert state.pending == {} and dict(proc.ignored.counts) == {"unconfirmed_unreachability": 1}
    # without the rule (the default) the same poll timeout is a device down
    assert [i.root_causes[0].entity for i in await feed(lone)][:1] == ["edge2"]


async def test_a_lone_unreachability_that_lasts_confirm_s_opens_its_incident() -> None:
    lasting = [anomaly("edge2", 100, signal="reachability"), tick(110), tick(125), tick(131)]
    incs = await feed(lasting, CONFIRM)
    assert incs and incs[0].ts == 131 and incs[0].root_causes[0].entity == "edge2"
    # the same fingerprint as without the rule, which opens it at once
    assert {i.fingerprint for i in incs} == {(await feed(lasting))[0].fingerprint}


async def test_a_neighbours_symptom_places_a_held_unreachability_first() -> None:
    down = [anomaly("core2", 100, signal="reachability")]
    down += [anomaly(lk.end(lk.other("core2")), 100) for lk in TOPO.links_of("core2")]
    now, before = await feed(down, CONFIRM), await feed(down)
    assert now and now[0].ts == 100 and now[-1].root_causes[0].entity == "core2"
    # the same incidents, revision for revision, as without holding it
    assert now == before


async def test_a_symptom_far_away_does_not_confirm_an_unreachability() -> None:
    far = [lk for lk in TOPO.links() if "edge2" not in (lk.a, lk.b)]
    far = [lk for lk in far if not {lk.a, lk.b} & set(TOPO.neighbors("edge2"))]
    assert far
    events = [anomaly("edge2", 100, signal="reachability"), anomaly(far[0].a_if, 101)]
    proc, state = CorrelatorProcessor(TOPO, CONFIRM), CorrelationState()
    for e in events:
        await proc.process(e, state)
    assert list(state.pending) == ["edge2"]


async def test_an_unreachability_after_its_neighbours_symptoms_is_placed_at_once() -> None:
    events = [*_router_down("core2", 100)[:-1], anomaly("core2", 110, signal="reachability")]
    proc, state = CorrelatorProcessor(TOPO, CONFIRM), CorrelationState()
    for e in events:
        await proc.process(e, state)
    (group,) = state.groups
    assert state.pending == {} and group.anomalies["core2|reachability"].kind == "down"
