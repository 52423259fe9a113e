"""GETBULK table walks and MIB decoding against hand-made agent answers, and fuzzed ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysnmp.proto import rfc1902, rfc1905

from netvigil.collectors.snmp.mib import (
    TableWalk,
    cpu_percent,
    display,
    interfaces,
    lldp_neighbors,
    to_python,
)
from netvigil.collectors.snmp.oids import (
    CPU_SOURCES,
    IF_COLUMNS,
    LLDP_LOC_COLUMNS,
    LLDP_REM_COLUMNS,
)
from netvigil.errors import DecodeError

A = (1, 3, 6, 1, 9, 1)
B = (1, 3, 6, 1, 9, 2)


def test_walk_two_columns_interleaved_until_both_leave_their_subtrees() -> None:
    w = TableWalk([A, B])
    assert w.request() == [A, B]
    w.feed([((*A, 1), 10), ((*B, 1), 20), ((*A, 2), 11), ((*B, 2), 21)])
    assert w.request() == [(*A, 2), (*B, 2)]
    # A ends (next object is B's column), B goes on for one more row then leaves
    w.feed([((*B, 1), 20), ((*B, 3), 22)])
    assert w.request() == [(*B, 3)]
    w.feed([((1, 3, 6, 1, 9, 3, 1), 5)])
    assert w.done
    assert w.rows == {(1,): {0: 10, 1: 20}, (2,): {0: 11, 1: 21}, (3,): {1: 22}}


def test_walk_stops_a_column_whose_oids_do_not_increase() -> None:
    w = TableWalk([A])
    w.feed([((*A, 5), 1)])
    w.feed([((*A, 3), 2)])  # a broken agent going backwards would loop a naive walker
    assert w.done and w.broken
    assert list(w.rows) == [(5,)]


def test_walk_end_of_mib_and_empty_answers_end_the_walk() -> None:
    w = TableWalk([A, B])
    w.feed([((*A, 1), 1), (B, None)])
    assert w.request() == [(*A, 1)]
    w.feed([])
    assert w.done


def test_walk_cuts_a_table_longer_than_max_rows() -> None:
    w = TableWalk([A], max_rows=3)
    w.feed([((*A, i), i) for i in range(1, 10)])
    assert w.done and w.truncated and len(w.rows) == 3


def test_partial_answer_keeps_the_cursor_of_the_column_that_got_nothing() -> None:
    w = TableWalk([A, B])
    w.feed([((*A, 1), 1), ((*B, 1), 2), ((*A, 2), 3)])  # agent cut the last row short
    assert w.request() == [(*A, 2), (*B, 1)]


def _if_rows(**cols: dict[int, object]) -> dict[tuple[int, ...], dict[int, object]]:
    names = list(IF_COLUMNS)
    rows: dict[tuple[int, ...], dict[int, object]] = {}
    for col, per_index in cols.items():
        for index, value in per_index.items():
            rows.setdefault((index,), {})[names.index(col)] = value
    return rows


def test_interfaces_prefer_64_bit_counters_and_ifname() -> None:
    rows = _if_rows(
        ifDescr={1: b"GigabitEthernet0/0", 2: b"Serial0"},
        ifName={1: b"Gi0/0"},
        ifOperStatus={1: 1, 2: 7},
        ifAdminStatus={1: 1, 2: 1},
        ifHCInOctets={1: 2**40},
        ifInOctets={1: 5, 2: 6},
        ifHighSpeed={1: 1000},
        ifSpeed={1: 4294967295, 2: 2_048_000},
    )
    ifs = interfaces(rows)
    assert ifs[1].name == "Gi0/0" and ifs[1].oper_up is True
    assert ifs[1].counters["in_octets"] == (2**40, 64)
    assert ifs[1].speed_bps == 1e9
    assert ifs[2].name == "Serial0" and ifs[2].oper_up is False
    assert ifs[2].counters["in_octets"] == (6, 32) and ifs[2].speed_bps == 2_048_000


def test_interface_speed_below_4g_is_ifspeed_not_the_rounded_ifhighspeed() -> None:
    # a 2.5 Mbit/s link: ifHighSpeed says 2 (whole Mbit/s); ifSpeed is exact
    ifs = interfaces(_if_rows(ifName={1: b"eth0"}, ifHighSpeed={1: 2}, ifSpeed={1: 2_500_000}))
    assert ifs[1].speed_bps == 2_500_000


def test_interfaces_reject_garbage_values() -> None:
    with pytest.raises(DecodeError, match="bad_value"):
        interfaces(_if_rows(ifOperStatus={1: b"up"}))
    with pytest.raises(DecodeError, match="bad_index"):
        interfaces({(1, 2): {0: b"x"}})


def test_lldp_neighbours_name_local_ports_as_ifmib_does() -> None:
    loc_names = list(LLDP_LOC_COLUMNS)
    rem_names = list(LLDP_REM_COLUMNS)
    loc = {
        (7,): {
            loc_names.index("lldpLocPortId"): b"\x00\x11",
            loc_names.index("lldpLocPortDesc"): b"Gi0/1",
        },
    }
    rem = {
        (0, 7, 1): {
            rem_names.index("lldpRemChassisId"): b"\x00\x1b\x54\xaa\xbb\xcc",
            rem_names.index("lldpRemPortId"): b"Ethernet3",
            rem_names.index("lldpRemSysName"): b"core2",
        },
        (0, 9, 2): {rem_names.index("lldpRemChassisId"): b"\x00\x1b\x54\xaa\xbb\xcd"},
    }
    n = lldp_neighbors(loc, rem, ["Gi0/1", "Gi0/2"])
    assert [(x.local_port, x.remote_device, x.remote_port) for x in n] == [
        ("9", "00:1b:54:aa:bb:cd", ""),
        ("Gi0/1", "core2", "Ethernet3"),
    ]
    assert n[1].chassis_id == "00:1b:54:aa:bb:cc"


def test_cpu_percent_and_ucd_ticks() -> None:
    percent = next(s for s in CPU_SOURCES if s.kind == "percent")
    ucd = next(s for s in CPU_SOURCES if s.kind == "ucd_ticks")
    assert cpu_percent(percent, [10, 30])[0] == 20
    load, keep = cpu_percent(ucd, [100, 0, 50, 1000, 0, 0, 0])
    assert load is None
    load, _ = cpu_percent(ucd, [130, 0, 60, 1060, 0, 0, 0], keep)  # 40 busy of 100
    assert load == 40.0
    with pytest.raises(DecodeError):
        cpu_percent(percent, [b"x"])


def test_to_python_and_display() -> None:
    assert to_python(rfc1902.Counter64(2**63)) == 2**63
    assert to_python(rfc1902.IpAddress("10.0.0.1")) == "10.0.0.1"
    assert to_python(rfc1902.ObjectName("1.3.6.1")) == (1, 3, 6, 1)
    assert to_python(rfc1905.endOfMibView) is None
    assert display(b"\x00\x1b") == "00:1b" and display(b"eth0") == "eth0"


values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.binary(max_size=12),
    st.tuples(st.integers(0, 5)),
)
oids = st.lists(st.integers(0, 12), min_size=0, max_size=14).map(tuple)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(oids, values), max_size=30), max_size=20))
def test_fuzz_walk_and_decoders_never_crash_or_loop(answers: list) -> None:
    cols = [*list(IF_COLUMNS.values())[:4], A]
    w = TableWalk(cols, max_rows=50)
    for ans in answers:
        if w.done:
            break
        before = list(w.cursor)
        w.feed(ans)
        # columns only move forward or end, and a non-empty answer moves at least one
        pairs = list(zip(w.cursor, before, strict=True))
        assert all(a is None or b is None or a >= b for a, b in pairs)
        assert not ans or any(a != b for a, b in pairs)
    assert len(w.rows) <= 50
    try:
        interfaces({k: {c: v for c, v in r.items() if c < 4} for k, r in w.rows.items()})
        lldp_neighbors(w.rows, w.rows, [])
    except DecodeError as exc:
        assert exc.reason in {"bad_value", "bad_index"}
