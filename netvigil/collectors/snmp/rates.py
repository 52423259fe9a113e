"""From successive polls of one agent to events: counters as rates, restarts, status changes.

Pure: the poller hands in what it read (a :class:`Poll`) and the target's :class:`PollState`
(mutated in place) and gets events back. The rules, each one a known way that naive
collectors produce nonsense spikes:

- **Restart**: sysUpTime went backwards (the agent or the device rebooted, so every counter
  restarted from zero). A ``restart`` event is emitted and no rate is computed from the poll
  before it; the next poll is the new baseline. sysUpTime itself wraps after 497 days: a
  backwards step from within one poll interval of 2^32 centiseconds is a wrap, not a restart.
- **Wrap**: a 32-bit counter that went down wrapped once, if the implied rate fits the
  interface speed (with slack); otherwise, and always for 64-bit counters (a real 64-bit wrap
  takes years even at 400G), it is a **discontinuity** and that sample gives no rate.
- **Discontinuity**: ifCounterDiscontinuityTime changed, or an ifIndex now names another
  interface (re-indexing after a line card swap): the interface's baseline restarts.
- **Status**: ``if.oper_status`` (1 up, 0 not up) is a gauge sent every poll; a change is also
  a ``link_down`` / ``link_up`` device event. Administratively-down interfaces are skipped:
  an operator's shutdown is not a fault.

Elapsed time is the collector's clock between the two answers (``Poll.ts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netvigil.collectors.counters import RATE_METRICS, UTIL_METRICS, counter_delta
from netvigil.collectors.snmp.mib import IfSample, Neighbor
from netvigil.events import DeviceEvent, Event, Metric, interface_id

__all__ = ["Poll", "PollState", "poll_events"]

UPTIME_WRAP = 2**32
WRAP_SLACK = 1.5
"""A 32-bit wrap is believed when the implied rate is at most this times the speed."""


@dataclass(frozen=True)
class Poll:
    """What one poll of one agent read."""

    ts: float
    uptime_cs: int | None
    interfaces: dict[int, IfSample] = field(default_factory=dict)
    cpu: float | None = None
    neighbors: list[Neighbor] | None = None
    sys_name: str = ""


@dataclass
class PollState:
    """What the previous poll of a target left behind."""

    ts: float | None = None
    uptime_cs: int | None = None
    interfaces: dict[int, IfSample] = field(default_factory=dict)
    neighbors: set[Neighbor] | None = None
    restarts: int = 0
    discontinuities: int = 0
    wraps: int = 0


def _restarted(prev: int | None, cur: int | None, elapsed_cs: float) -> bool:
    if prev is None or cur is None or cur >= prev:
        return False
    # a sysUpTime wrap: the previous value was within one interval (plus slack) of 2^32
    return not (prev > UPTIME_WRAP - 2 * elapsed_cs - 100 and cur < 2 * elapsed_cs + 100)


def poll_events(device: str, poll: Poll, state: PollState, source: str = "snmp") -> list[Event]:
    """The metrics and device events of one poll, given the previous one (``state``)."""
    out: list[Event] = []
    ts = poll.ts
    elapsed = ts - state.ts if state.ts is not None else None
    restart = elapsed is not None and _restarted(state.uptime_cs, poll.uptime_cs, elapsed * 100)
    if restart:
        state.restarts += 1
        out.append(
            DeviceEvent(
                ts=ts,
                device=device,
                kind="restart",
                source=source,
                attrs={
                    "uptime_cs": str(poll.uptime_cs),
                    "previous_uptime_cs": str(state.uptime_cs),
                },
            )
        )
    usable = elapsed is not None and elapsed > 0 and not restart
    for if_index, cur in sorted(poll.interfaces.items()):
        prev = state.interfaces.get(if_index)
        if prev is not None and prev.name != cur.name:
            prev = None  # re-indexed: another interface now
        labels = {"interface": cur.name}
        entity = interface_id(device, cur.name)
        if cur.admin_up is not False and cur.oper_up is not None:
            out.append(
                Metric(
                    ts=ts,
                    device=device,
                    name="if.oper_status",
                    value=float(cur.oper_up),
                    labels=labels,
                )
            )
            if prev is not None and prev.oper_up is not None and prev.oper_up != cur.oper_up:
                kind = "link_up" if cur.oper_up else "link_down"
                out.append(
                    DeviceEvent(ts=ts, device=device, kind=kind, entity=entity, source=source)
                )
        if not usable or prev is None or elapsed is None:
            continue
        if cur.discontinuity != prev.discontinuity:
            state.discontinuities += 1
            continue
        out.extend(_rates(device, ts, elapsed, prev, cur, labels, state))
    if poll.cpu is not None:
        out.append(Metric(ts=ts, device=device, name="cpu.util", value=poll.cpu, unit="%"))
    out.extend(_neighbor_events(device, ts, poll.neighbors, state, source))
    state.ts = ts
    state.uptime_cs = poll.uptime_cs
    state.interfaces = dict(poll.interfaces)
    return out


def _rates(
    device: str,
    ts: float,
    elapsed: float,
    prev: IfSample,
    cur: IfSample,
    labels: dict[str, str],
    state: PollState,
) -> list[Event]:
    out: list[Event] = []
    for key, (value, width) in sorted(cur.counters.items()):
        before = prev.counters.get(key)
        if before is None or before[1] != width:
            continue
        name, unit, mult = RATE_METRICS[key]
        max_delta = None
        if cur.speed_bps > 0 and unit == "bps":
            max_delta = cur.speed_bps / mult * elapsed * WRAP_SLACK
        delta = counter_delta(before[0], value, width, max_delta)
        if delta is None:
            state.discontinuities += 1
            continue
        if value < before[0]:
            state.wraps += 1
        rate = delta * mult / elapsed
        out.append(Metric(ts=ts, device=device, name=name, value=rate, unit=unit, labels=labels))
        util = UTIL_METRICS.get(name)
        if util and cur.speed_bps > 0:
            out.append(
                Metric(
                    ts=ts,
                    device=device,
                    name=util,
                    value=rate / cur.speed_bps,
                    unit="ratio",
                    labels=labels,
                )
            )
    return out


def _neighbor_events(
    device: str, ts: float, seen: list[Neighbor] | None, state: PollState, source: str
) -> list[Event]:
    """``lldp_neighbor`` for each neighbour new since the last poll, ``lldp_neighbor_lost``
    for each one gone; all of them on the first poll (consumers may start late)."""
    if seen is None:
        return []
    now = set(seen)
    before = state.neighbors or set()
    state.neighbors = now
    out: list[Event] = []
    for kind, group in (("lldp_neighbor", now - before), ("lldp_neighbor_lost", before - now)):
        for n in sorted(group, key=lambda n: (n.local_port, n.remote_device, n.remote_port)):
            out.append(
                DeviceEvent(
                    ts=ts,
                    device=device,
                    kind=kind,
                    entity=interface_id(device, n.local_port),
                    source=source,
                    attrs=n.attrs(),
                )
            )
    return out
