"""A degrading link through ``netvigil bench mission --json``, as a user runs it: the error
ramp is predicted and drained before its errors hurt at level 3, proposed with an approve-by
time and drained after the modelled operator approves at level 1, and restored once
repaired; errors that stop rising are a false prediction whose drain is withdrawn; the
scoreboard counts both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SCENARIO = """
name: errors-short
description: one degrading link, then errors that stop rising on another
step_s: 60
duration_s: 18000
schedule: {kinds: [error_ramp], first_s: 1800, every_s: 7200, duration_s: 7200, count: 1}
benign:
  - {kind: stalled_errors, first_s: 9000, count: 1, plateau: 0.0006, slope_per_h: 0.0015}
"""


def mission(tmp: Path) -> dict[str, Any]:
    path = tmp / "errors.yaml"
    path.write_text(SCENARIO)
    cli = [sys.executable, "-m", "netvigil.cli", "bench", "mission", "--json"]
    proc = subprocess.run(
        [*cli, "--scenario", str(path)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_a_degrading_link_is_drained_before_its_errors_hurt(tmp_path: Path) -> None:
    result = mission(tmp_path)
    for name in ("level1", "autonomous"):
        run = result["prevention"][name]
        assert run["error_ramps"] == 1 and run["error_ramps_predicted"] == 1, name
        assert run["error_ramps_harm_avoided"] == 1, name  # drained before 0.1 %
        rows = run["per_risk"]
        ramp = [r for r in rows if r["about"] == "error_ramp"]
        stalled = [r for r in rows if r["about"] == "stalled_errors"]
        assert ramp and all(r["truth"] is True and r["outcome"] == "averted" for r in ramp)
        drained = [r for r in ramp if r["change"]]
        assert drained and all(r["executed_s"] < r["harm_s"] for r in drained)  # in time
        if name == "level1":  # proposed with an approve-by time ahead of the harm
            assert all(r["opened_s"] < r["approve_by_s"] for r in drained)
        assert stalled and all(r["truth"] is False and r["outcome"] == "false" for r in stalled)
        level = 1 if name == "level1" else 3
        drain = f"igp_metric_change@L{level}:rolled_back"
        # the ramp's drain restored once the link was repaired (the fault's end) ...
        assert [r["restored"] for r in drained] == [True] and drained[0]["change"] == drain
        # ... the stalled one's withdrawn after its hold time: a false prediction
        withdrawn = [r for r in stalled if r["change"]]
        assert [(r["change"], r["withdrawn"], r["restored"]) for r in withdrawn] == [
            (drain, True, False)
        ]
        assert run["preemptive_restored_after_repair"] == 1
        assert run["outcome_agrees_with_truth"] == 1.0
    assert result["harm_avoided_share"] == 1.0 and result["harm_avoided_share_level1"] == 1.0
    assert result["collateral_overloads"] == 0
    assert result["false_prediction_changes"] == result["false_prediction_changes_rolled_back"]
    assert result["false_prediction_changes"] >= 1
