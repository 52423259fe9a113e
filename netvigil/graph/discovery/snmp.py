"""LLDP neighbours over SNMP: a GETBULK walk of LLDP-MIB with pysnmp, and its pure parser.

The walk (thin I/O) collects the LLDP-MIB subtree; :func:`parse_lldp` (pure, fuzzed) turns the
varbinds into the device's system name and its :class:`~netvigil.graph.discovery.lldp.Neighbor`
rows. Remote ports are taken from ``lldpRemPortId`` when it names an interface
(subtypes interfaceName(5) or local(7)), else from ``lldpRemPortDesc``, which most vendors set
to the interface name. OIDs are data (:data:`OIDS`), not code.
"""

from __future__ import annotations

from collections.abc import Mapping

from netvigil.errors import DecodeError
from netvigil.graph.discovery.lldp import Neighbor

__all__ = ["LLDP_MIB", "OIDS", "parse_lldp", "walk_lldp"]

LLDP_MIB = (1, 0, 8802, 1, 1, 2)
OIDS: dict[str, tuple[int, ...]] = {
    "lldpLocSysName": (*LLDP_MIB, 1, 3, 3, 0),
    "lldpLocPortEntry": (*LLDP_MIB, 1, 3, 7, 1),
    "lldpRemEntry": (*LLDP_MIB, 1, 4, 1, 1),
}
_LOC_PORT_ID = 3
_REM_PORT_SUBTYPE, _REM_PORT_ID, _REM_PORT_DESC, _REM_SYSNAME = 6, 7, 8, 9
_NAMED_SUBTYPES = {5, 7}

Value = str | int | bytes


def _plain(value: object) -> Value:
    """A varbind value as octets, an integer, or (an OID value, e.g. lldpd's
    ``lldpRemManAddrOID``) dotted text."""
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets())
    from pyasn1.type import univ

    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(p) for p in value)
    return int(str(value))


def _text(v: Value) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


def parse_lldp(varbinds: Mapping[tuple[int, ...], Value]) -> tuple[str, list[Neighbor]]:
    """The local system name and neighbour rows of one LLDP-MIB walk.

    Raises :class:`DecodeError` (``no_lldp``, ``bad_index``) when the walk is not LLDP-MIB data
    a neighbour table can be built from.
    """
    sysname = ""
    local: dict[int, str] = {}
    remote: dict[tuple[int, int, int], dict[int, Value]] = {}
    loc_port, rem = OIDS["lldpLocPortEntry"], OIDS["lldpRemEntry"]
    for oid, value in varbinds.items():
        if oid == OIDS["lldpLocSysName"]:
            sysname = _text(value)
        elif oid[: len(loc_port)] == loc_port and len(oid) == len(loc_port) + 2:
            if oid[len(loc_port)] == _LOC_PORT_ID:
                local[oid[-1]] = _text(value)
        elif oid[: len(rem)] == rem:
            tail = oid[len(rem) :]
            if len(tail) != 4:
                raise DecodeError("bad_index", f"lldpRemTable OID {oid} needs column + 3 indexes")
            col, idx = tail[0], (tail[1], tail[2], tail[3])
            remote.setdefault(idx, {})[col] = value
    if not sysname and not remote:
        raise DecodeError("no_lldp", "the agent returned no LLDP-MIB data (lldpLocSysName)")
    rows = []
    for (_, port_num, _), cols in sorted(remote.items()):
        system = _text(cols.get(_REM_SYSNAME, "")).strip()
        subtype = cols.get(_REM_PORT_SUBTYPE)
        try:
            named = int(subtype) in _NAMED_SUBTYPES if subtype is not None else False
        except ValueError:
            named = False
        port = _text(cols.get(_REM_PORT_ID if named else _REM_PORT_DESC, "")).strip()
        if not port:
            port = _text(cols.get(_REM_PORT_ID, "")).strip()
        local_port = local.get(port_num, str(port_num))
        if system and port and ":" not in system and "--" not in system:
            rows.append(Neighbor(local_port=local_port, remote_system=system, remote_port=port))
    return sysname, rows


async def walk_lldp(
    host: str,
    port: int = 161,
    *,
    community: str = "public",
    timeout: float = 2.0,
    retries: int = 1,
) -> tuple[str, list[Neighbor]]:
    """Walk LLDP-MIB on one agent (SNMP v2c, GETBULK) and parse it."""
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        bulk_walk_cmd,
    )

    engine = SnmpEngine()
    target = await UdpTransportTarget.create((host, port), timeout=timeout, retries=retries)
    found: dict[tuple[int, ...], Value] = {}
    try:
        async for err, status, _index, binds in bulk_walk_cmd(
            engine,
            CommunityData(community, mpModel=1),
            target,
            ContextData(),
            0,
            25,
            ObjectType(ObjectIdentity(".".join(map(str, LLDP_MIB)))),
            lexicographicMode=False,
            lookupMib=False,
        ):
            if err:
                raise DecodeError("snmp_error", f"{host}:{port}: {err}")
            if status:
                raise DecodeError("snmp_error", f"{host}:{port}: {status.prettyPrint()}")
            for oid, value in binds:
                found[tuple(oid)] = _plain(value)
    finally:
        engine.close_dispatcher()
    return parse_lldp(found)
