"""The mission scoreboard through the CLI, on a short scenario file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netvigil.errors import ConfigError
from netvigil.eval.mission import list_scenarios, load_scenario

pytestmark = pytest.mark.e2e

SHORT = """
name: short
description: three hours, one fault of each kind, each lasting up to 30 minutes
step_s: 30
duration_s: 10800
schedule: {kinds: [link_down, congestion, node_down], first_s: 3600, every_s: 2400,
           duration_s: 1800}
"""


def test_builtin_scenarios_load() -> None:
    names = list_scenarios()
    assert {"mixed-faults", "quiet-day", "congestion-storm"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.duration_s > 0 and sc.step_s > 0


def test_malformed_and_unknown_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scenario"):
        load_scenario("no-such-scenario")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_s: 10\n")
    with pytest.raises(ConfigError, match="malformed"):
        load_scenario(str(bad))
    bad.write_text(
        "name: x\nduration_s: 10\nschedule: {kinds: [meteor], first_s: 0, "
        "every_s: 1, duration_s: 1}\n"
    )
    with pytest.raises(ConfigError, match="unknown fault kinds"):
        load_scenario(str(bad))


def _mission(scenario: Path, *args: str) -> dict[str, Any]:
    """``netvigil bench mission --json`` on a scenario file, as a user runs it."""
    cli = [sys.executable, "-m", "netvigil.cli", "bench", "mission", "--json"]
    proc = subprocess.run(
        [*cli, "--scenario", str(scenario), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_mission_json_and_plot(tmp_path: Path) -> None:
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    png = tmp_path / "mission.png"
    repair_png = tmp_path / "repair.png"
    result = _mission(scenario, "--plot", str(png), "--repair-plot", str(repair_png))
    assert result["scenario"] == "short"
    assert result["faults"] == 3 and result["detected"] == 3
    assert result["rca_top1"] == 1.0
    assert result["false_incidents"] == 0
    assert result["tickets_equal_incidents"] is True
    assert result["runs"]["autonomous"]["tickets_equal_incidents"] is True
    assert result["mttd_p50_s"] is not None and result["mttd_p50_s"] <= 60
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert repair_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_kind = {row["kind"]: row for row in result["per_fault"]}
    # level 1: the change runs only once the modelled operator approved it (600 + 300 s)
    for kind in ("link_down", "congestion"):
        l1, auto = by_kind[kind]["level1"], by_kind[kind]["autonomous"]
        assert l1["cleared_by"] == "change" and auto["cleared_by"] == "change", by_kind[kind]
        assert l1["repair_s"] >= 900 > auto["repair_s"]
        assert "@L1:verified" in l1["actions"] and "@L2:verified" in auto["actions"]
    # a dead node has no catalog action: it lasts its whole window in both runs
    node = by_kind["node_down"]
    assert node["level1"]["cleared_by"] == node["autonomous"]["cleared_by"] == "expired"
    assert result["mttr_autonomy_ratio"] == round(
        result["mttr_level1_p50_s"] / result["mttr_autonomous_p50_s"], 2
    )
    assert result["mttr_autonomy_ratio"] > 1
    assert "mttr_autonomy_ratio" not in result["not_measured"]
    assert result["congestion_ramps"] == 0 and result["congestion_lead_time_p50_s"] is None
    assert "growth_ramp" in result["not_measured"]["congestion_lead_time_p50_s"]


RAMP = """
name: ramp
description: one growth ramp over two hours, on the demo backbone
step_s: 60
duration_s: 12600
schedule: {kinds: [growth_ramp], first_s: 1800, every_s: 7200, duration_s: 7200, count: 1}
"""


def test_mission_lead_time_of_a_ramp(tmp_path: Path) -> None:
    scenario = tmp_path / "ramp.yaml"
    scenario.write_text(RAMP)
    result = _mission(scenario, "--no-compare")
    assert result["congestion_ramps"] == 1
    (ramp,) = result["lead_times"]
    assert ramp["saturated_at_s"] is not None and ramp["first_prediction_s"] is not None
    assert ramp["ramp_start_s"] < ramp["first_prediction_s"] < ramp["saturated_at_s"]
    assert ramp["lead_s"] == ramp["saturated_at_s"] - ramp["first_prediction_s"]
    assert result["congestion_lead_time_p50_s"] == ramp["lead_s"]
    assert result["congestion_predicted_in_time"] == int(ramp["lead_s"] >= 1800)
    assert result["false_predictions"] == 0
    assert result["mttr_autonomy_ratio"] is None
    assert "turned off" in result["not_measured"]["mttr_autonomy_ratio"]
