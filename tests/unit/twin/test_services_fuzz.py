"""Fuzz the twin's service specs (YAML data from users): a list of specs or a ConfigError."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.errors import ConfigError
from netvigil.twin.services import load_services

DEVICES = {"edge1", "edge2", "edge3"}
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(sorted(DEVICES)),
)
value = st.recursive(
    scalar,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
spec = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["a", "b"]), value),
        "runs_on": st.one_of(st.sampled_from(sorted(DEVICES)), value),
        "clients": st.one_of(st.lists(st.sampled_from(sorted(DEVICES)), max_size=2), value),
        "depends_on": st.one_of(st.lists(st.sampled_from(["a", "b"]), max_size=2), value),
        "processing_ms": value,
        "slos": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"objective": st.one_of(st.floats(0, 1), value)},
                    optional={"window_s": value, "kind": value, "latency_ms": value},
                ),
                max_size=2,
            ),
            value,
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(spec, value), max_size=3))
def test_any_spec_list_loads_or_is_a_config_error(raw: list[Any]) -> None:
    try:
        specs = load_services(raw, DEVICES)
    except ConfigError:
        return
    names = {s.name for s in specs}
    for s in specs:
        assert s.runs_on in DEVICES and set(s.clients) <= DEVICES
        assert set(s.depends_on) <= names
        assert all(slo.kind in ("success", "latency") and 0 < slo.objective < 1 for slo in s.slos)
