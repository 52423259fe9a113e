"""What a processor ignores is counted by reason, logged once per reason, and exported."""

from __future__ import annotations

import logging

import pytest

from netvigil.streams.ignored import REASONS, Ignored
from netvigil.streams.meters import EdgeMeters


def test_counted_by_reason_logged_once_and_read_by_the_meters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meters = EdgeMeters()
    ignored = Ignored("correlator", meters=meters)
    with caplog.at_level(logging.WARNING, logger="netvigil.streams.ignored"):
        for ts in range(5):
            ignored("late_anomaly", f"r1:eth0|if.oper_status at {ts}")
        ignored("clear_without_anomaly", "r2:eth1|if.oper_status")
    assert dict(ignored.counts) == {"late_anomaly": 5, "clear_without_anomaly": 1}
    assert ignored.total() == 6
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # once per reason
    assert "correlator ignores late_anomaly" in lines[0] and "at 0" in lines[0]
    assert REASONS["late_anomaly"] in lines[0]
    assert meters.values() == {
        ("netvigil_events_ignored", ("correlator", "late_anomaly")): 5.0,
        ("netvigil_events_ignored", ("correlator", "clear_without_anomaly")): 1.0,
    }


def test_a_reason_must_be_one_of_the_documented_ones() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        Ignored("x", meters=EdgeMeters())("because", "")
