"""The earned-autonomy run through ``netvigil bench mission --json`` on a short scenario: a
benign burst at the same hour each day stops opening incidents after the modelled operator
judged it false once, every real fault is still detected, and the domain is promoted once its
record earns it (and not before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_mission import _mission

pytestmark = pytest.mark.e2e

SHORT = """
name: short-earned
description: two days, a fault every three hours, one daily burst, a lenient promotion
step_s: 60
duration_s: 172800
earned: true
schedule: {kinds: [link_down, congestion], first_s: 3600, every_s: 10800, duration_s: 5400}
benign:
  - {kind: scheduled_burst, patterns: 1, first_s: 10800, every_s: 86400, count: 2,
     duration_s: 1200}
policy:
  domains:
    all:
      phase: passive
      rules:
        - {action: interface_reset, level: 2}
        - {action: qos_adjust, level: 2}
      promotion:
        window: 20
        semi-autonomous: {min_days: 0.5, min_verified_recommendations: 2,
                          min_accepted_share: 0.5, min_incident_precision: 0.5, min_judged: 2}
"""


def test_feedback_suppresses_the_benign_pattern_and_the_domain_earns_phase_2(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "short-earned.yaml"
    scenario.write_text(SHORT)
    r = _mission(scenario)
    assert r["scenario"] == "short-earned" and r["all_real_faults_detected"] is True
    assert r["false_incidents_before_feedback"] == r["occurrences_before_feedback"] == 1
    assert r["occurrences_after_feedback"] == 1 and r["false_incidents_after_feedback"] == 0
    assert r["false_incident_fall"] == 1.0 and r["suppressed_incidents"] >= 1
    (sup,) = r["suppressions"]
    assert sup["hits"] >= 1 and "daily" in sup["pattern"]
    dom = r["domains"]["all"]
    assert dom["phase_end"] == "semi-autonomous"
    earned, promoted = (
        dom["earned_at_s"]["semi-autonomous"],
        dom["promoted_at_s"]["semi-autonomous"],
    )
    assert 0.5 * 86400 <= earned <= promoted
    assert dom["record"]["incident"]["judged"] >= 2
