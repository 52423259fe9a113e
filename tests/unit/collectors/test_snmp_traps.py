"""Notification varbinds into device events, and fuzzed notifications."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.collectors.snmp.oids import SNMP_TRAP_OID, SYS_UPTIME_VB, oid
from netvigil.collectors.snmp.traps import notification_events
from netvigil.errors import DecodeError

LINK_DOWN = oid("1.3.6.1.6.3.1.1.5.3")


def test_link_down_names_the_interface_by_ifname() -> None:
    vbs = [
        (SYS_UPTIME_VB, 1234),
        (SNMP_TRAP_OID, LINK_DOWN),
        (oid("1.3.6.1.2.1.2.2.1.1.3"), 3),
        (oid("1.3.6.1.2.1.2.2.1.7.3"), 1),
        (oid("1.3.6.1.2.1.2.2.1.8.3"), 2),
        (oid("1.3.6.1.2.1.31.1.1.1.1.3"), b"Gi0/3"),
    ]
    (ev,) = notification_events(vbs, "edge1", 5.0)
    assert ev.kind == "link_down" and ev.entity == "edge1:Gi0/3" and ev.device == "edge1"
    assert ev.attrs["uptime_cs"] == "1234" and ev.attrs["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"


def test_link_down_of_an_administratively_down_interface_is_no_link_failure() -> None:
    vbs = [
        (SYS_UPTIME_VB, 1234),
        (SNMP_TRAP_OID, LINK_DOWN),
        (oid("1.3.6.1.2.1.2.2.1.1.1"), 1),
        (oid("1.3.6.1.2.1.2.2.1.7.1"), 2),
        (oid("1.3.6.1.2.1.2.2.1.8.1"), 2),
        (oid("1.3.6.1.2.1.31.1.1.1.1.1"), b"lo"),
    ]
    (ev,) = notification_events(vbs, "edge1", 5.0)
    assert ev.kind == "admin_down" and ev.entity == "edge1:lo"


def test_link_up_without_a_name_uses_the_ifindex_and_unknown_traps_are_kept() -> None:
    vbs = [
        (SYS_UPTIME_VB, 1),
        (SNMP_TRAP_OID, oid("1.3.6.1.6.3.1.1.5.4")),
        (oid("1.3.6.1.2.1.2.2.1.8.7"), 1),
    ]
    (ev,) = notification_events(vbs, "edge1", 5.0)
    assert ev.kind == "link_up" and ev.entity == "edge1:ifIndex7"
    vbs = [
        (SYS_UPTIME_VB, 1),
        (SNMP_TRAP_OID, oid("1.3.6.1.4.1.9.9.41.2.0.1")),
        (oid("1.3.6.1.4.1.9.9.41.1.2.3.1.5.1"), b"%LINK-3-UPDOWN"),
    ]
    (ev,) = notification_events(vbs, "edge1", 5.0)
    assert ev.kind == "trap" and ev.attrs["1.3.6.1.4.1.9.9.41.1.2.3.1.5.1"] == "%LINK-3-UPDOWN"


def test_bgp_backward_transition_names_the_peer() -> None:
    vbs = [
        (SYS_UPTIME_VB, 1),
        (SNMP_TRAP_OID, oid("1.3.6.1.2.1.15.0.2")),
        (oid("1.3.6.1.2.1.15.3.1.14.10.0.0.2"), b"\x06\x02"),
    ]
    (ev,) = notification_events(vbs, "core1", 1.0)
    assert ev.kind == "bgp_down" and ev.entity == "10.0.0.2"


def test_not_a_notification_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="no_trap_oid"):
        notification_events([(SYS_UPTIME_VB, 1)], "d", 0.0)
    with pytest.raises(DecodeError, match="bad_value"):
        notification_events([(SYS_UPTIME_VB, 1), (SNMP_TRAP_OID, b"x")], "d", 0.0)


values = st.one_of(
    st.none(),
    st.integers(-5, 2**64),
    st.binary(max_size=8),
    st.lists(st.integers(0, 20), max_size=12).map(tuple),
)
oids_ = st.lists(st.integers(0, 20), max_size=14).map(tuple)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(oids_, values), max_size=10),
    st.booleans(),
    st.sampled_from([LINK_DOWN, oid("1.3.6.1.2.1.15.0.2"), oid("1.3.6.1.6.3.1.1.5.1")]),
)
def test_fuzz_notifications(extra: list, well_formed: bool, trap: tuple) -> None:
    vbs = [(SYS_UPTIME_VB, 1), (SNMP_TRAP_OID, trap), *extra] if well_formed else extra
    try:
        events = notification_events(vbs, "d", 0.0)
    except DecodeError as exc:
        assert exc.reason in {"no_trap_oid", "no_uptime", "bad_value"}
        return
    assert len(events) == 1 and events[0].device == "d"
