"""``netvigil bench lab`` in small: two faults that leave every interface up (a routing daemon
killed, an MTU mismatch) on a 5-router lab and on its twin, both found from the routing
protocol's own logs, and the twin's predicted loads after a cost change against the lab's
SNMP counters. The 20-fault benchmark is not run here (docs/lab.md has its figures).

It takes about 2.5 minutes, beside the ~2-minute lab pipeline test, so it runs only when
``NETVIGIL_LAB_BENCH=1`` is set (not in the default suite)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netvigil.eval.lab import LabBench, run_lab_bench
from netvigil.lab.state import netns_prefix
from netvigil.lab.system import netns_exists
from tests.conftest import shared_data


@pytest.mark.skipif(
    os.environ.get("NETVIGIL_LAB_BENCH") != "1",
    reason="about 2.5 minutes on the lab: set NETVIGIL_LAB_BENCH=1 to run it",
)
def test_bench_lab_finds_routing_faults_on_the_lab_and_the_twin(
    lab_host: None, lab_dir: Path
) -> None:
    cfg = LabBench(
        topology=str(shared_data("topologies", "Easynet.graphml")),
        faults=2,
        seed=7,
        max_routers=5,
        kinds=("routing_crash", "mtu_mismatch"),
        duration_s=25.0,
        interval_s=45.0,
        warmup_s=20.0,
        settle_s=15.0,
        whatif_measure_s=20.0,
        up_timeout_s=120.0,
    )
    report = run_lab_bench(cfg)
    rows = report["per_fault"]
    assert [r["kind"] for r in rows] == ["routing_crash", "mtu_mismatch"]
    for side in (report, report["twin"]):
        got = [(r["kind"], r["detected_root_cause"], r["rank"]) for r in side["per_fault"]]
        assert side["harmful_detected"] == side["harmful"] == 2, got
        assert side["top1"] == 1.0, got
    assert report["false_incidents"] <= 1
    w = report["whatif"]
    assert w["after"]["directions"] == 2 * report["links"]
    assert w["after"]["loaded_directions"] > 0
    # the generator's achieved rate beside its demand, and the twin's loads for what it sent
    assert w["traffic"]["after"]["sent_bps"] > 0
    assert 0 < w["traffic"]["after"]["achieved_share"] <= 1.01
    assert w["after_achieved"]["directions"] == w["after"]["directions"]
    assert not any(netns_exists(f"{netns_prefix()}{i}") for i in range(report["routers"]))
