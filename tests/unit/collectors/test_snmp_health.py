"""The SNMP poller's own health: many targets late in one interval is the poller's overload,
and the unreachable verdicts it gives then are marked as such."""

from __future__ import annotations

from netvigil.collectors.snmp.client import SnmpError
from netvigil.collectors.snmp.health import PollHealth
from netvigil.collectors.snmp.poller import SnmpPoller, SnmpTarget
from netvigil.events import POLLER_OVERLOAD, DeviceEvent
from netvigil.streams.meters import EdgeMeters


def test_one_target_timing_out_is_the_device_many_at_once_is_the_poller() -> None:
    h = PollHealth(targets=10, window_s=10.0)
    assert h.threshold == 5
    for i in range(4):
        h.failure(f"r{i}", "timeout", 100.0 + i)
    assert not h.overloaded(104.0)
    h.failure("r4", "deadline", 104.5)
    assert h.overloaded(104.5) and h.episodes == 1
    # the same target again counts once; an answer that is an error is no lateness
    h.failure("r4", "timeout", 105.0)
    h.failure("r5", "snmp_error", 105.0)
    assert h.late_targets(105.0) == 5
    # the window moves on: the early failures age out
    assert not h.overloaded(112.0)
    h.skip("r1", 113.0)
    assert h.late_targets(113.0) == 3  # r3 (at 103), r4, and r1 skipped
    readings = {(r.name, r.labels): r.value for r in h.readings()}
    assert readings[("netvigil_snmp_poller_overload_episodes", ())] == 1
    assert readings[("netvigil_snmp_poller_overloaded", ())] == 0
    assert readings[("netvigil_snmp_polls_skipped", ())] == 1
    assert readings[("netvigil_snmp_polls_failed", ("timeout",))] == 5


def test_a_small_network_needs_three_late_targets() -> None:
    h = PollHealth(targets=2, window_s=60.0)
    h.failure("a", "timeout", 0.0)
    h.failure("b", "timeout", 1.0)
    assert h.threshold == 3 and not h.overloaded(1.0)


def test_unreachable_verdicts_given_while_overloaded_are_marked() -> None:
    clock = [1000.0]
    targets = [SnmpTarget(host="192.0.2.1", port=1000 + i, device=f"r{i}") for i in range(6)]
    meters = EdgeMeters()
    poller = SnmpPoller(targets, interval_s=10.0, clock=lambda: clock[0], meters=meters)
    late = SnmpError("timeout", "no answer")
    verdicts = []
    for i in range(6):
        clock[0] += 0.5
        verdicts += poller._failed(poller._targets[f"r{i}"], late)
    assert all(isinstance(e, DeviceEvent) and e.kind == "unreachable" for e in verdicts)
    marked = [POLLER_OVERLOAD in e.attrs for e in verdicts]
    # the threshold is 3 of 6: the first two were given before the poller knew
    assert marked == [False, False, True, True, True, True]
    assert verdicts[2].attrs[POLLER_OVERLOAD] == "3 of 6 targets late"
    # a verdict held back (run() waits confirm_s) is judged again when it is published
    assert POLLER_OVERLOAD in poller._marked(verdicts[0], clock[0]).attrs
    # the poller's readings are on its meters
    names = {name for (name, _labels) in meters.values()}
    assert "netvigil_snmp_poller_overloaded" in names
    poller.close()


def test_a_target_is_unreachable_only_after_down_after_failed_polls_in_a_row() -> None:
    clock = [1000.0]
    target = SnmpTarget(host="192.0.2.1", port=1000, device="r0")
    poller = SnmpPoller([target], interval_s=10.0, down_after=2, clock=lambda: clock[0])
    late = SnmpError("timeout", "no answer")
    st = poller._targets["r0"]
    assert poller._failed(st, late) == []  # one timed-out poll: no verdict
    st.failures = 0  # it answered the next poll (what _poll does on an answer)
    assert poller._failed(st, late) == []
    clock[0] += 10.0
    verdicts = poller._failed(st, late)  # the second in a row
    assert [e.kind for e in verdicts if isinstance(e, DeviceEvent)] == ["unreachable"]
    assert verdicts[0].ts == clock[0]
    poller.close()
