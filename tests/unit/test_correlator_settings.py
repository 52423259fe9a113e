"""The correlator's hold of a lone unreachability is counted in the intervals a device's
reachability is judged at: the SNMP poller's, or the twin's step when the twin is the
network."""

from __future__ import annotations

from netvigil.config import Settings
from netvigil.service import correlator_config


def test_confirm_polls_is_counted_in_the_intervals_reachability_is_judged_at() -> None:
    s = Settings()
    s.correlator.confirm_polls = 3.0
    s.snmp.interval_s, s.twin.step_s = 60.0, 10.0
    assert correlator_config(s, twin=False).confirm_s == 180.0
    assert correlator_config(s, twin=True).confirm_s == 30.0
    s.correlator.confirm_polls = 0.0
    assert correlator_config(s, twin=True).confirm_s == 0.0


def test_a_worker_that_does_not_poll_is_told_the_network_s_interval() -> None:
    # a Kafka worker fed by a twin elsewhere runs no twin: the setting, not snmp's interval
    s = Settings()
    s.correlator.confirm_polls, s.correlator.poll_interval_s = 3.0, 10.0
    s.snmp.interval_s = 60.0
    assert correlator_config(s, twin=False).confirm_s == 30.0
    assert correlator_config(s, twin=True).confirm_s == 30.0


def test_the_correlator_config_carries_every_correlator_setting() -> None:
    s = Settings()
    s.correlator.window_s, s.correlator.revision_s, s.correlator.regions = 77.0, 3.0, 4
    cfg = correlator_config(s, twin=False)
    assert (cfg.window_s, cfg.revision_s, cfg.regions) == (77.0, 3.0, 4)
