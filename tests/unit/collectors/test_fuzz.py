"""Fuzzing every decoder with hypothesis: random and mutated real inputs may only ever raise
DecodeError (no other exception, no hang: a deadline per example), and session state stays
bounded however many bad datagrams arrive."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.collectors.flow.decoder import FlowDecoder, flow_events, rows
from netvigil.collectors.flow.netflow import FlowSession
from netvigil.collectors.flow.sflow import decode_sflow
from netvigil.collectors.syslog.framing import LineFramer, OctetFramer
from netvigil.collectors.syslog.rfc3164 import parse_syslog
from netvigil.collectors.syslog.rfc5424 import _scan, parse_5424
from netvigil.errors import DecodeError
from tests.conftest import SHARED_DATA

FUZZ = settings(
    max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _payloads() -> list[bytes]:
    out: list[bytes] = []
    for corpus in ("netflow", "sflow"):
        path = SHARED_DATA / "vectors" / corpus / "cases.json"
        if path.exists():
            for case in json.loads(path.read_text()):
                out += [Path(path.parent, p).read_bytes() for p in case["packets"]]
    # a minimal IPFIX template + data pair, so the strategy works without the shared data
    return out or [
        bytes.fromhex("000a0020000000000000000100000001000200100100000200080004000c0004")
    ]


SEEDS = _payloads()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "cut", "dup", "zero"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 16))]
        else:
            data[i : i + 4] = b"\0\0\0\0"
    return bytes(data)


flow_inputs = st.one_of(st.binary(max_size=2048), mutated(SEEDS))


@FUZZ
@given(st.lists(flow_inputs, min_size=1, max_size=6))
def test_flow_decoder_only_raises_decode_error(datagrams: list[bytes]) -> None:
    decoder = FlowDecoder(FlowSession(hold_s=1, hold_max=50, max_templates=64))
    for i, data in enumerate(datagrams):
        try:
            result = decoder.decode(data, "fuzz", now=float(i))
        except DecodeError:
            continue
        list(rows(result))
        flow_events(result, 0.0)
        assert decoder.session.held <= 50
        assert len(decoder.session.templates()) <= 64


@FUZZ
@given(flow_inputs)
def test_sflow_decoder_only_raises_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_sflow(b"\x00\x00\x00\x05" + data[4:])


SYSLOG_SEEDS = [
    b'<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [a@1 k="v\\]"][b x="y"] msg \xef\xbb\xbf',
    b"<189>123: *Mar  1 18:48:50.483 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
    b"<28>Mar 10 12:00:00 r1 mib2d[12]: SNMP_TRAP_LINK_DOWN: ifIndex 5, ifAdminStatus up(1), "
    b"ifOperStatus down(2), ifName ge-0/0/1",
    b"<187>2023 Jan 10 12:00:00 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Eth1/1 is down",
]
syslog_inputs = st.one_of(st.binary(max_size=600), mutated(SYSLOG_SEEDS))


@FUZZ
@given(syslog_inputs, st.booleans())
def test_syslog_parser_only_raises_decode_error(data: bytes, compliant: bool) -> None:
    with contextlib.suppress(DecodeError):
        parse_syslog(data, now=1.7e9, compliant_msg=compliant)


@FUZZ
@given(mutated(SYSLOG_SEEDS[:1]))
def test_5424_fast_path_agrees_with_the_reference_scanner(data: bytes) -> None:
    try:
        fast = parse_5424(data)
    except DecodeError as exc:
        fast_err: DecodeError | None = exc
        fast = None
    else:
        fast_err = None
    try:
        ref = _scan(data, False)
    except DecodeError as exc:
        assert fast is None and fast_err is not None and str(fast_err) == str(exc)
        return
    assert fast is not None
    assert (fast.timestamp, fast.hostname, fast.structured_data, fast.message) == (
        ref.timestamp,
        ref.hostname,
        ref.structured_data,
        ref.message,
    )


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=12), st.sampled_from(["octet", "lf", "auto"]))
def test_framers_never_raise(chunks: list[bytes], kind: str) -> None:
    framer = (
        OctetFramer(100) if kind == "octet" else LineFramer(strict=kind == "lf", max_length=100)
    )
    frames = [f for chunk in chunks for f in framer.feed(chunk)] + framer.close()
    framed = sum(len(f) for f in frames if isinstance(f, bytes))
    assert framed <= sum(len(c) for c in chunks)  # frames come from the input, nothing invented
