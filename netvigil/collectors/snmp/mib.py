"""Pure decoding of SNMP answers: GETBULK table walks, IF-MIB rows, CPU, LLDP neighbours.

Everything here is a function of the varbinds an agent returned (OIDs as tuples of ints,
values already converted to Python by :func:`to_python`): no sockets, no clock. Agents are
not trusted: a column that leaves its subtree ends, an OID that does not increase ends the
column (a broken agent must not loop us forever), a table longer than ``max_rows`` is cut,
and malformed values raise :class:`~netvigil.errors.DecodeError` with a stable reason.

Written here rather than taken from pysnmp's ``bulk_walk_cmd`` because that walks a single
column per request; walking all columns of a table in one GETBULK stream is several times
fewer round trips, and that is what keeps a poll of a big switch inside its timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905

from netvigil.collectors.snmp.oids import (
    IF_COLUMNS,
    LLDP_LOC_COLUMNS,
    LLDP_REM_COLUMNS,
    UCD_IDLE_POSITION,
    CpuSource,
    Oid,
)
from netvigil.errors import DecodeError

__all__ = [
    "IfSample",
    "Neighbor",
    "TableWalk",
    "Value",
    "cpu_percent",
    "display",
    "interfaces",
    "lldp_neighbors",
    "to_python",
]

Value = int | bytes | str | Oid | None
"""A varbind value in Python: integers, octets, dotted IP strings, OIDs; None = absent."""
Varbind = tuple[Oid, Value]


def to_python(value: Any) -> Value:
    """A pysnmp/pyasn1 value as plain Python; exceptions (noSuchObject, endOfMibView) as None."""
    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)):
        return None
    if isinstance(value, univ.Null):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(int(p) for p in value)
    if isinstance(value, univ.Integer):
        return int(value)
    raise DecodeError("bad_value", f"unexpected SNMP value type {type(value).__name__}")


def display(value: Value) -> str:
    """Octets as text when they are printable UTF-8, else as colon-separated hex (MACs)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return ":".join(f"{b:02x}" for b in value)
        text = text.rstrip("\x00")
        if text.isprintable():
            return text
        return ":".join(f"{b:02x}" for b in value)
    if isinstance(value, tuple):
        return ".".join(str(p) for p in value)
    return str(value)


# ------------------------------------------------------------------ table walks


@dataclass
class TableWalk:
    """The state of a GETBULK walk of several columns at once.

    ``request()`` gives the OIDs to send (one per column still open), ``feed()`` takes the
    agent's answer (rows of those columns, interleaved as RFC 3416 lays them out).
    """

    columns: Sequence[Oid]
    max_rows: int = 10_000
    rows: dict[Oid, dict[int, Value]] = field(default_factory=dict)
    cursor: list[Oid | None] = field(default_factory=list)
    truncated: bool = False
    broken: bool = False
    """The agent returned a non-increasing OID (a known agent bug); the column was ended."""

    def __post_init__(self) -> None:
        if not self.cursor:
            self.cursor = list(self.columns)

    @property
    def done(self) -> bool:
        return all(c is None for c in self.cursor)

    def request(self) -> list[Oid]:
        return [c for c in self.cursor if c is not None]

    def feed(self, varbinds: Sequence[Varbind]) -> None:
        """Take one GETBULK answer to :meth:`request` (``non-repeaters`` = 0)."""
        open_cols = [i for i, c in enumerate(self.cursor) if c is not None]
        if not open_cols:
            return
        if not varbinds:  # an empty answer can only mean there is nothing more
            self.cursor = [None] * len(self.cursor)
            return
        width = len(open_cols)
        for n, (name, value) in enumerate(varbinds):
            col = open_cols[n % width]
            last = self.cursor[col]
            if last is None:
                continue
            root = self.columns[col]
            if value is None or name[: len(root)] != root or len(name) == len(root):
                self.cursor[col] = None
                continue
            if name <= last:
                self.broken = True
                self.cursor[col] = None
                continue
            index = name[len(root) :]
            row = self.rows.get(index)
            if row is None:
                if len(self.rows) >= self.max_rows:
                    self.truncated = True
                    self.cursor = [None] * len(self.cursor)
                    return
                row = self.rows[index] = {}
            row[col] = value
            self.cursor[col] = name


def _column_rows(walk_rows: Mapping[Oid, Mapping[int, Value]], names: Sequence[str]) -> Any:
    return [({names[c]: v for c, v in cols.items()}, index) for index, cols in walk_rows.items()]


# ------------------------------------------------------------------ IF-MIB


@dataclass(frozen=True)
class IfSample:
    """One interface at one poll. Counters are raw (cumulative) values with their width."""

    index: int
    name: str
    oper_up: bool | None
    admin_up: bool | None
    speed_bps: float
    counters: dict[str, tuple[int, int]]
    """E.g. ``{"in_octets": (value, 64), "out_discards": (value, 32)}``."""
    discontinuity: int | None = None


def _int(row: Mapping[str, Value], key: str) -> int | None:
    v = row.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or v < 0:
        raise DecodeError("bad_value", f"{key} is {v!r}, not a non-negative integer")
    return v


_COUNTERS = (
    # event name, 64-bit column, 32-bit column
    ("in_octets", "ifHCInOctets", "ifInOctets"),
    ("out_octets", "ifHCOutOctets", "ifOutOctets"),
    ("in_discards", None, "ifInDiscards"),
    ("out_discards", None, "ifOutDiscards"),
    ("in_errors", None, "ifInErrors"),
    ("out_errors", None, "ifOutErrors"),
)


