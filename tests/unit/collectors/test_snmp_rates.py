"""Counters into rates: wraps, restarts, discontinuities, status changes, LLDP changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.collectors.counters import counter_delta
from netvigil.collectors.snmp.mib import IfSample, Neighbor
from netvigil.collectors.snmp.rates import Poll, PollState, poll_events
from netvigil.events import DeviceEvent, Metric


def _if(
    out_octets: int,
    *,
    width: int = 64,
    up: bool = True,
    admin: bool = True,
    name: str = "Gi0/0",
    disc: int = 0,
    speed: float = 1e9,
) -> dict[int, IfSample]:
    return {
        1: IfSample(
            1,
            name,
            up,
            admin,
            speed,
            {"out_octets": (out_octets, width), "out_discards": (7, 32)},
            disc,
        )
    }


def _metrics(events: list, name: str) -> list[float]:
    return [e.value for e in events if isinstance(e, Metric) and e.name == name]


def _kinds(events: list) -> list[str]:
    return [e.kind for e in events if isinstance(e, DeviceEvent)]


def test_counter_delta_rules() -> None:
    assert counter_delta(10, 25, 64, None) == 15
    assert counter_delta(2**32 - 10, 5, 32, None) == 15  # one 32-bit wrap
    assert counter_delta(2**32 - 10, 5, 32, max_delta=10) is None  # faster than the link
    assert counter_delta(10**12, 5, 64, None) is None  # 64-bit counters do not wrap: reset


def test_first_poll_is_a_baseline_then_rates_and_utilization() -> None:
    state = PollState()
    first = poll_events("r1", Poll(ts=100.0, uptime_cs=1000, interfaces=_if(0)), state)
    assert _metrics(first, "if.oper_status") == [1.0] and not _metrics(first, "if.out_bps")
    second = poll_events("r1", Poll(ts=110.0, uptime_cs=2000, interfaces=_if(125_000_000)), state)
    assert _metrics(second, "if.out_bps") == [100e6]  # 125 MB in 10 s = 100 Mbit/s
    assert _metrics(second, "if.out_util") == [0.1]
    assert _metrics(second, "if.out_discards") == [0.0]
    m = next(e for e in second if isinstance(e, Metric) and e.name == "if.out_bps")
    assert m.labels == {"interface": "Gi0/0"} and m.entity == "r1:Gi0/0" and m.unit == "bps"


def test_32_bit_wrap_counts_once_and_an_impossible_one_is_a_discontinuity() -> None:
    state = PollState()
    poll_events("r1", Poll(ts=0.0, uptime_cs=100, interfaces=_if(2**32 - 1000, width=32)), state)
    ev = poll_events("r1", Poll(ts=10.0, uptime_cs=1100, interfaces=_if(1000, width=32)), state)
    assert _metrics(ev, "if.out_bps") == [2000 * 8 / 10] and state.wraps == 1
    # a drop by half the counter range in 10 s on a 1 Mbit/s link cannot be a wrap
    slow = dict(speed=1e6, width=32)
    poll_events(
        "r2", Poll(ts=0.0, uptime_cs=100, interfaces=_if(3 * 2**30, **slow)), s2 := PollState()
    )
    ev = poll_events("r2", Poll(ts=10.0, uptime_cs=1100, interfaces=_if(2**30, **slow)), s2)
    assert not _metrics(ev, "if.out_bps") and s2.discontinuities == 1


def test_restart_emits_an_event_and_no_rate_then_rebaselines() -> None:
    state = PollState()
    poll_events("r1", Poll(ts=0.0, uptime_cs=500_000, interfaces=_if(10**9)), state)
    ev = poll_events("r1", Poll(ts=60.0, uptime_cs=3000, interfaces=_if(1000)), state)
    assert _kinds(ev) == ["restart"] and not _metrics(ev, "if.out_bps")
    ev = poll_events("r1", Poll(ts=120.0, uptime_cs=9000, interfaces=_if(61_000)), state)
    assert _metrics(ev, "if.out_bps") == [8000.0]


def test_sysuptime_wrap_after_497_days_is_not_a_restart() -> None:
    state = PollState()
    poll_events("r1", Poll(ts=0.0, uptime_cs=2**32 - 3000, interfaces=_if(0)), state)
    ev = poll_events("r1", Poll(ts=60.0, uptime_cs=3000, interfaces=_if(600)), state)
    assert "restart" not in _kinds(ev) and _metrics(ev, "if.out_bps") == [80.0]


def test_discontinuity_time_change_and_reindexing_skip_the_rate() -> None:
    state = PollState()
    poll_events("r1", Poll(ts=0.0, uptime_cs=1, interfaces=_if(0)), state)
    ev = poll_events("r1", Poll(ts=10.0, uptime_cs=1001, interfaces=_if(10, disc=900)), state)
    assert not _metrics(ev, "if.out_bps")
    ev = poll_events(
        "r1", Poll(ts=20.0, uptime_cs=2001, interfaces=_if(20, name="Gi9/9", disc=900)), state
    )
    assert not _metrics(ev, "if.out_bps")
    ev = poll_events(
        "r1", Poll(ts=30.0, uptime_cs=3001, interfaces=_if(30, name="Gi9/9", disc=900)), state
    )
    assert _metrics(ev, "if.out_bps") == [8.0]


def test_oper_status_changes_are_events_and_admin_down_is_quiet() -> None:
    state = PollState()
    poll_events("r1", Poll(ts=0.0, uptime_cs=1, interfaces=_if(0)), state)
    ev = poll_events("r1", Poll(ts=10.0, uptime_cs=1001, interfaces=_if(0, up=False)), state)
    assert _kinds(ev) == ["link_down"] and _metrics(ev, "if.oper_status") == [0.0]
    down = next(e for e in ev if isinstance(e, DeviceEvent))
    assert down.entity == "r1:Gi0/0"
    ev = poll_events(
        "r1", Poll(ts=20.0, uptime_cs=2001, interfaces=_if(0, up=False, admin=False)), state
    )
    assert not _kinds(ev) and not _metrics(ev, "if.oper_status")


def test_lldp_neighbours_all_first_then_changes() -> None:
    a = Neighbor("Gi0/0", "core2", "Eth1", "aa")
    b = Neighbor("Gi0/1", "core3", "Eth2", "bb")
    state = PollState()
    ev = poll_events("r1", Poll(ts=0.0, uptime_cs=1, neighbors=[a, b]), state)
    assert _kinds(ev) == ["lldp_neighbor", "lldp_neighbor"]
    assert poll_events("r1", Poll(ts=1.0, uptime_cs=101, neighbors=[a, b]), state) == []
    ev = poll_events("r1", Poll(ts=2.0, uptime_cs=201, neighbors=[a]), state)
    assert _kinds(ev) == ["lldp_neighbor_lost"]
    lost = ev[0]
    assert isinstance(lost, DeviceEvent) and lost.attrs["remote_device"] == "core3"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.01, 1000),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**64 - 1),
            st.sampled_from([32, 64]),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_fuzz_rates_are_never_negative(polls: list) -> None:
    state = PollState()
    ts = 0.0
    for dt, uptime, octets, width, up in polls:
        ts += dt
        value = octets % 2**width
        ev = poll_events(
            "r", Poll(ts=ts, uptime_cs=uptime, interfaces=_if(value, width=width, up=up)), state
        )
        for e in ev:
            if isinstance(e, Metric):
                assert e.value >= 0
