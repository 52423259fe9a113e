"""A correlator that starts without state takes its incidents back from the incident store:
the same ongoing fault updates its incident, a new fault opens a new one, a symptom the restart
could not confirm settles, and what it ignores is counted."""

from __future__ import annotations

from pathlib import Path

from netvigil.events import Event, Incident
from netvigil.resolvers.incidents import IncidentStore
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from tests.unit.streams.test_correlate import TOPO, anomaly, link_ends, tick

T0 = 1_000_000.0


class Run:
    """One process's correlator, keeping what it emits in an incident store (as the
    coordinator does) so the next run can resume from it."""

    def __init__(self, store: IncidentStore, cfg: CorrelatorConfig | None = None) -> None:
        self.store = store
        self.proc = CorrelatorProcessor(TOPO, cfg, resume=store.resumable)
        self.state: CorrelationState | None = None

    async def feed(self, *events: Event) -> list[Incident]:
        if self.state is None:  # what a runtime does with a key it has no state for
            self.state = self.proc.new_state()
        out = []
        for e in events:
            for inc in await self.proc.process(e, self.state):
                assert isinstance(inc, Incident)
                self.store.put(inc, None)
                out.append(inc)
        return out


def store(tmp_path: Path) -> IncidentStore:
    return IncidentStore(tmp_path / "incidents.db")


async def test_the_same_ongoing_fault_updates_its_incident_after_a_restart(tmp_path: Path) -> None:
    a, b = link_ends("core1--edge1")
    first = Run(store(tmp_path))
    opened = await first.feed(anomaly(a, T0), anomaly(b, T0))
    fp = opened[-1].fingerprint
    # restart: the detector reports the still-down link again, with a new onset
    second = Run(store(tmp_path))
    again = await second.feed(anomaly(a, T0 + 20), anomaly(b, T0 + 20))
    assert {i.fingerprint for i in again} == {fp}
    assert again[0].revision == opened[-1].revision + 1
    assert again[0].opened_ts == T0
    resolved = await second.feed(
        anomaly(a, T0 + 60, state="cleared"), anomaly(b, T0 + 60, state="cleared")
    )
    assert resolved[-1].fingerprint == fp and resolved[-1].status == "resolved"
    assert [i.fingerprint for i, _ in second.store.list()] == [fp]


async def test_a_new_fault_after_a_restart_opens_a_new_incident(tmp_path: Path) -> None:
    a, b = link_ends("core1--edge1")
    first = Run(store(tmp_path))
    fp = (await first.feed(anomaly(a, T0), anomaly(b, T0)))[-1].fingerprint
    second = Run(store(tmp_path))
    c, d = link_ends("core3--edge3")  # near, but a correlation window later
    new = await second.feed(anomaly(c, T0 + 400), anomaly(d, T0 + 400))
    assert len({i.fingerprint for i in new}) == 1 and new[0].fingerprint != fp
    assert new[-1].root_cause is not None and new[-1].root_cause.entity == "core3--edge3"
    old = await second.feed(anomaly(a, T0 + 401))  # the old fault, still there
    assert {i.fingerprint for i in old} == {fp}
    assert len(second.store.list()) == 2


async def test_a_flap_after_a_restart_reopens_the_resolved_incident(tmp_path: Path) -> None:
    a, b = link_ends("core2--core3")
    first = Run(store(tmp_path))
    await first.feed(anomaly(a, T0), anomaly(b, T0))
    done = await first.feed(
        anomaly(a, T0 + 30, state="cleared"), anomaly(b, T0 + 30, state="cleared")
    )
    assert done[-1].status == "resolved"
    second = Run(store(tmp_path))
    back = await second.feed(anomaly(a, T0 + 60), anomaly(b, T0 + 60))
    assert {i.fingerprint for i in back} == {done[-1].fingerprint}
    assert back[-1].status == "open"
    assert back[-1].root_cause is not None and back[-1].root_cause.fault == "flapping"


