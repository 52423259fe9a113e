"""The cross-domain mission: packet loss under a service's path, through the whole embedded
pipeline and the CLI, with the twin's services probed over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_service_loss_scenario_ends_in_one_incident_with_service_impact() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "bench",
            "mission",
            "--scenario",
            "service-loss",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["faults"] == 1 and result["incidents"] == 1 and result["false_incidents"] == 0
    assert result["rca_top1"] == 1.0
    (cross,) = result["cross_domain"]
    assert cross["fault"] == "packet_loss"
    # ONE incident, naming the lossy link (which the schedule put on shop's path)
    assert cross["incidents_during_fault"] == 1 and cross["incidents_naming_link"] == 1
    assert cross["root_cause"] == cross["link"]
    assert cross["root_cause_fault"] == "packet_loss"
    assert "shop" in cross["services"] and "shop:success" in cross["slos"]
    # the breach raised the severity above what the lossy link alone gets
    assert cross["severity_first"] == "minor" and cross["severity_max"] == "major"
    budget = cross["budget:shop"]
    assert budget["detected_before_exhaustion"] is True
    assert budget["spent_at_detection"] < 0.5
    assert cross["slo_impact_after_s"] is not None
    assert cross["slo_impact_after_s"] < budget["exhausted_after_s"]
    # the harm is in the scoreboard as the SLO budget burned (the twin's own service model)
    assert result["slo_budget_burned_level1"]["shop|success"] > 0.0
