"""Path handling of the twin's gNMI service: parse, match, typed values (fuzzed)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from pygnmi.spec.v080 import gnmi_pb2 as pb

from netvigil.twin.gnmi import _matches, _typed, _untyped, parse_path, path_str, to_pb_path

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
paths = st.lists(st.tuples(names, st.dictionaries(names, names, max_size=2)), max_size=6).map(
    lambda elems: tuple((n, tuple(sorted(k.items()))) for n, k in elems)
)


@given(paths)
def test_path_round_trip_and_self_match(p: tuple) -> None:
    assert parse_path(to_pb_path(p)) == p
    assert _matches(p, p)
    assert _matches(p[:1], p) or not p


@given(paths, paths)
def test_a_longer_request_never_matches_a_shorter_leaf(a: tuple, b: tuple) -> None:
    if len(a) > len(b):
        assert not _matches(a, b)


def test_wildcards_and_keys() -> None:
    leaf = (("interfaces", ()), ("interface", (("name", "eth0"),)), ("state", ()))
    assert _matches((("interfaces", ()), ("interface", (("name", "*"),))), leaf)
    assert _matches((("interfaces", ()), ("interface", ())), leaf)
    assert _matches((("*", ()),), leaf)
    assert not _matches((("interfaces", ()), ("interface", (("name", "eth1"),))), leaf)
    assert path_str(leaf) == "/interfaces/interface[name=eth0]/state"


def test_legacy_string_elements() -> None:
    assert parse_path(pb.Path(element=["system", "state"])) == (("system", ()), ("state", ()))


@given(
    st.one_of(
        st.booleans(),
        st.integers(-(2**62), 2**62),
        st.text(max_size=10),
        st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_typed_values_round_trip(v: object) -> None:
    for enc in (pb.JSON, pb.JSON_IETF, pb.ASCII):
        back = _untyped(_typed(v, enc))
        assert back == v or (isinstance(v, float) and json.dumps(back) == json.dumps(v))
