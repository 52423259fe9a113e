"""Vendor mnemonics turned into structured fields and device events, by a data table.

Network devices say what happened in a mnemonic: Cisco IOS/NX-OS/IOS-XR and Arista EOS write
``%FACILITY-SEVERITY-MNEMONIC: text``, Junos an event tag (``SNMP_TRAP_LINK_DOWN: text``, or
the MSGID of its RFC 5424 format), FRRouting its daemon in the RFC 5424 MSGID and a tag at the
start of the text (MSGID ``OSPF``, ``AdjChg: ...``: the key is ``OSPF:AdjChg``).
``mnemonics.yaml`` maps each mnemonic to a regular expression whose named groups become fields
(``interface``, ``neighbor``, ``state``, ...) and to the device event a state means
(``link_down``, ``bgp_down``, ...). Adding a vendor message is a table row, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from netvigil.collectors.syslog.message import SyslogMessage

__all__ = ["Rule", "classify", "enrich", "junos_or_frr", "rules", "state_event"]

_CISCO = re.compile(r"%([A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)*?)-([0-7])-([A-Z][A-Z0-9_]*)\s?:\s?")
_JUNOS = re.compile(r"([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:: |:?$)")
_FRR_MSGID = re.compile(r"[A-Z][A-Z0-9]*")
_FRR_TAG = re.compile(r"([A-Za-z][A-Za-z0-9]*): ")


@dataclass(frozen=True)
class Rule:
    key: str
    pattern: re.Pattern[str]
    state: str | None
    events: dict[str, str]
    fields: tuple[str | None, ...] = ()
    """The field each capture group fills, by group number (``vrf2`` fills ``vrf``)."""
    named: tuple[tuple[int, str], ...] = ()
    """``fields`` without the unnamed groups: (0-based group index, field), in group order."""


@cache
def rules() -> tuple[dict[str, Rule], tuple[Rule, ...]]:
    """Exact-key rules and wildcard (prefix) rules from ``mnemonics.yaml``."""
    text = resources.files(__package__).joinpath("mnemonics.yaml").read_text()
    exact: dict[str, Rule] = {}
    prefix: list[Rule] = []
    for key, spec in (yaml.safe_load(text) or {}).items():
        pattern = re.compile(spec["pattern"])
        names = {i: n.rstrip("0123456789") for n, i in pattern.groupindex.items()}
        fields = tuple(names.get(i) for i in range(1, pattern.groups + 1))
        rule = Rule(
            key=key,
            pattern=pattern,
            state=spec.get("state"),
            events={str(k).lower(): v for k, v in (spec.get("events") or {}).items()},
            fields=fields,
            named=tuple((i, name) for i, name in enumerate(fields) if name is not None),
        )
        if key.endswith("*"):
            prefix.append(rule)
        else:
            exact[key] = rule
    return exact, tuple(prefix)


_LOOKED_UP: dict[str, Rule | None] = {}
"""Each mnemonic's rule (or None), as :func:`_lookup` found it; cleared when it grows past
4,096 keys, since devices (or a hostile sender) can make up any number of mnemonics."""


def _lookup(key: str) -> Rule | None:
    if key in _LOOKED_UP:
        return _LOOKED_UP[key]
    if len(_LOOKED_UP) > 4096:
        _LOOKED_UP.clear()
    exact, prefix = rules()
    hit = exact.get(key)
    if hit is None:
        hit = next((r for r in prefix if key.startswith(r.key[:-1])), None)
    _LOOKED_UP[key] = hit
    return hit


_CISCO_HEADS: dict[tuple[str, ...], tuple[str, Rule | None]] = {}
"""A Cisco header's (facility, severity, mnemonic) -> its ``mnemonic`` field and its rule;
bounded as ``_LOOKED_UP``."""


def _cisco_head(groups: tuple[str, ...]) -> tuple[str, Rule | None]:
    if len(_CISCO_HEADS) > 4096:
        _CISCO_HEADS.clear()
    facility, severity, mnemonic = groups
    key = f"{facility}-{mnemonic}"
    head = _CISCO_HEADS[groups] = (f"{facility}-{severity}-{mnemonic}", _lookup(key))
    return head


def junos_or_frr(text: str, msgid: str | None) -> tuple[str, str] | None:
    """The mnemonic of a text that has no Cisco one, and the text after it: a Junos event tag
    opening the text, else a Junos tag as the MSGID, else FRRouting's daemon MSGID."""
    j = _JUNOS.match(text)
    if j is not None:
        return j.group(1), text[j.end() :]
    if msgid and _JUNOS.fullmatch(msgid):
        return msgid, text
    if msgid and _FRR_MSGID.fullmatch(msgid):
        # FRRouting: "MSGID:Tag" when the text opens with "Tag: ", else the MSGID alone
        if f := _FRR_TAG.match(text):
            return f"{msgid}:{f.group(1)}", text[f.end() :]
        return msgid, text
    return None


def enrich(msg: SyslogMessage) -> str | None:
    """Add vendor fields to ``msg.fields``; return the device event kind it means, if any."""
    return classify(msg.message or "", msg.msgid, msg.fields)


def classify(text: str, msgid: str | None, fields: dict[str, str]) -> str | None:
    """The vendor fields of a message's text (and RFC 5424 MSGID), added to ``fields``; the
    device event kind they mean, if any.

    Run for every message that may hold a mnemonic (a fifth of the ingest benchmark's), so
    what depends only on a Cisco header's three parts (the ``mnemonic`` text, the rule) is
    looked up once per header, not built per message, and each rule's named groups are listed
    once (``Rule.named``); the fields and their order are those of the table's plain reading:
    mnemonic, vendor facility and severity, the rule's groups in order, state, event."""
    pct = text.find("%", 0, 200)
    if pct < 0:
        if not msgid and not text[:2].isupper():
            return None  # neither a Cisco nor a Junos mnemonic (``[A-Z][A-Z0-9_]``) is there
        m = None
    else:
        m = _CISCO.search(text, pct, 200)
    if m is not None:
        groups = m.groups()
        head = _CISCO_HEADS.get(groups)
        if head is None:
            head = _cisco_head(groups)
        fields["mnemonic"] = head[0]
        fields["vendor_facility"] = groups[0]
        fields["vendor_severity"] = groups[1]
        rule = head[1]
        if rule is None:
            return None
        body = text[m.end() :]
    else:
        tagged = junos_or_frr(text, msgid)
        if tagged is None:
            return None
        key, body = tagged
        fields["mnemonic"] = key
        rule = _LOOKED_UP[key] if key in _LOOKED_UP else _lookup(key)  # a call saved per hit
        if rule is None:
            return None
    found = rule.pattern.search(body)
    if found is None:
        return None
    values = found.groups()
    for i, name in rule.named:
        value = values[i]
        if value is not None:
            fields[name] = value
    return state_event(rule, fields)


def state_event(rule: Rule, fields: dict[str, str]) -> str | None:
    """The state the message's fields say (else the rule's own), added to ``fields``, and the
    device event kind it means, added as ``event``; that kind, if any."""
    state = fields.get("state") or rule.state
    if state is None:
        return None
    fields["state"] = state
    kind = rule.events.get(state.lower())
    if kind:
        fields["event"] = kind
    return kind
