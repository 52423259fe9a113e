"""Pure decoding of gNMI notifications into NetVigil events, one target's state at a time.

A notification is flattened to leaves (prefix + update path; JSON / JSON_IETF containers are
walked down to their leaves, list entries keyed by their usual OpenConfig key), and each leaf
is looked up in :data:`~netvigil.collectors.gnmi.paths.LEAVES`. Counters become rates over the
*target's* timestamps (more exact than arrival time), with the same wrap and discontinuity
rules as SNMP's 64-bit counters: a counter that goes down restarted, and gives no rate.
Oper-status and BGP session-state changes become device events. Leaves that are not
understood are ignored (a target sends much more than NetVigil needs); values that are of the
wrong type raise :class:`~netvigil.errors.DecodeError` and the notification is dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pygnmi.spec.v080 import gnmi_pb2 as pb

from netvigil.collectors.counters import RATE_METRICS, UTIL_METRICS, counter_delta
from netvigil.collectors.gnmi.paths import LEAVES
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Event, Metric, interface_id

__all__ = ["GnmiState", "flatten", "notification_events", "typed_value"]

_LIST_KEYS = ("name", "index", "neighbor-address", "identifier", "interface-id", "id")
MAX_DEPTH = 32
MAX_LEAVES = 100_000

LeafTuple = tuple[str, dict[str, str], Any]


def typed_value(value: pb.TypedValue) -> Any:
    """A gNMI TypedValue as Python (JSON values parsed); raises DecodeError."""
    kind = value.WhichOneof("value")
    if kind is None:
        raise DecodeError("empty_value", "an update without a value")
    if kind in ("json_val", "json_ietf_val"):
        try:
            return json.loads(getattr(value, kind))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError("bad_json", f"{kind} is not JSON: {exc}") from exc
    if kind == "decimal_val":
        d = value.decimal_val
        return d.digits / 10**d.precision
    if kind == "leaflist_val":
        return [typed_value(v) for v in value.leaflist_val.element]
    return getattr(value, kind)


def _walk(names: list[str], keys: dict[str, str], v: Any, depth: int) -> Iterator[LeafTuple]:
    if depth > MAX_DEPTH:
        raise DecodeError("too_deep", "JSON value nested deeper than 32 levels")
    if isinstance(v, dict):
        for k, sub in v.items():
            name = str(k).rsplit(":", 1)[-1]  # JSON_IETF module prefixes
            yield from _walk([*names, name], keys, sub, depth + 1)
    elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        for entry in v:
            key = next((k for k in _LIST_KEYS if k in entry), None)
            sub_keys = {**keys, key: str(entry[key])} if key else keys
            yield from _walk(names, sub_keys, entry, depth + 1)
    else:
        yield "/".join(names), keys, v


def flatten(note: pb.Notification) -> list[LeafTuple]:
    """The leaves of a notification: (element names joined by "/", list keys, value)."""
    base = [e.name for e in note.prefix.elem]
    base_keys: dict[str, str] = {}
    for e in note.prefix.elem:
        base_keys.update(e.key)
    out: list[LeafTuple] = []
    for upd in note.update:
        names = base + [e.name for e in upd.path.elem] + list(upd.path.element)
        keys = dict(base_keys)
        for e in upd.path.elem:
            keys.update(e.key)
        names = [n.rsplit(":", 1)[-1] for n in names]
        out.extend(_walk(names, keys, typed_value(upd.val), 0))
        if len(out) > MAX_LEAVES:
            raise DecodeError("too_large", f"more than {MAX_LEAVES} leaves in one notification")
    return out


@dataclass
class GnmiState:
    """What one target told us so far: counters, speeds, statuses, inventory."""

    counters: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    speed_bps: dict[str, float] = field(default_factory=dict)
    oper: dict[str, bool] = field(default_factory=dict)
    admin: dict[str, bool] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    bgp: dict[str, str] = field(default_factory=dict)
    inventory: dict[str, str] = field(default_factory=dict)
    discontinuities: int = 0


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise DecodeError("bad_value", f"{what} is {v!r}, not an integer")
    try:
        n = int(v)  # JSON_IETF encodes 64-bit integers as strings
    except ValueError as exc:
        raise DecodeError("bad_value", f"{what} is {v!r}, not an integer") from exc
    if n < 0:
        raise DecodeError("bad_value", f"{what} is negative ({n})")
    return n


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise DecodeError("bad_value", f"{what} is {v!r}, not a number")
    try:
        return float(v)
    except ValueError as exc:
        raise DecodeError("bad_value", f"{what} is {v!r}, not a number") from exc


def notification_events(
    device: str, note: pb.Notification, state: GnmiState, ts: float, source: str = "gnmi"
) -> list[Event]:
    """The events of one notification for ``device``, given (and updating) its state.

    ``ts`` is the notification's time in seconds (the caller falls back to arrival time when
    the target sent none)."""
    out: list[Event] = []
    cpu_seen = False
    for names, keys, value in flatten(note):
        leaf = LEAVES.get(names)
        if leaf is None:
            continue
        ent = keys.get(leaf.entity_key, "") if leaf.entity_key else ""
        if leaf.kind == "counter":
            out.extend(_counter(device, ent, leaf.name, _int(value, names), ts, state))
        elif leaf.kind in ("oper", "admin"):
            if not isinstance(value, str):
                raise DecodeError("bad_value", f"{names} is {value!r}, not an enum name")
            out.extend(_status(device, ent, leaf.kind, value.upper() == "UP", ts, state, source))
        elif leaf.kind == "speed_mbps":
            state.speed_bps[ent] = _num(value, names) * 1e6
        elif leaf.kind == "cpu":
            state.cpu[ent] = _num(value, names)
            cpu_seen = True
        elif leaf.kind == "bgp_state":
            out.extend(_bgp(device, ent, str(value).upper(), ts, state, source))
        else:
            state.inventory[leaf.name] = str(value)
    if cpu_seen and state.cpu:
        load = sum(state.cpu.values()) / len(state.cpu)
        out.append(Metric(ts=ts, device=device, name="cpu.util", value=load, unit="%"))
    return out


def _counter(
    device: str, ifname: str, name: str, value: int, ts: float, state: GnmiState
) -> list[Event]:
    prev = state.counters.get((ifname, name))
    state.counters[(ifname, name)] = (value, ts)
    if prev is None or ts <= prev[1]:
        return []
    delta = counter_delta(prev[0], value, 64, None)
    if delta is None:
        state.discontinuities += 1
        return []
    metric, unit, mult = RATE_METRICS[name]
    rate = delta * mult / (ts - prev[1])
    labels = {"interface": ifname}
    out: list[Event] = [
        Metric(ts=ts, device=device, name=metric, value=rate, unit=unit, labels=labels)
    ]
    speed = state.speed_bps.get(ifname, 0.0)
    util = UTIL_METRICS.get(metric)
    if util and speed > 0:
        out.append(
            Metric(ts=ts, device=device, name=util, value=rate / speed, unit="ratio", labels=labels)
        )
    return out


def _status(
    device: str, ifname: str, kind: str, up: bool, ts: float, state: GnmiState, source: str
) -> list[Event]:
    table = state.oper if kind == "oper" else state.admin
    before = table.get(ifname)
    table[ifname] = up
    if kind == "admin" or state.admin.get(ifname) is False:
        return []  # an operator's shutdown is not a fault
    out: list[Event] = [
        Metric(
            ts=ts,
            device=device,
            name="if.oper_status",
            value=float(up),
            labels={"interface": ifname},
        )
    ]
    if before is not None and before != up:
        kind_ = "link_up" if up else "link_down"
        entity = interface_id(device, ifname)
        out.append(DeviceEvent(ts=ts, device=device, kind=kind_, entity=entity, source=source))
    return out


def _bgp(
    device: str, neighbor: str, value: str, ts: float, state: GnmiState, source: str
) -> list[Event]:
    before = state.bgp.get(neighbor)
    state.bgp[neighbor] = value
    up = value == "ESTABLISHED"
    out: list[Event] = [
        Metric(
            ts=ts,
            device=device,
            name="bgp.session_up",
            value=float(up),
            labels={"neighbor": neighbor},
        )
    ]
    if before is not None and (before == "ESTABLISHED") != up:
        out.append(
            DeviceEvent(
                ts=ts,
                device=device,
                kind="bgp_up" if up else "bgp_down",
                entity=neighbor,
                source=source,
                attrs={"state": value, "previous": before},
            )
        )
    return out
