"""Interface counters as rates, for every collector that reads them (SNMP polls, gNMI).

Which counter becomes which rate metric (unit and multiplier), which rate gives a
utilization, and how the increase between two reads is known across a 32-bit wrap. The
SNMP- and gNMI-specific rules (sysUpTime restarts, discontinuity times) stay with their
collectors; this is the arithmetic they share.
"""

from __future__ import annotations

__all__ = ["RATE_METRICS", "UTIL_METRICS", "counter_delta"]

#: counter -> (metric name, unit, multiplier to that unit)
RATE_METRICS: dict[str, tuple[str, str, float]] = {
    "in_octets": ("if.in_bps", "bps", 8.0),
    "out_octets": ("if.out_bps", "bps", 8.0),
    "in_discards": ("if.in_discards", "pps", 1.0),
    "out_discards": ("if.out_discards", "pps", 1.0),
    "in_errors": ("if.in_errors", "pps", 1.0),
    "out_errors": ("if.out_errors", "pps", 1.0),
}
#: rate metric -> utilization metric derived from it
UTIL_METRICS = {"if.in_bps": "if.in_util", "if.out_bps": "if.out_util"}


def counter_delta(prev: int, cur: int, width: int, max_delta: float | None) -> int | None:
    """The increase of a counter between two reads, or None where it cannot be known."""
    if cur >= prev:
        return cur - prev
    if width != 32:
        return None
    wrapped = cur + 2**32 - prev
    if max_delta is not None and wrapped > max_delta:
        return None
    return wrapped
