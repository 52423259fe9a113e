"""Template mining with network-aware masks, and the ``logs mine`` contract."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics.categories import keyword_category
from netvigil.analytics.logmining import LogMiner, MinerConfig, loghub_template, mask

CASES = [
    (
        "Interface GigabitEthernet0/0/1, changed state to down",
        "Interface <IF>, changed state to down",
    ),
    ("Interface Gi1/0/24 up", "Interface <IF> up"),
    ("ge-0/0/1.0 down", "<IF> down"),
    ("xe-1/2/3:1 up", "<IF> up"),
    ("Ethernet49/1 link down", "<IF> link down"),
    ("port 1/1/c2/1 down on lag-10", "port <IF> down on <IF>"),
    ("neighbor 10.0.0.1 AS 65001 up", "neighbor <IP> <ASN> up"),
    ("peer 2001:db8::1 (AS65002.10) Down", "peer <IP> (<ASN>) Down"),
    ("mac 00:1a:2b:3c:4d:5e and aabb.ccdd.eeff on Vlan100", "mac <MAC> and <MAC> on <IF>"),
    ("id 0x1f3a and 3f2a9c1d7e", "id <HEX> and <HEX>"),
    ("from 192.168.1.20:514 via 10.1.0.0/16", "from <IP> via <IP>"),
    # a path, a URL and a date are one variable each; a word glued to a digit stays a word
    ("open /var/log/messages failed", "open <PATH> failed"),
    ("fetch https://example.org/a?b=1 ok", "fetch <URL> ok"),
    ("at Fri Jun 17 07:07:00 2005 and 2024-01-02T03:04:05Z", "at <TS> and <TS>"),
    ("ipv6 md5 %LINK-3-UPDOWN", "ipv6 md5 %LINK-3-UPDOWN"),
    ("auth md55 key12 on the word10", "auth md55 key12 on the word10"),
    # Linux interface names (FRRouting's logs), VLAN sub-interfaces, and not words
    ("interface eth0 and eth10 down, swp12 up", "interface <IF> and <IF> down, <IF> up"),
    ("enp0s3 and eth1.100 on veth9a2f", "<IF> and <IF> on <IF>"),
    ("the bridge and the loopback are local", "the bridge and the loopback are local"),
    # a decimal number is a number, not a hex id; a signed id keeps one form
    ("size 67108864 and 3549917", "size <NUM> and <NUM>"),
    ("blk_-1608999687919862906 blk_38865049064139660", "blk_<NUM> blk_<NUM>"),
]


@pytest.mark.parametrize(("raw", "masked"), CASES)
def test_masks_vendor_interfaces_addresses_as_numbers_and_hex(raw: str, masked: str) -> None:
    assert mask(raw) == masked


def test_messages_differing_only_in_masked_parts_share_a_template() -> None:
    m = LogMiner()
    a = m.add("%LINK-3-UPDOWN: Interface GigabitEthernet0/0/1, changed state to down")
    b = m.add("%LINK-3-UPDOWN: Interface TenGigE0/1/0/3, changed state to down")
    c = m.add("%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down BGP Notification sent")
    assert a.is_new and not b.is_new and c.is_new
    assert a.template_id == b.template_id != c.template_id
    assert loghub_template(m.template(a.template_id)) == (
        "%LINK-3-UPDOWN: Interface <*>, changed state to down"
    )


def test_a_varying_first_word_stays_one_template() -> None:
    # Drain's parse tree routes on the first tokens: one template per program name
    m = LogMiner()
    programs = ["chrome.exe", "firefox.exe", "outlook.exe", "svchost.exe", "skype.exe"]
    ids = {
        m.resolve(
            m.add(
                f"{p} - www.example{j}.com:443 close, {j * 7} bytes sent, lifetime 00:0{j}"
            ).template_id
        )
        for j, p in enumerate(programs * 3)
    }
    ids = {m.resolve(i) for i in ids}
    assert len(ids) == 1
    assert loghub_template(m.template(ids.pop())).startswith("<*> - <*> close,")


def test_a_word_with_few_values_is_an_event_a_word_that_keeps_changing_a_parameter() -> None:
    m = LogMiner(MinerConfig(sibling_k=4))
    failed = [m.add(f"Failed password for u{i} from 10.0.0.{i} port 22 ssh2") for i in range(6)]
    accepted = m.add("Accepted password for u1 from 10.0.0.9 port 22 ssh2")
    final = {m.resolve(f.template_id) for f in failed}
    assert len(final) == 1  # the user keeps changing: a parameter, the templates merged
    assert m.resolve(accepted.template_id) not in final  # Failed/Accepted: two events
    assert loghub_template(m.template(final.pop())) == (
        "Failed password for <*> from <*> port <*> ssh2"
    )


def test_templates_are_bounded_and_evictions_counted() -> None:
    m = LogMiner(MinerConfig(max_templates=50))
    words = [f"w{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    for i in range(2_000):  # a storm of new text: every line its own template
        m.add(" ".join(words[(i * k + k * k) % 26] + chr(97 + (i >> k) % 26) for k in range(6)))
    assert len(m) <= 50 and m.evicted >= 2_000 - 50 - m.merged


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_masks_and_mines_without_error(text: str) -> None:
    m = LogMiner()
    masked = mask(text)
    assert isinstance(masked, str)
    if text.strip():
        assert m.add(text).template_id >= 1


def test_keyword_categories() -> None:
    assert keyword_category("%BGP-5-ADJCHANGE: neighbor <IP> Down")[0] == "routing_protocol"
    assert keyword_category("Failed password for invalid user <*>")[0] == "authentication"
    assert keyword_category("hello world") == ("other", 0.0)


def test_logs_mine_cli_contract(tmp_path: Path) -> None:
    src = tmp_path / "m.txt"
    src.write_text("Interface Gi0/1 down\nInterface Gi0/2 down\n\nuser admin logged in\n")
    out = tmp_path / "t.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "logs",
            "mine",
            "--input",
            str(src),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["LineId", "EventId", "EventTemplate"]
    assert [r["LineId"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["EventId"] == rows[1]["EventId"] != rows[3]["EventId"]
    assert rows[0]["EventTemplate"] == "Interface <*> down"
    assert rows[2]["EventId"] == "E0"
