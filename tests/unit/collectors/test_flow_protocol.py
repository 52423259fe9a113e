"""``FlowRecord.protocol`` names the protocol, since sFlow and NetFlow v5 both carry version 5."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path

from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.collectors.flow.pcap import datagrams
from netvigil.collectors.flow.sflow import is_sflow
from netvigil.errors import DecodeError
from netvigil.events import FlowRecord, decode, encode
from tests.conftest import SHARED_DATA
from tests.unit.collectors.test_flow_session import ipfix, records, template


def _v5() -> bytes:
    rec = (
        socket.inet_aton("10.0.0.1") + socket.inet_aton("192.0.2.1") + socket.inet_aton("0.0.0.0")
        + struct.pack(">HHIIIIHHBBBBHHBBH", 1, 2, 3, 400, 1000, 2000, 1234, 443, 0, 0x18, 6, 0,
                      0, 0, 24, 24, 0)
    )  # fmt: skip
    return struct.pack(">HHIIIIBBH", 5, 1, 1000, 1_700_000_000, 0, 0, 0, 0, 0) + rec


def _records(data: bytes, decoder: FlowDecoder) -> list[FlowRecord]:
    events = flow_events(decoder.decode(data, "192.0.2.254"), 0.0)
    return [e for e in events if isinstance(e, FlowRecord)]


def test_netflow5_and_ipfix_are_named_and_survive_the_wire() -> None:
    decoder = FlowDecoder()
    (v5,) = _records(_v5(), decoder)
    assert (v5.version, v5.protocol) == (5, "netflow5")
    fix = _records(ipfix([template(), records(3)]), decoder)
    assert [r.protocol for r in fix] == ["ipfix"] * 3
    assert decode(encode(fix[0])) == fix[0]
    assert FlowRecord(ts=0.0, exporter="x", version=9).protocol == ""  # the additive default


def _files(corpus: str) -> list[list[Path]]:
    path = SHARED_DATA / "vectors" / corpus / "cases.json"
    if not path.exists():
        return []
    return [[path.parent / p for p in c["packets"]] for c in json.loads(path.read_text())]


def test_every_vector_record_names_its_protocol() -> None:
    seen: set[str] = set()
    for case in _files("netflow") + _files("sflow"):
        decoder = FlowDecoder()
        for file in case:
            for data, _ in datagrams(file, "192.0.2.254"):
                try:
                    got = _records(data, decoder)
                except DecodeError:
                    continue
                if is_sflow(data):
                    want = "sflow5"
                else:
                    want = {5: "netflow5", 9: "netflow9", 10: "ipfix"}[data[0] << 8 | data[1]]
                assert all(r.protocol == want for r in got), file
                seen.update(r.protocol for r in got)
    if SHARED_DATA.exists():
        assert {"netflow5", "netflow9", "ipfix", "sflow5"} <= seen
