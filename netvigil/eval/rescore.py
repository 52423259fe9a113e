"""Correlation again, offline: a run's anomalies through another correlator configuration.

The correlator is a pure function of the anomalies it reads, in order, and of the topology:
replaying the anomalies a run published (``netvigil.anomalies``, as they came) through a
:class:`~netvigil.streams.correlate.CorrelatorProcessor` with the run's configuration gives
the run's incidents again, and with another configuration the incidents that configuration
would have opened. So one run of the lab (real time: an hour) scores every candidate
``window_s``, which is how the window is chosen by cross-validation
(``bench/lab_window_cv.py``). A recording is JSON lines: the faults as made, then the
anomalies (msgspec's encoding of the event types).

Recordings made before 2026-12-07 evening hold the anomalies only: a change of the detector
cannot be replayed on them (what it would have seen beneath an anomaly, or where no anomaly
came, is not there). Since then ``bench lab --record`` keeps the metrics too (the detector's
input from the collectors, every sample), and :func:`redetect` runs a detector configuration
over them: the metric series' anomalies again, beside the recorded ones of events (status
changes, adjacencies, logs), which it keeps as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from netvigil.analytics.detector import DetectorConfig
from netvigil.eval.scoreboard import Scoreboard
from netvigil.events import Anomaly, Event, Metric, Sample
from netvigil.graph.base import TopologyStore
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from netvigil.streams.detect import DetectorProcessor
from netvigil.twin.faults import Fault

__all__ = [
    "BenchRecording",
    "Recording",
    "faults_of",
    "load_recording",
    "redetect",
    "rescore",
    "save_recording",
]


class Recording(msgspec.Struct, frozen=True, kw_only=True):
    """What a run saw: its faults (the twin's form) and its anomalies in publication order."""

    side: str
    """``lab`` or ``twin``."""
    topology: str
    plan: dict[str, Any]
    """The lab's plan (:meth:`~netvigil.lab.plan.LabPlan.to_dict`): the topology correlated on."""
    faults: list[dict[str, Any]]
    """The twin's form of each fault (:class:`~netvigil.twin.faults.Fault` fields)."""
    lab_kinds: list[str]
    harmful: list[bool]
    """Per fault, whether it did harm (:func:`netvigil.eval.lab.harmful`, on that run)."""
    anomalies: list[Anomaly]
    grace_s: float
    metrics: list[Metric] = []
    """Every metric the run's detector read, in order (empty in recordings made before the
    metrics were kept: see the module docstring)."""


class BenchRecording(msgspec.Struct, frozen=True, kw_only=True):
    """What the correlator read in a run of the RCA benchmark on the twin
    (``netvigil bench rca --record``): anomalies and the sampler's clock ticks, in order."""

    topology: str
    """The topology file (empty: the built-in demo backbone)."""
    faults: list[dict[str, Any]]
    """The faults as the twin made them, benign ones included (the scoreboard skips those)."""
    grace_s: float
    events: list[Anomaly | Sample]


def save_recording(path: Path, rec: Recording | BenchRecording) -> None:
    path.write_bytes(msgspec.json.encode(rec))


def load_recording(path: Path) -> Recording:
    return msgspec.json.decode(path.read_bytes(), type=Recording)


def redetect(rec: Recording, cfg: DetectorConfig | None = None) -> list[Anomaly]:
    """``rec``'s anomalies with those of its metric series detected again with ``cfg``: the
    recorded anomalies of every signal the recorded metrics carry are replaced by the
    detector's, the others (of events: status changes, adjacencies, logs) kept; in time order.
    A recording without metrics is returned as it is."""
    if not rec.metrics:
        return list(rec.anomalies)
    proc = DetectorProcessor(cfg)
    states: dict[str, Any] = {}
    found: list[Anomaly] = []

    async def replay() -> None:
        for m in rec.metrics:
            state = states.get(m.device)
            if state is None:
                state = states[m.device] = proc.new_state()
            found.extend(e for e in await proc.process(m, state) if isinstance(e, Anomaly))

    asyncio.run(replay())
    signals = {m.name for m in rec.metrics}
    kept = [a for a in rec.anomalies if a.signal not in signals]
    return sorted([*kept, *found], key=lambda a: a.ts)


def faults_of(rec: Recording | BenchRecording) -> list[Fault]:
    return [Fault(**{**f, "links": tuple(f.get("links", ()))}) for f in rec.faults]


def rescore(
    anomalies: Sequence[Anomaly | Sample],
    faults: Iterable[Fault],
    topo: TopologyStore,
    cfg: CorrelatorConfig,
    grace_s: float,
) -> dict[str, Any]:
    """The :meth:`Scoreboard.report` of ``anomalies`` (with clock ticks, if recorded)
    correlated with ``cfg``."""
    board = Scoreboard(grace_s=grace_s)
    for f in faults:
        board.on_fault("injected", f, f.start)
    proc = CorrelatorProcessor(topo, cfg)
    state = CorrelationState()

    async def replay() -> None:
        for a in anomalies:
            out: Sequence[Event] = await proc.process(a, state)
            for e in out:
                board.on_incident("netvigil.incidents", e)

    asyncio.run(replay())
    return board.report()