def interfaces(rows: Mapping[Oid, Mapping[int, Value]]) -> dict[int, IfSample]:
    """IF-MIB rows of a walk of :data:`IF_COLUMNS` (in that order), by ifIndex."""
    names = list(IF_COLUMNS)
    out: dict[int, IfSample] = {}
    for row, index in _column_rows(rows, names):
        if len(index) != 1:
            raise DecodeError("bad_index", f"IF-MIB row index {index} is not one ifIndex")
        if_index = index[0]
        name = display(row.get("ifName")) or display(row.get("ifDescr")) or f"ifIndex{if_index}"
        oper = _int(row, "ifOperStatus")
        admin = _int(row, "ifAdminStatus")
        # ifSpeed is exact below its 32-bit ceiling; ifHighSpeed counts whole Mbit/s, so a
        # 2.5 Mbit/s link reads as 2 there (RFC 2863: use ifHighSpeed above 4.29 Gbit/s)
        high = _int(row, "ifHighSpeed")
        if_speed = _int(row, "ifSpeed")
        if if_speed and if_speed < 2**32 - 1:
            speed = float(if_speed)
        else:
            speed = float(high) * 1e6 if high else float(if_speed or 0)
        counters: dict[str, tuple[int, int]] = {}
        for key, hc, low in _COUNTERS:
            v = _int(row, hc) if hc else None
            if v is not None:
                counters[key] = (v, 64)
                continue
            v = _int(row, low)
            if v is not None:
                counters[key] = (v, 32)
        out[if_index] = IfSample(
            index=if_index,
            name=name,
            oper_up=None if oper is None else oper == 1,
            admin_up=None if admin is None else admin == 1,
            speed_bps=speed,
            counters=counters,
            discontinuity=_int(row, "ifCounterDiscontinuityTime"),
        )
    return out


# ------------------------------------------------------------------ CPU


def cpu_percent(
    source: CpuSource,
    values: Sequence[Value],
    previous: Sequence[int] | None = None,
) -> tuple[float | None, list[int]]:
    """The device's CPU load in percent from one source's values, and what to keep.

    ``percent`` sources: the mean of the rows. ``ucd_ticks``: needs the previous ticks; the
    first poll gives None. Returns ``(load, state_to_pass_next_time)``.
    """
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if len(ints) != len(values) or not ints:
        raise DecodeError("bad_value", f"{source.name}: expected integers, got {values!r}")
    if source.kind == "percent":
        load = sum(ints) / len(ints)
        if not 0 <= load <= 100:
            raise DecodeError("bad_value", f"{source.name}: load {load} outside 0-100")
        return load, []
    if previous is None or len(previous) != len(ints):
        return None, ints
    deltas = [(c - p) % 2**32 for c, p in zip(ints, previous, strict=True)]
    total = sum(deltas)
    if total <= 0:
        return None, ints
    idle = deltas[UCD_IDLE_POSITION]
    return round(100.0 * (1 - idle / total), 2), ints


# ------------------------------------------------------------------ LLDP-MIB


@dataclass(frozen=True)
class Neighbor:
    """One LLDP neighbour seen on a local port."""

    local_port: str
    remote_device: str
    remote_port: str
    chassis_id: str
    remote_port_desc: str = ""

    def attrs(self) -> dict[str, str]:
        return {
            "local_port": self.local_port,
            "remote_device": self.remote_device,
            "remote_port": self.remote_port,
            "chassis_id": self.chassis_id,
            "remote_port_desc": self.remote_port_desc,
        }


def lldp_neighbors(
    loc_rows: Mapping[Oid, Mapping[int, Value]],
    rem_rows: Mapping[Oid, Mapping[int, Value]],
    ifnames: Iterable[str] = (),
) -> list[Neighbor]:
    """Neighbours from walks of :data:`LLDP_LOC_COLUMNS` and :data:`LLDP_REM_COLUMNS`.

    The local port is named as the interface is in IF-MIB when the agent's port id or
    description matches an ifName; else by the port's own id (agents differ here).
    """
    known = set(ifnames)
    local: dict[int, str] = {}
    for row, index in _column_rows(loc_rows, list(LLDP_LOC_COLUMNS)):
        if len(index) != 1:
            raise DecodeError("bad_index", f"lldpLocPortTable index {index} is not a port")
        port_id = display(row.get("lldpLocPortId"))
        desc = display(row.get("lldpLocPortDesc"))
        local[index[0]] = next(
            (n for n in (port_id, desc) if n and n in known), port_id or desc or str(index[0])
        )
    out = []
    for row, index in _column_rows(rem_rows, list(LLDP_REM_COLUMNS)):
        if len(index) != 3:
            raise DecodeError("bad_index", f"lldpRemTable index {index} is not 3 parts")
        port_num = index[1]
        chassis = display(row.get("lldpRemChassisId"))
        out.append(
            Neighbor(
                local_port=local.get(port_num, str(port_num)),
                remote_device=display(row.get("lldpRemSysName")) or chassis,
                remote_port=display(row.get("lldpRemPortId")),
                chassis_id=chassis,
                remote_port_desc=display(row.get("lldpRemPortDesc")),
            )
        )
    return sorted(out, key=lambda n: (n.local_port, n.remote_device, n.remote_port))
