"""The cross-validation harnesses of the correlator's constants (``bench/confirm_cv.py``,
``bench/lab_window_cv.py``): what they choose, what they hold out, and that a recording
correlated again with a given configuration is scored by what that configuration does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import confirm_cv, lab_window_cv
from netvigil.eval.lab import LabBench, run_twin_only
from netvigil.streams.correlate import CorrelatorConfig
from netvigil.twin.source import SIM_EPOCH
from tests.conftest import shared_data


def _row(top1: int, false: int, noise: float = 0.0) -> dict[str, Any]:
    return {"noise": noise, "faults": 4, "top1": top1, "false": false, "mttd_p50_s": 0.0}


def test_confirm_cv_chooses_the_best_gain_and_breaks_ties_to_the_faster_pair() -> None:
    table = {
        (1, 0.0): {"a": [_row(4, 3)], "b": [_row(4, 3)]},  # gain 2
        (2, 6.0): {"a": [_row(4, 0)], "b": [_row(4, 0)]},  # gain 8, the slowest
        (2, 3.0): {"a": [_row(4, 0)], "b": [_row(4, 0)]},  # gain 8
        (1, 3.0): {"a": [_row(4, 0)], "b": [_row(4, 0)]},  # gain 8, the fastest
    }
    assert confirm_cv.choose(table, ["a", "b"]) == (1, 3.0)
    assert confirm_cv.gain([_row(4, 3), _row(2, 0)]) == 3


def test_confirm_cv_holds_each_topology_out_of_its_own_choice() -> None:
    # (1, 0.0) wins only because of topology "a"; held out, "a" is scored with the pair the
    # other two chose, and "b" and "c" with the pair chosen with "a" in
    table = {
        (1, 0.0): {"a": [_row(20, 0)], "b": [_row(2, 1)], "c": [_row(2, 1)]},
        (2, 3.0): {"a": [_row(1, 5)], "b": [_row(4, 0)], "c": [_row(4, 0)]},
    }
    rows = {r["topology"]: r for r in confirm_cv.held_out(table, ["a", "b", "c"])}
    assert rows["a"]["chosen"] == [2, 3.0] and (rows["a"]["top1"], rows["a"]["false"]) == (1, 5)
    assert rows["b"]["chosen"] == [1, 0.0] and (rows["b"]["top1"], rows["b"]["false"]) == (2, 1)
    assert confirm_cv.choose(table, ["a", "b", "c"]) == (1, 0.0)


def test_lab_window_cv_chooses_by_named_first_minus_false_ties_to_longer_windows() -> None:
    cell = {"harmful": 2, "detected": 2, "top3": 2}
    cells = {
        (60.0, 30.0): [{**cell, "top1": 2, "false": 0}, {**cell, "top1": 1, "false": 1}],
        (120.0, 60.0): [{**cell, "top1": 2, "false": 1}, {**cell, "top1": 2, "false": 0}],
        (90.0, 45.0): [{**cell, "top1": 1, "false": 0}, {**cell, "top1": 2, "false": 0}],
    }
    assert lab_window_cv.choose(cells) == (120.0, 60.0)  # 3 = 3, the longer window
    # topology "x" is recording 0, "y" recording 1: each is held out of its own choice
    picks = dict(lab_window_cv.folds(cells, {"x": [0], "y": [1]}))
    assert picks["x"] == (120.0, 60.0)  # on y alone: 2, 2, 2, the longest
    assert picks["y"] == (60.0, 30.0)  # on x alone: 2, 1, 1
    t = lab_window_cv.totals([cells[(60.0, 30.0)][0], cells[(120.0, 60.0)][1]])
    assert (t["harmful"], t["top1"], t["false"], t["top1_share"]) == (4, 4, 0, 1.0)


def test_a_lab_recording_is_scored_by_the_configuration_it_is_correlated_with() -> None:
    cfg = LabBench(
        topology=str(shared_data("topologies", "Easynet.graphml")),
        faults=3,
        seed=7,
        max_routers=6,
        kinds=("link_down", "node_down", "routing_crash"),
    )
    _, rec = run_twin_only(cfg, SIM_EPOCH + 12 * 3600)
    assert rec.harmful == [True, True, True]
    got = lab_window_cv.score_with(rec, CorrelatorConfig(window_s=60.0))
    assert got == {"harmful": 3, "detected": 3, "top1": 3, "top3": 3, "false": 0}
    assert lab_window_cv.score(rec, (60.0, 30.0)) == got
    # a correlator that never has enough evidence opens nothing: nothing detected
    none = lab_window_cv.score_with(rec, CorrelatorConfig(window_s=60.0, min_evidence=99))
    assert (none["detected"], none["top1"], none["false"]) == (0, 0, 0)


@pytest.fixture(scope="module")
def timeouts_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RCA benchmark run with lone poll timeouts on 5 % of polls, each counted at once
    (``down_after`` 1): what ``confirm_polls`` has to hold back."""
    out = tmp_path_factory.mktemp("confirm") / "nsfnet.json"
    cmd = [sys.executable, "-m", "netvigil.cli", "bench", "rca", "--topology"]
    cmd += [str(shared_data("topologies", "Nsfnet.graphml")), "--faults", "6", "--seed", "7"]
    cmd += ["--poll-timeouts", "0.05", "--record", str(out), "--json"]
    env = {**os.environ, "NETVIGIL_SNMP__DOWN_AFTER": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    assert json.loads(res.stdout)["faults"] == 6
    return out


def test_holding_a_lone_unreachability_removes_the_timeouts_false_incidents(
    timeouts_recording: Path,
) -> None:
    at_once = confirm_cv.score(timeouts_recording, 0.0)
    held = confirm_cv.score(timeouts_recording, 3.0)
    assert at_once["faults"] == held["faults"] == 6
    assert at_once["false"] > 20  # every lone timeout a device down
    assert held["false"] <= 2 and held["top1"] == 6
    assert held["top1"] > at_once["top1"]


def test_error_share_cv_keeps_the_setting_unless_a_share_beats_it() -> None:
    from bench import error_share_cv

    def cell(top1: int, false: int = 0) -> dict[str, int]:
        return {"harmful": 4, "detected": top1, "top1": top1, "top3": top1, "false": false}

    tied = {"off": [cell(3)], "0.001": [cell(4)], "0.01": [cell(4)], "0.03": [cell(4)]}
    assert error_share_cv.choose(tied) == error_share_cv.DEFAULT == "0.001"
    better = {"off": [cell(3)], "0.001": [cell(4, false=1)], "0.01": [cell(4)], "0.03": [cell(4)]}
    assert error_share_cv.choose(better) == "0.03"  # ties among the others: the larger share
