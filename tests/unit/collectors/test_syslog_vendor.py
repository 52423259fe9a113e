"""The vendor tables give structured fields and device events (``vendor.enrich``); ``classify``
(which caches per Cisco header and lists each rule's named groups once) gives the same fields,
in the same order, and the same kind as the table's plain reading (``_plain_reading``, the
function as it was before those caches) on the syslog vectors, the ingest benchmark's corpus
and hypothesis-mutated vendor texts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_syslog import VENDOR, corpus
from netvigil.collectors.syslog.records import to_events
from netvigil.collectors.syslog.rfc3164 import parse_syslog
from netvigil.collectors.syslog.vendor import (
    _CISCO,
    classify,
    enrich,
    junos_or_frr,
    rules,
    state_event,
)
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent
from tests.unit.collectors.test_syslog_fast_paths import CHECK, _vector_messages

CASES = [
    (
        b"<189>12: *Mar  1 18:48:50.483 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/4, "
        b"changed state to down",
        "link_down",
        {"mnemonic": "LINK-3-UPDOWN", "interface": "GigabitEthernet0/4", "state": "down"},
    ),
    (
        b"<189>Jan 10 12:00:00 spine4 Bgp: %BGP-5-ADJCHANGE: peer 10.0.0.4 (VRF default AS "
        b"65001) old state Established event Stop new state Idle",
        "bgp_down",
        {"neighbor": "10.0.0.4", "vrf": "default", "asn": "65001", "state": "Idle"},
    ),
    (
        b"<30>Mar 10 12:00:00 mx4 rpd[99]: BGP_NEIGHBOR_STATE_CHANGED: BGP peer 192.0.2.4 "
        b"(External AS 65002) changed state from Established to Idle (event RecvNotify)",
        "bgp_down",
        {"mnemonic": "BGP_NEIGHBOR_STATE_CHANGED", "old_state": "Established", "asn": "65002"},
    ),
    (
        b'<29>1 2026-12-06T15:26:57.341201Z r4 ospfd 30493 OSPF [location@50145 tid="30493" '
        b'id="Y05P2-YJVXY"] AdjChg: Nbr 198.18.255.1, NbrIP 198.18.0.16 (default) on '
        b"eth0:198.18.0.17: Full -> Deleted (KillNbr)",
        "ospf_down",
        {"mnemonic": "OSPF:AdjChg", "interface": "eth0", "state": "Deleted", "reason": "KillNbr"},
    ),
    (
        b"<29>1 2026-12-06T15:29:03.505564Z r7 ospfd 30620 OSPF - AdjChg: Nbr 198.18.255.4, "
        b"NbrIP 198.18.0.6 (default) on eth0:198.18.0.7: Exchange -> Full (ExchangeDone)",
        "ospf_up",
        {"neighbor": "198.18.255.4", "old_state": "Exchange", "state": "Full"},
    ),
    (  # between two states short of Full: no change of the adjacency
        b"<29>1 2026-12-06T15:29:03.499413Z r7 ospfd 30620 OSPF - AdjChg: Nbr 198.18.255.4, "
        b"NbrIP 198.18.0.6 (default) on eth0:198.18.0.7: Init -> ExStart (2-WayReceived)",
        None,
        {"mnemonic": "OSPF:AdjChg"},
    ),
    (  # FRRouting zebra, no tag: ospfd's connection gone (the daemon stopped or crashed)
        b'<29>1 2026-12-07T00:53:32.188557Z 1-7 zebra 29366 ZEBRA [location@50145 tid="29366" '
        b'id="JPSA8-5KYEA"] client 25 disconnected 0 ospf routes removed from the rib',
        "routing_process_down",
        {"mnemonic": "ZEBRA", "state": "disconnected", "protocol": "ospf"},
    ),
    (
        b'<29>1 2026-12-07T00:53:57.712410Z 1-7 zebra 29366 ZEBRA [location@50145 tid="29366" '
        b'id="V98V0-MTWPF"] client 25 says hello and bids fair to announce only ospf routes '
        b"vrf=0",
        "routing_process_up",
        {"mnemonic": "ZEBRA", "state": "hello", "protocol": "ospf"},
    ),
    (  # zebra's other lines mean no event
        b'<28>1 2026-12-07T00:53:32.187991Z 1-7 zebra 29366 ZEBRA [location@50145 tid="29410" '
        b"id=\"VXKFG-8SJRV\"] Client 'ospf' encountered an error and is shutting down.",
        None,
        {"mnemonic": "ZEBRA"},
    ),
    (b"<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster", None, {}),
    (b"<38>Dec 10 06:55:46 LabSZ sshd[24200]: 100% CPU", None, {}),
]


@pytest.mark.parametrize(("raw", "kind", "fields"), CASES)
def test_vendor_fields_and_events(raw: bytes, kind: str | None, fields: dict[str, str]) -> None:
    msg = parse_syslog(raw, now=1.7e9)
    assert enrich(msg) == kind
    assert fields.items() <= msg.fields.items()
    if not fields:
        assert "mnemonic" not in msg.fields and "state" not in msg.fields
    if kind is None:
        assert "state" not in msg.fields
    events = to_events(parse_syslog(raw, now=1.7e9), "192.0.2.1", 1.7e9)
    assert [e.kind for e in events if isinstance(e, DeviceEvent)] == ([kind] if kind else [])


def test_every_rule_names_its_groups() -> None:
    exact, prefix = rules()
    for rule in (*exact.values(), *prefix):
        assert len(rule.fields) == rule.pattern.groups
        named = {n.rstrip("0123456789") for n in rule.pattern.groupindex}
        assert {f for f in rule.fields if f is not None} == named


def _plain_reading(text: str, msgid: str | None, fields: dict[str, str]) -> str | None:
    """``classify`` as it read the table before its caches: each Cisco header's key and rule
    found per message, each group's name looked up by group number."""
    pct = text.find("%", 0, 200)
    if pct < 0 and not msgid and not text[:2].isupper():
        return None
    key = None
    m = _CISCO.search(text, pct, 200) if pct >= 0 else None
    if m is not None:
        facility, severity, mnemonic = m.groups()
        fields["mnemonic"] = f"{facility}-{severity}-{mnemonic}"
        fields["vendor_facility"] = facility
        fields["vendor_severity"] = severity
        key, body = f"{facility}-{mnemonic}", text[m.end() :]
    elif tagged := junos_or_frr(text, msgid):  # unchanged by the caches: shared
        key, body = tagged
        fields["mnemonic"] = key
    if key is None:
        return None
    exact, prefix = rules()
    rule = exact.get(key) or next((r for r in prefix if key.startswith(r.key[:-1])), None)
    if rule is None:
        return None
    found = rule.pattern.search(body)
    if found is None:
        return None
    for name, value in zip(rule.fields, found.groups(), strict=True):
        if value is not None and name is not None:
            fields[name] = value
    return state_event(rule, fields)  # unchanged by the caches: shared


