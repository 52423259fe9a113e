"""The LLDP decoders (SNMP LLDP-MIB varbinds, gNMI openconfig-lldp): examples and fuzzing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.errors import DecodeError
from netvigil.graph.discovery.gnmi import parse_openconfig_lldp
from netvigil.graph.discovery.lldp import Neighbor
from netvigil.graph.discovery.snmp import LLDP_MIB, OIDS, parse_lldp

REM = OIDS["lldpRemEntry"]
LOC = OIDS["lldpLocPortEntry"]


def test_lldp_mib_walk_to_neighbours() -> None:
    binds: dict[tuple[int, ...], Any] = {
        OIDS["lldpLocSysName"]: b"r1",
        (*LOC, 3, 1): b"eth0",
        (*LOC, 3, 2): b"eth1",
        (*REM, 6, 0, 1, 1): 5,
        (*REM, 7, 0, 1, 1): b"ge-0/0/3",
        (*REM, 9, 0, 1, 1): b"r2",
        (*REM, 6, 0, 2, 4): 3,  # a MAC address: the description names the port
        (*REM, 7, 0, 2, 4): b"\x00\x11\x22\x33\x44\x55",
        (*REM, 8, 0, 2, 4): b"Ethernet7",
        (*REM, 9, 0, 2, 4): b"r3",
    }
    name, rows = parse_lldp(binds)
    assert name == "r1"
    assert rows == [Neighbor("eth0", "r2", "ge-0/0/3"), Neighbor("eth1", "r3", "Ethernet7")]


def test_lldp_mib_errors() -> None:
    for binds, reason in (({}, "no_lldp"), ({(*REM, 9, 1): b"x"}, "bad_index")):
        try:
            parse_lldp(binds)
        except DecodeError as exc:
            assert exc.reason == reason
        else:
            raise AssertionError("no DecodeError")


def test_openconfig_lldp_to_neighbours() -> None:
    base = "lldp/interfaces/interface[name=Ethernet1]/neighbors/neighbor[id=r2|e3]/state/"
    resp = {
        "notification": [
            {
                "update": [
                    {"path": base + "system-name", "val": "r2"},
                    {"path": base + "port-id", "val": "e3"},
                    {"path": base + "port-id-type", "val": "INTERFACE_NAME"},
                    {"path": "system/state/hostname", "val": "r1"},
                ]
            }
        ]
    }
    assert parse_openconfig_lldp(resp) == [Neighbor("Ethernet1", "r2", "e3")]


_values = st.one_of(st.binary(max_size=12), st.integers(-5, 2**32), st.text(max_size=12))
_oids = st.one_of(
    st.tuples(*(st.just(x) for x in REM), st.integers(0, 12), st.integers(0, 5)).map(tuple),
    st.lists(st.integers(0, 10), max_size=6).map(lambda t: (*REM, *t)),
    st.lists(st.integers(0, 10), max_size=6).map(lambda t: (*LOC, *t)),
    st.lists(st.integers(0, 10), max_size=8).map(lambda t: (*LLDP_MIB, *t)),
    st.lists(st.integers(0, 2**31), max_size=12).map(tuple),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_oids, _values, max_size=30))
def test_fuzz_lldp_mib_parser_only_raises_decode_error(binds: dict) -> None:
    try:
        _, rows = parse_lldp(binds)
    except DecodeError:
        return
    for r in rows:
        assert r.remote_system and r.remote_port and ":" not in r.remote_system


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.dictionaries(st.sampled_from(["notification", "x"]), _json, max_size=2),
        st.fixed_dictionaries(
            {
                "notification": st.lists(
                    st.fixed_dictionaries(
                        {
                            "update": st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "path": st.sampled_from(
                                            [
                                                "lldp/interfaces/interface[name=a]/neighbors/"
                                                "neighbor[id=1]/state/system-name",
                                                "lldp/interfaces/interface[name=a]/neighbors/"
                                                "neighbor[id=1]/state/port-id",
                                                "lldp/interfaces/interface[name=a]/neighbors/"
                                                "neighbor[id=1]/state/port-id-type",
                                            ]
                                        )
                                        | st.text(max_size=40),
                                        "val": _json,
                                    }
                                ),
                                max_size=6,
                            )
                        }
                    ),
                    max_size=3,
                )
            }
        ),
    )
)
def test_fuzz_openconfig_lldp_parser_only_raises_decode_error(resp: dict) -> None:
    try:
        rows = parse_openconfig_lldp(resp)
    except DecodeError:
        return
    for r in rows:
        assert r.remote_system and r.remote_port
