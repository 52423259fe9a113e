"""The fast flow decoding path gives exactly the events of the reference path.

The fast path decodes a fixed-length data set with one precompiled ``struct.Struct`` and a
generated record builder (conversions inline, cached dates and addresses) and works out the
sampling rates once per template; the reference path (``FlowSession.reference``) decodes
field by field with ``elements.render`` and looks at every record's sampling fields. Both go
through the collector, so dead letters, templates and sampling count too; events are compared
as the bytes they are on the bus.
"""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.flow.elements import _BY_ID
from netvigil.collectors.flow.template import VARIABLE, compile_template, field_error
from netvigil.events import Event, TemplateField
from netvigil.streams.meters import EdgeMeters
from tests.conftest import SHARED_DATA, shared_data

_CASES = SHARED_DATA / "vectors" / "netflow" / "cases.json"


def _case_params() -> list[Any]:
    if not _CASES.exists():
        return [pytest.param(None, id="netflow-absent")]
    return [pytest.param(c, id=c["id"]) for c in json.loads(_CASES.read_text())]


def _replay(packets: list[bytes], reference: bool) -> list[bytes]:
    collector = FlowCollector(hold_s=30.0, meters=EdgeMeters(), clock=lambda: 1_700_000_000.0)
    collector.session.reference = reference
    got: list[Event] = []

    async def keep(e: Event) -> None:
        got.append(e)

    async def run() -> None:
        for p in packets:
            await collector.handle(p, "192.0.2.1", 1_700_000_000.0, keep)
        for problem in collector.session.flush():
            await collector._problem(problem, keep)

    asyncio.run(run())
    return [msgspec.json.encode(e) for e in got]


@pytest.mark.parametrize("case", _case_params())
def test_fast_path_gives_the_reference_events_on_every_capture(
    case: dict[str, Any] | None,
) -> None:
    if case is None:
        pytest.skip("vectors not present")
    base = shared_data("vectors", "netflow")
    packets = [Path(base, p).read_bytes() for p in case["packets"]]
    fast, reference = _replay(packets, False), _replay(packets, True)
    assert len(fast) == len(reference)
    for i, (a, b) in enumerate(zip(fast, reference, strict=True)):
        assert a == b, f"event {i} differs"


def test_the_captures_exercise_the_fast_path() -> None:
    """The comparison above means something: captures decode records on the fast path."""
    if not _CASES.exists():
        pytest.skip("vectors not present")
    flows = 0
    for case in json.loads(_CASES.read_text()):
        packets = [Path(_CASES.parent, p).read_bytes() for p in case["packets"]]
        flows += sum(raw.startswith(b'{"type":"flow",') for raw in _replay(packets, False))
    assert flows > 300  # 377 flow records in the 38 captures of 2026-12-07


# registered elements of every type at lengths their types allow (field_error decides)
_ELEMENTS = [i for i, e in _BY_ID.items() if i != 210]


@st.composite
def _template(draw: st.DrawFn) -> list[TemplateField]:
    out: list[TemplateField] = []
    for _ in range(draw(st.integers(1, 12))):
        eid = draw(st.sampled_from(_ELEMENTS))
        length = draw(st.sampled_from([1, 2, 3, 4, 6, 8, 9, 16]))
        f = TemplateField(eid, length)
        if field_error(f) is None:
            out.append(f)
    return out or [TemplateField(8, 4)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_template(), st.integers(0, 5), st.binary(min_size=0, max_size=600))
def test_fast_and_reference_decoders_agree_on_any_fixed_template(
    fields: list[TemplateField], records: int, noise: bytes
) -> None:
    tpl = compile_template(fields)
    assert tpl.fixed_length is not None
    body = (noise * (1 + tpl.fixed_length * records // max(len(noise), 1)))[
        : tpl.fixed_length * records + len(noise) % max(tpl.fixed_length, 1)
    ]
    fast, reference = tpl.decode(body), tpl.decode_reference(body)
    assert msgspec.json.encode(fast) == msgspec.json.encode(reference)
    assert len(fast) == len(body) // tpl.fixed_length


def test_variable_length_templates_take_the_reference_path() -> None:
    tpl = compile_template([TemplateField(8, 4), TemplateField(82, VARIABLE)])
    body = struct.pack(">I", 0x0A000001) + b"\x04eth0" + b"\x00\x00\x00"
    assert tpl.fixed_length is None
    assert tpl.decode(body) == [{"sourceIPv4Address": "10.0.0.1", "interfaceName": "eth0"}]
