"""The mission scoreboard through the CLI, on a short scenario file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netvigil.errors import ConfigError
from netvigil.twin.mission import list_scenarios, load_scenario

pytestmark = pytest.mark.e2e

SHORT = """
name: short
description: three hours, one fault of each kind
step_s: 30
duration_s: 10800
schedule: {kinds: [link_down, congestion, node_down], first_s: 3600, every_s: 2400,
           duration_s: 600}
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


def test_mission_json_and_plot(tmp_path: Path) -> None:
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    png = tmp_path / "mission.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "bench",
            "mission",
            "--scenario",
            str(scenario),
            "--json",
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["scenario"] == "short"
    assert result["faults"] == 3 and result["detected"] == 3
    assert result["rca_top1"] == 1.0
    assert result["false_incidents"] == 0
    assert result["tickets_equal_incidents"] is True
    assert result["mttd_p50_s"] is not None and result["mttd_p50_s"] <= 60
    assert (
        result["mttr_autonomy_ratio"] is None
        and "resolvers" in result["not_measured"]["mttr_autonomy_ratio"]
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