def _same_reading(text: str, msgid: str | None) -> None:
    fast: dict[str, str] = {}
    plain: dict[str, str] = {}
    assert (classify(text, msgid, fast), list(fast.items())) == (
        _plain_reading(text, msgid, plain),
        list(plain.items()),
    ), (text, msgid)


def _texts_of(messages: list[bytes]) -> list[tuple[str, str | None]]:
    out = []
    for raw in messages:
        try:
            msg = parse_syslog(raw, now=1.7e9)
        except DecodeError:
            continue
        out.append((msg.message or "", msg.msgid))
    return out


def test_classify_reads_the_table_as_plainly_read_on_vectors_and_corpus() -> None:
    texts = _texts_of(_vector_messages() + corpus(3000) + [raw for raw, _, _ in CASES])
    assert sum(1 for t, m in texts if classify(t, m, {})) > 500  # vendor events among them
    for _ in range(2):  # the second time from the caches
        for text, msgid in texts:
            _same_reading(text, msgid)


_HEADS = ["%LINK-3-UPDOWN: ", "%LINK-3-UPDOWN:", "%PKT_INFRA-LINK-3-UPDOWN : ", "%A-B-9-C: "]
_HEADS += ["%BGP-5-ADJCHANGE: ", "%ETHPORT-5-IF_DOWN_LINK_FAILURE: ", "%X-1-Y:", "x %SYS-5-"]
_HEADS += ["SNMP_TRAP_LINK_DOWN: ", "BGP_NEIGHBOR_STATE_CHANGED: ", "AdjChg: ", "UI_COMMIT:", ""]
_EXAMPLES = [raw for raw, _, _ in CASES] + [v.format(n=1, i=2).encode() for v in VENDOR]
_BODIES = [
    re.split(r"%[A-Z_]+-\d-[A-Z_]+: |\b[A-Z]+_[A-Z_]+: |AdjChg: ", t, maxsplit=1)[-1]
    for t, _ in _texts_of(_EXAMPLES)
]


@st.composite
def _vendor_texts(draw: st.DrawFn) -> str:
    """A mnemonic header (or a near miss) and a body of the table's own examples, with a few
    characters flipped, cut or inserted."""
    text = list(draw(st.sampled_from(_HEADS)) + draw(st.sampled_from(_BODIES)))
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        ch = draw(st.sampled_from([*" :-_%(),.0123456789AZaz", "é", "\n"]))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            text[at] = ch
        elif op == "cut":
            del text[at]
        else:
            text.insert(at, ch)
    return "".join(text)


@settings(CHECK, max_examples=1500)
@given(
    _vendor_texts(),
    st.sampled_from([None, "OSPF", "ZEBRA", "SNMP_TRAP_LINK_UP", "UI_COMMIT", "ospf", "X"]),
)
def test_classify_reads_the_table_as_plainly_read_on_mutated_texts(
    text: str, msgid: str | None
) -> None:
    _same_reading(text, msgid)
