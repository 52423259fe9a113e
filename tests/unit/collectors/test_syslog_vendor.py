"""The vendor tables give structured fields and device events (``vendor.enrich``)."""

from __future__ import annotations

import pytest

from netvigil.collectors.syslog.records import to_events
from netvigil.collectors.syslog.rfc3164 import parse_syslog
from netvigil.collectors.syslog.vendor import enrich, rules
from netvigil.events import DeviceEvent

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
