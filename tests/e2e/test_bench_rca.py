"""``netvigil bench rca``: the command-line contract of the RCA evaluation on the twin."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env

pytestmark = pytest.mark.e2e

ENV = clean_env()


def test_bench_rca_prints_one_json_object_with_the_scores() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "bench",
            "rca",
            "--faults",
            "5",
            "--seed",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    report = json.loads(lines[0])
    assert set(report) == {"faults", "top1", "top3", "mttd_p50_s", "false_incidents"}
    assert report["faults"] == 5  # node, link, linecard, congestion, flap: one of each
    assert 0.0 <= report["top1"] <= report["top3"] <= 1.0
    assert report["top3"] >= 0.8 and report["false_incidents"] <= 1
    assert report["mttd_p50_s"] is not None and 0 <= report["mttd_p50_s"] <= 60
