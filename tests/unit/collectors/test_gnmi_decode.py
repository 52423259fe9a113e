"""gNMI notifications into events: JSON containers, rates on target time, status changes."""

from __future__ import annotations

import contextlib
import json

import pytest
from google.protobuf.message import DecodeError as ProtobufDecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from pygnmi.create_gnmi_path import gnmi_path_generator
from pygnmi.spec.v080 import gnmi_pb2 as pb

from netvigil.collectors.gnmi.decode import GnmiState, flatten, notification_events
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Metric


def note(ts_s: float, *updates: tuple[str, pb.TypedValue]) -> pb.Notification:
    return pb.Notification(
        timestamp=int(ts_s * 1e9),
        update=[pb.Update(path=gnmi_path_generator(p), val=v) for p, v in updates],
    )


def js(value: object) -> pb.TypedValue:
    return pb.TypedValue(json_ietf_val=json.dumps(value).encode())


IF = "/interfaces/interface[name=Ethernet1]/state"


def test_counters_become_rates_over_target_time_with_utilization() -> None:
    st_ = GnmiState()
    ev = notification_events(
        "r1", note(0, (f"{IF}/high-speed", pb.TypedValue(uint_val=100))), st_, 0
    )
    assert ev == []
    assert (
        notification_events(
            "r1", note(10, (f"{IF}/counters/out-octets", pb.TypedValue(uint_val=0))), st_, 10
        )
        == []
    )
    ev = notification_events(
        "r1", note(20, (f"{IF}/counters/out-octets", js("125000000"))), st_, 20
    )  # JSON_IETF sends uint64 as a string
    by = {e.name: e for e in ev if isinstance(e, Metric)}
    assert by["if.out_bps"].value == 100e6 and by["if.out_util"].value == 1.0
    assert by["if.out_bps"].labels == {"interface": "Ethernet1"}


def test_a_counter_that_goes_down_gives_no_rate() -> None:
    st_ = GnmiState()
    notification_events(
        "r1", note(0, (f"{IF}/counters/in-octets", pb.TypedValue(uint_val=500))), st_, 0
    )
    ev = notification_events(
        "r1", note(5, (f"{IF}/counters/in-octets", pb.TypedValue(uint_val=10))), st_, 5
    )
    assert ev == [] and st_.discontinuities == 1


def test_json_container_is_flattened_and_oper_changes_are_events() -> None:
    st_ = GnmiState()
    blob = {
        "openconfig-interfaces:interface": [{"name": "Ethernet2", "state": {"oper-status": "UP"}}]
    }
    n = pb.Notification(
        timestamp=1, update=[pb.Update(path=gnmi_path_generator("/interfaces"), val=js(blob))]
    )
    assert flatten(n) == [
        ("interfaces/interface/name", {"name": "Ethernet2"}, "Ethernet2"),
        ("interfaces/interface/state/oper-status", {"name": "Ethernet2"}, "UP"),
    ]
    notification_events("r1", n, st_, 1)
    ev = notification_events(
        "r1",
        note(
            2,
            (
                "/interfaces/interface[name=Ethernet2]/state/oper-status",
                pb.TypedValue(string_val="DOWN"),
            ),
        ),
        st_,
        2,
    )
    kinds = [e.kind for e in ev if isinstance(e, DeviceEvent)]
    assert kinds == ["link_down"] and ev[-1].entity == "r1:Ethernet2"  # type: ignore[union-attr]


def test_bgp_session_state_transitions() -> None:
    p = (
        "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP]"
        "[name=bgp]/bgp/neighbors/neighbor[neighbor-address=10.0.0.2]/state/session-state"
    )
    st_ = GnmiState()
    ev = notification_events("r1", note(1, (p, pb.TypedValue(string_val="ESTABLISHED"))), st_, 1)
    assert [e.value for e in ev if isinstance(e, Metric)] == [1.0]
    ev = notification_events("r1", note(2, (p, pb.TypedValue(string_val="ACTIVE"))), st_, 2)
    (down,) = [e for e in ev if isinstance(e, DeviceEvent)]
    assert down.kind == "bgp_down" and down.entity == "10.0.0.2"


def test_cpu_is_the_mean_of_cpus_and_bad_values_raise() -> None:
    st_ = GnmiState()
    ev = notification_events(
        "r1",
        note(
            1,
            ("/system/cpus/cpu[index=0]/state/total/instant", pb.TypedValue(uint_val=10)),
            ("/system/cpus/cpu[index=1]/state/total/instant", pb.TypedValue(uint_val=30)),
        ),
        st_,
        1,
    )
    assert [e.value for e in ev if isinstance(e, Metric)] == [20.0]
    with pytest.raises(DecodeError, match="bad_value"):
        notification_events(
            "r1", note(2, (f"{IF}/counters/in-octets", pb.TypedValue(string_val="lots"))), st_, 2
        )
    with pytest.raises(DecodeError, match="bad_json"):
        notification_events(
            "r1", note(2, (f"{IF}/counters/in-octets", pb.TypedValue(json_val=b"{"))), st_, 2
        )


leaf_paths = st.sampled_from(
    [
        f"{IF}/counters/in-octets",
        f"{IF}/oper-status",
        f"{IF}/high-speed",
        "/system/cpus/cpu[index=0]/state/total/instant",
        "/interfaces",
        "/system/state/hostname",
        "/network-instances/network-instance[name=a]/protocols/protocol[name=b]/bgp/neighbors/neighbor[neighbor-address=1.1.1.1]/state/session-state",
    ]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.text(max_size=8)
    | st.floats(allow_nan=False),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "state", "oper-status", "counters", "in-octets", "x:y"]),
            kids,
            max_size=3,
        )
    ),
    max_leaves=20,
)
typed = st.one_of(
    json_values.map(lambda v: js(v)),
    st.integers(0, 2**64 - 1).map(lambda v: pb.TypedValue(uint_val=v)),
    st.text(max_size=10).map(lambda v: pb.TypedValue(string_val=v)),
    st.binary(max_size=10).map(lambda v: pb.TypedValue(json_val=v)),
    st.just(pb.TypedValue()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(leaf_paths, typed), max_size=4), max_size=6))
def test_fuzz_notification_events(notes: list) -> None:
    st_ = GnmiState()
    for i, ups in enumerate(notes):
        try:
            ev = notification_events("r", note(i, *ups), st_, float(i))
        except DecodeError as exc:
            assert exc.reason in {"bad_value", "bad_json", "empty_value", "too_deep", "too_large"}
            continue
        assert all(e.device == "r" for e in ev)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_raw_bytes_from_the_wire(raw: bytes) -> None:
    try:
        resp = pb.SubscribeResponse.FromString(raw)
    except ProtobufDecodeError:
        return
    with contextlib.suppress(DecodeError):
        notification_events("r", resp.update, GnmiState(), 0.0)
