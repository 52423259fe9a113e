"""A twin run over a used data directory resumes after the simulated time the last run
reached: its events are never older than what the deployment saw before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from netvigil.config import load_settings
from netvigil.errors import NetVigilError
from netvigil.events import Event
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import CLOCK_FILE, SIM_EPOCH, TwinSource, resume_point


def _source(tmp_path: Path, start: float, until: float) -> TwinSource:
    return TwinSource(
        TwinNetwork(load_topology(None), seed=1),
        step_s=60,
        start=start,
        until=until,
        clock_file=tmp_path / CLOCK_FILE,
        ahead_s=600,
    )


def _times(src: TwinSource, stop_at: float | None = None) -> list[float]:
    seen: list[float] = []
    stop = asyncio.Event()

    async def emit(event: Event) -> None:
        if not seen or seen[-1] != event.ts:
            seen.append(event.ts)
        if stop_at is not None and event.ts >= stop_at:
            stop.set()

    asyncio.run(src.run(emit, stop))
    return seen


def test_a_new_directory_starts_at_the_epoch_and_the_next_run_after_the_last_step(
    tmp_path: Path,
) -> None:
    assert resume_point(tmp_path, 60) == SIM_EPOCH
    first = _times(_source(tmp_path, SIM_EPOCH, SIM_EPOCH + 3600), stop_at=SIM_EPOCH + 1200)
    assert first[-1] == SIM_EPOCH + 1200  # stopped there (Ctrl-C)
    start = resume_point(tmp_path, 60)
    assert start == SIM_EPOCH + 1260
    second = _times(_source(tmp_path, start, start + 300))
    assert second[0] == start > first[-1]
    assert resume_point(tmp_path, 60) == start + 360


def test_a_killed_run_leaves_a_time_it_had_not_passed(tmp_path: Path) -> None:
    """No final write (kill -9): the time written ahead, at most ``ahead_s`` later."""
    src = _source(tmp_path, SIM_EPOCH, SIM_EPOCH + 3600)
    reached = SIM_EPOCH
    for t in range(0, 1500, 60):  # the steps a killed run took, without its end
        src._ahead(SIM_EPOCH + t)
        reached = SIM_EPOCH + t
    start = resume_point(tmp_path, 60)
    assert reached < start <= reached + 600


def test_faults_are_scheduled_after_the_resumed_start(tmp_path: Path) -> None:
    settings = load_settings()
    start = SIM_EPOCH + 86400
    plan = Service.plan_twin(settings, fault_count=2, speed=0.0, start=start)
    assert plan.start == start
    assert plan.faults[0].start == start + settings.twin.warmup_s
    assert plan.until is not None and plan.until > plan.faults[-1].end


def test_a_resumed_run_goes_on_with_the_schedule_not_its_first_faults_again() -> None:
    settings = load_settings()
    tw = settings.twin
    fresh = Service.plan_twin(settings, fault_count=6, speed=0.0)
    start = SIM_EPOCH + tw.warmup_s + tw.fault_interval_s + 30  # a restart after fault 1 began
    resumed = Service.plan_twin(settings, fault_count=3, speed=0.0, start=start)
    assert resumed.faults[0].start == start + tw.warmup_s  # after its own warm-up
    # faults 0 and 1 had begun before the restart: it goes on with fault 2
    what = [(f.kind, f.target, f.direction) for f in resumed.faults]
    assert what == [(f.kind, f.target, f.direction) for f in fresh.faults[2:5]]


def test_an_unreadable_clock_is_an_error_not_a_replay_from_the_epoch(tmp_path: Path) -> None:
    (tmp_path / CLOCK_FILE).write_text("{not json")
    with pytest.raises(NetVigilError, match="remove it"):
        resume_point(tmp_path, 60)
