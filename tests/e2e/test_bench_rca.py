"""``netvigil bench rca``: the command-line contract of the RCA evaluation on the twin."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env, shared_data

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


def _incidents(topology: str, regions: int) -> dict[str, object]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "bench",
            "rca",
            "--topology",
            topology,
            "--faults",
            "5",
            "--seed",
            "3",
            "--regions",
            str(regions),
            "--json",
            "--details",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def test_the_correlator_split_into_regions_raises_the_same_incidents() -> None:
    topology = str(shared_data("topologies", "Geant2012.graphml"))
    one, split = _incidents(topology, 1), _incidents(topology, 4)
    assert one["incidents"], "the benchmark raised no incident"
    # the same fingerprints, status and root causes: one ticket per incident either way
    assert split["incidents"] == one["incidents"]
    assert split["top1"] == one["top1"] and split["false_incidents"] == one["false_incidents"]
