"""Two workers share the partitions; the one holding the correlator's state is killed (-9) in
the middle of a fault; the other takes over, restores the detector and correlator state from
the changelog topics, and the results are complete and the same as the embedded runtime's."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.config import Settings
from netvigil.events import Anomaly, Event, Incident
from netvigil.streams.kafka.admin import GroupLag, group_lag
from netvigil.streams.kafka.keyed import group_of
from netvigil.streams.kafka.progress import is_mark
from netvigil.twin.source import SIM_EPOCH
from tests.integration.kafka.conftest import (
    Results,
    Worker,
    collect,
    embedded_results,
    events_in,
    publish,
    read_topic,
    stopped_after,
    tails,
    twin_events,
    wait_for,
)

PROCESSORS = ("detector", "correlator")


@pytest.fixture
def workers(guaranteed: Settings, tmp_path: Path) -> Iterator[list[Worker]]:
    with stopped_after([Worker(n, guaranteed, tmp_path, PROCESSORS) for n in ("w1", "w2")]) as w:
        yield w


def results(bootstrap: str, prefix: str) -> Results:
    return collect(published(bootstrap, prefix))


def published(bootstrap: str, prefix: str) -> list[Event]:
    """Every anomaly and incident revision committed to the output topics."""
    seen = events_in(read_topic(bootstrap, prefix + "netvigil.anomalies"))
    return seen + events_in(read_topic(bootstrap, prefix + "netvigil.incidents"))


@pytest.mark.timeout(600)
def test_killed_workers_partitions_and_state_move_to_the_other(
    kafka: str, settings: Settings, workers: list[Worker], tmp_path: Path
) -> None:
    run = twin_events(settings, faults=3)
    expected = embedded_results(settings, run.events, only=PROCESSORS)
    last = run.faults[-1]
    cut = last.start + (last.end - last.start) / 3  # the last fault is active at the kill
    first = [e for e in run.events if e.ts < cut]
    rest = [e for e in run.events if e.ts >= cut]
    prefix = settings.kafka.topic_prefix
    logs = [w.log for w in workers]
    inputs = {(prefix + t, p) for t in ("netvigil.metrics", "netvigil.events") for p in range(4)}

    def shared() -> bool:  # both joined, the detector's input partitions split between them
        got = [w.assigned("detector") & inputs for w in workers]
        return all(got) and set.union(*got) == inputs and not set.intersection(*got)

    wait_for("both workers to share the partitions", shared, 180, logs)
    publish(kafka, settings, first, tmp_path / "spool1")

    def opened() -> bool:  # the last fault's incident is open: state to carry over exists
        got = results(kafka, prefix)
        return any(
            i.root_cause is not None and i.root_cause.entity == last.target
            for i in got.incidents.values()
        )

    wait_for("the last fault's incident", opened, 180, logs)
    by_key = group_of("correlator", prefix) + "-by-key"
    hot = {r.partition for r in read_topic(kafka, by_key) if not is_mark(r.value)}  # events
    victim = next(w for w in workers if {(by_key, p) for p in hot} & w.assigned("correlator"))
    survivor = next(w for w in workers if w is not victim)
    victim_devices = victim.assigned("detector") & inputs
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(10)

    publish(kafka, settings, rest, tmp_path / "spool2")

    reads = {
        group_of("detector", prefix): sorted({t for t, _ in inputs}),
        group_of("correlator", prefix): [prefix + "netvigil.anomalies", by_key],
    }

    def lags() -> list[GroupLag]:
        return [g for group, topics in reads.items() for g in group_lag(kafka, [group], topics)]

    def done() -> bool:  # everything the embedded runtime found, and nothing more for 5 s
        got = results(kafka, prefix)
        if got.anomaly_set() != expected.anomaly_set() or len(got.incidents) < 3:
            return False
        if all(i.status == "resolved" for i in got.incidents.values()):
            time.sleep(5)
            return results(kafka, prefix).incidents == got.incidents
        return False

    def state() -> object:
        got = results(kafka, prefix)
        dump = tmp_path / "debug.txt"  # what the correlator saw, for the failure message
        dump.write_text(
            "\n".join(
                f"{i.fingerprint} {i.revision} {i.title} {i.status} "
                f"{[(a.entity, a.signal, a.onset_ts - SIM_EPOCH) for a in i.anomalies]}"
                for i in got.incidents.values()
            )
            + "\n\nBY-KEY\n"
            + "\n".join(
                f"{a.ts - SIM_EPOCH} {a!r}"
                for a in events_in([r for r in read_topic(kafka, by_key) if not is_mark(r.value)])
            )
        )
        return {
            "lag": lags(),
            "expected": expected.root_causes(),
            "got": got.root_causes(),
            "missing anomalies": sorted(expected.anomaly_set() - got.anomaly_set())[:10],
            "extra anomalies": sorted(got.anomaly_set() - expected.anomaly_set())[:10],
            "incidents": sorted(
                (i.opened_ts - SIM_EPOCH, i.title, i.status) for i in got.incidents.values()
            ),
            "details": str(dump),
        }

    wait_for("the survivor to finish the stream", done, 240, logs, state)
    got = results(kafka, prefix)
    # complete and correct: the same anomalies (duplicates allowed: at least once) and the
    # same incidents; the one open at the kill resolved under the fingerprint it opened with
    assert got.anomaly_set() == expected.anomaly_set()
    assert got.root_causes() == expected.root_causes()
    summary = sorted(
        (
            i.opened_ts - SIM_EPOCH,
            i.title,
            i.fingerprint,
            [(a.entity, a.signal) for a in i.anomalies],
        )
        for i in got.incidents.values()
    )
    assert len(got.incidents) == len(expected.incidents) == len(run.faults), summary
    # the survivor took over everything the victim had, and the victim had real work
    assert survivor.assigned("detector") & inputs == inputs
    assert victim_devices, "the killed worker owned no detector partitions"
    after = [a for a in got.anomalies if a.ts >= cut]
    assert any(a.state == "cleared" and a.ts >= last.end for a in after)
    assert SIM_EPOCH < cut < run.events[-1].ts
    if settings.kafka.processing_guarantee == "exactly_once":
        # nothing twice, although the victim died in the middle of its rounds: every anomaly
        # as often as the embedded runtime emitted it, every incident revision once
        events = published(kafka, prefix)
        anomalies = Counter(
            (a.ts, a.entity, a.signal, a.state, a.kind) for a in events if isinstance(a, Anomaly)
        )
        assert anomalies == Counter(
            (a.ts, a.entity, a.signal, a.state, a.kind) for a in expected.anomalies
        ), tails(logs)
        revisions = Counter((i.fingerprint, i.revision) for i in events if isinstance(i, Incident))
        assert revisions and max(revisions.values()) == 1, tails(logs)