async def test_a_symptom_not_seen_again_after_a_restart_settles(tmp_path: Path) -> None:
    a, b = link_ends("core1--edge1")
    first = Run(store(tmp_path))
    # both ends in the incident store: the clock tick releases the revision with the second
    fp = (await first.feed(anomaly(a, T0), anomaly(b, T0), tick(T0 + 5)))[-1].fingerprint
    # the link came back while the service was down: the new detector never reports it
    second = Run(store(tmp_path), CorrelatorConfig(window_s=300))
    c, d = link_ends("core3--edge3")
    await second.feed(anomaly(c, T0 + 1000))  # the first event after the start
    assert second.store.get(fp)[0].status == "open"  # type: ignore[index]
    out = await second.feed(anomaly(d, T0 + 1301))  # window_s later
    settled = [i for i in out if i.fingerprint == fp]
    assert settled and settled[-1].status == "resolved"
    assert second.proc.ignored.counts["unconfirmed_symptom"] == 2  # both ends of the link


async def test_a_symptom_back_after_a_long_restart_joins_its_incident(tmp_path: Path) -> None:
    a, b = link_ends("core1--edge1")
    first = Run(store(tmp_path), CorrelatorConfig(window_s=300))
    fp = (await first.feed(anomaly(a, T0), anomaly(b, T0)))[-1].fingerprint
    second = Run(store(tmp_path), CorrelatorConfig(window_s=300))
    # down for an hour: the onset the new detector reports is far past the window
    again = await second.feed(anomaly(a, T0 + 3600), anomaly(b, T0 + 3600))
    assert {i.fingerprint for i in again} == {fp}


async def test_anomalies_older_than_the_clock_are_ignored_and_counted(tmp_path: Path) -> None:
    a, b = link_ends("core1--edge1")
    first = Run(store(tmp_path), CorrelatorConfig(late_s=600))
    await first.feed(anomaly(a, T0), anomaly(b, T0))
    # a replay from an hour before (a twin restarted at its epoch, a clock set back)
    second = Run(store(tmp_path), CorrelatorConfig(late_s=600))
    c, d = link_ends("core3--edge3")
    assert await second.feed(anomaly(c, T0 - 3600), anomaly(d, T0 - 3600)) == []
    assert second.proc.ignored.counts["late_anomaly"] == 2
    assert len(second.store.list()) == 1


async def test_without_a_store_nothing_is_resumed() -> None:
    proc = CorrelatorProcessor(TOPO)
    assert proc.new_state().groups == []


async def test_a_replay_after_a_restart_emits_no_revision_newer_than_the_first_pass(
    tmp_path: Path,
) -> None:
    # a burst ranked in three revisions (open, held, resolved), then a fault elsewhere; the
    # incident store holds both, resolved
    facing = sorted(lk.end(lk.other("core1")) for lk in TOPO.links_of("core1"))
    burst = [anomaly(f, T0 + i) for i, f in enumerate(facing)]
    clears = [anomaly(f, T0 + 100 + i, state="cleared") for i, f in enumerate(facing)]
    a, b = link_ends("core3--edge3")
    later = [anomaly(a, T0 + 1000), anomaly(b, T0 + 1000)]
    later += [anomaly(a, T0 + 1100, state="cleared"), anomaly(b, T0 + 1101, state="cleared")]
    events = [*burst, tick(T0 + 10), *clears, tick(T0 + 110), *later, tick(T0 + 1110)]
    first = Run(store(tmp_path))
    emitted = await first.feed(*events)
    stored = {i.fingerprint: i.revision for i, _ in first.store.list()}
    fp = emitted[0].fingerprint
    assert stored[fp] < len(burst) + len(clears)  # the burst was held
    # restart, and the same events again (the twin starts at its epoch): the clock resumes
    # ahead of them, yet the replay holds back as the first pass did
    second = Run(store(tmp_path))
    again = await second.feed(*events)
    assert again and all(i.revision <= stored[i.fingerprint] for i in again)
    assert {i.fingerprint: i.revision for i, _ in second.store.list()} == stored
