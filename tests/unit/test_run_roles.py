"""``kafka.run_role`` picks the processors `netvigil run` runs on Kafka (the Kafka test
``tests/integration/kafka/test_run_roles.py`` runs a collector against a broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.config import Settings
from netvigil.service import Service


def processors_of(
    tmp_path: Path, role: str, bus: str = "kafka://127.0.0.1:1", **extra: object
) -> list[str]:
    settings = Settings.model_validate({"bus": {"url": bus}, "kafka": {"run_role": role}, **extra})
    svc = Service.build(settings, data_dir=tmp_path)  # builds; connects to no broker
    try:
        return [p.name for p in svc.processors]
    finally:
        svc.close()


def test_all_runs_every_processor_and_is_the_default(tmp_path: Path) -> None:
    assert Settings().kafka.run_role == "all"
    every = processors_of(tmp_path / "a", "all")
    assert {"detector", "correlator", "coordinator", "risks", "sampler"} <= set(every)


def test_a_collector_runs_only_what_its_collectors_need(tmp_path: Path) -> None:
    assert processors_of(tmp_path / "a", "collector") == []
    # the flow collector keeps its templates through a processor of its own
    with_flows = processors_of(tmp_path / "b", "collector", flows={"port": 4739})
    assert with_flows == ["flow-templates"]


def test_the_coordinator_runs_all_but_the_workers_processors(tmp_path: Path) -> None:
    every = processors_of(tmp_path / "a", "all")
    coord = processors_of(tmp_path / "b", "coordinator")
    assert "coordinator" in coord
    assert set(coord) == set(every) - {"detector", "correlator"}
    only_detector = processors_of(
        tmp_path / "c",
        "coordinator",
        kafka={"run_role": "coordinator", "worker_processors": ["detector"]},
    )
    assert "correlator" in only_detector and "detector" not in only_detector


@pytest.mark.parametrize("role", ["collector", "coordinator"])
def test_the_embedded_runtime_runs_everything_whatever_the_role(tmp_path: Path, role: str) -> None:
    every = processors_of(tmp_path / "a", "all", bus="memory://")
    assert processors_of(tmp_path / "b", role, bus="memory://") == every
