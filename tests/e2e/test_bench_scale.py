"""``netvigil bench scale``: the issue's JSON contract with real values on a small carrier
network, and the storm floor (a core site's router pair fails and cuts off the POPs behind
it: exactly one incident, its top root cause a failed router, within 30 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netvigil.eval.scale import FIELDS
from tests.conftest import clean_env

pytestmark = pytest.mark.e2e


def test_bench_scale_reports_the_contract_and_the_storm_gives_one_incident() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netvigil.cli", "bench", "scale", "--devices", "300", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.strip().splitlines()  # one JSON object on stdout, progress on stderr
    report = json.loads(line)
    assert "pipeline (twin steps)" in proc.stderr
    assert list(report)[: len(FIELDS)] == list(FIELDS)
    assert report["unmeasured"] == {}, report["unmeasured"]
    assert report["devices"] == 300 and report["interfaces"] == 2 * report["links"]
    for key in FIELDS[2:]:
        assert isinstance(report[key], int | float) and report[key] > 0, (key, report[key])
    # the storm: both routers of a core site; the POPs behind them are cut off
    failed = report["storm_failed"]
    assert len(failed) == 2 and all(d.endswith(("-cr1", "-cr2")) for d in failed)
    assert report["storm_isolated_devices"] > 0
    assert report["storm_anomalies"] > report["storm_isolated_devices"]  # each says unreachable
    assert report["storm_incidents"] == 1
    [root_causes] = report["storm_root_causes"].values()
    assert root_causes[0] in failed
    assert report["storm_named_at_end"] is True
    assert report["storm_incident_s"] <= 30
