"""Fault categories of log templates: the categories, their descriptions, and keywords (data).

The descriptions are what the semantic classifier (:mod:`netvigil.analytics.semantic`)
compares template embeddings with; the keywords are the deterministic fallback used when the
``ml`` extra is not installed. Both are vendor knowledge as data, edited here, not in code.
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "KEYWORDS", "keyword_category"]

CATEGORIES: dict[str, list[str]] = {
    "link": [
        "interface changed state to down",
        "line protocol on interface went down",
        "link flap detected on port",
        "carrier loss, optical signal lost on transceiver",
    ],
    "hardware": [
        "power supply failed",
        "fan tray failure",
        "linecard module crashed and reloaded",
        "memory parity error on hardware asic",
    ],
    "routing_protocol": [
        "BGP neighbor session went down",
        "OSPF adjacency changed from full to down",
        "IS-IS adjacency lost",
        "LDP session closed with peer",
    ],
    "authentication": [
        "authentication failure for user",
        "failed password for invalid user from address",
        "login failed, access denied",
        "too many authentication failures",
    ],
    "configuration_change": [
        "configured from console by user",
        "configuration committed by user",
        "running configuration changed",
        "commit complete, config saved",
    ],
    "environment": [
        "temperature exceeded threshold",
        "voltage out of range on sensor",
        "environmental alarm: high temperature",
        "power input lost, running on battery",
    ],
}

KEYWORDS: dict[str, tuple[str, ...]] = {
    "link": (
        "updown",
        "link down",
        "link up",
        "changed state",
        "line protocol",
        "carrier",
        "los ",
        "flap",
        "port down",
        "port up",
        "if_down",
        "snmp_trap_link",
    ),
    "hardware": (
        "power supply",
        "fan",
        "module",
        "linecard",
        "line card",
        "asic",
        "parity",
        "hardware",
        "crash",
        "reload",
        "transceiver failure",
    ),
    "routing_protocol": (
        "bgp",
        "ospf",
        "isis",
        "is-is",
        "ldp",
        "adjchg",
        "adjacency",
        "neighbor",
        "rsvp",
        "pim",
    ),
    "authentication": (
        "authentication",
        "password",
        "login",
        "invalid user",
        "auth",
        "denied",
        "ssh",
        "radius",
        "tacacs",
    ),
    "configuration_change": ("config", "commit", "configured"),
    "environment": (
        "temperature",
        "temp ",
        "thermal",
        "voltage",
        "envmon",
        "environment",
        "overheat",
    ),
}
_PATTERNS = {
    cat: re.compile("|".join(re.escape(k) for k in words), re.IGNORECASE)
    for cat, words in KEYWORDS.items()
}


def keyword_category(template: str) -> tuple[str, float]:
    """The category with the most keyword hits, and a crude confidence; ``other`` if none."""
    best, hits = "other", 0
    for cat, pattern in _PATTERNS.items():
        n = len(pattern.findall(template))
        if n > hits:
            best, hits = cat, n
    return best, (min(1.0, 0.5 + 0.25 * hits) if hits else 0.0)
