"""Correlation again, offline: a run's anomalies through another correlator configuration.

The correlator is a pure function of the anomalies it reads, in order, and of the topology:
replaying the anomalies a run published (``netvigil.anomalies``, as they came) through a
:class:`~netvigil.streams.correlate.CorrelatorProcessor` with the run's configuration gives
the run's incidents again, and with another configuration the incidents that configuration
would have opened. So one run of the lab (real time: an hour) scores every candidate
``window_s``, which is how the window is chosen by cross-validation
(``bench/lab_window_cv.py``). A recording is JSON lines: the faults as made, then the
anomalies (msgspec's encoding of the event types).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from netvigil.eval.scoreboard import Scoreboard
from netvigil.events import Anomaly, Event, Sample
from netvigil.graph.base import TopologyStore
from netvigil.streams.correlate import CorrelationState, CorrelatorConfig, CorrelatorProcessor
from netvigil.twin.faults import Fault

__all__ = [
    "BenchRecording",
    "Recording",
    "faults_of",
    "load_recording",
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
