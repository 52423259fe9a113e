"""What to ask an SNMP agent and what its answers mean: OID maps as data tables.

Vendor knowledge lives here as data, never as ``if vendor == ...`` branches: adding a CPU MIB
or a trap is a new row. OIDs are tuples of ints; names follow the MIB objects they come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "CPU_SOURCES",
    "IF_COLUMNS",
    "IF_OPER_STATUS",
    "LLDP_LOC_COLUMNS",
    "LLDP_REM_COLUMNS",
    "SNMP_TRAP_OID",
    "SYSTEM_SCALARS",
    "SYS_UPTIME_VB",
    "TRAP_KINDS",
    "CpuSource",
    "Oid",
    "oid",
    "oid_str",
]

Oid = tuple[int, ...]


def oid(dotted: str) -> Oid:
    """``"1.3.6.1"`` (a leading dot is allowed) as a tuple of ints."""
    return tuple(int(p) for p in dotted.strip(".").split("."))


def oid_str(o: Oid) -> str:
    return ".".join(str(p) for p in o)


# ------------------------------------------------------------------ SNMPv2-MIB system group

SYSTEM_SCALARS: Final[dict[str, Oid]] = {
    "sysDescr": oid("1.3.6.1.2.1.1.1.0"),
    "sysObjectID": oid("1.3.6.1.2.1.1.2.0"),
    "sysUpTime": oid("1.3.6.1.2.1.1.3.0"),
    "sysName": oid("1.3.6.1.2.1.1.5.0"),
}

# ------------------------------------------------------------------ IF-MIB (ifTable, ifXTable)

#: column name -> column OID (the row index, ifIndex, follows it)
IF_COLUMNS: Final[dict[str, Oid]] = {
    "ifDescr": oid("1.3.6.1.2.1.2.2.1.2"),
    "ifSpeed": oid("1.3.6.1.2.1.2.2.1.5"),
    "ifAdminStatus": oid("1.3.6.1.2.1.2.2.1.7"),
    "ifOperStatus": oid("1.3.6.1.2.1.2.2.1.8"),
    "ifInOctets": oid("1.3.6.1.2.1.2.2.1.10"),
    "ifInDiscards": oid("1.3.6.1.2.1.2.2.1.13"),
    "ifInErrors": oid("1.3.6.1.2.1.2.2.1.14"),
    "ifOutOctets": oid("1.3.6.1.2.1.2.2.1.16"),
    "ifOutDiscards": oid("1.3.6.1.2.1.2.2.1.19"),
    "ifOutErrors": oid("1.3.6.1.2.1.2.2.1.20"),
    "ifName": oid("1.3.6.1.2.1.31.1.1.1.1"),
    "ifHCInOctets": oid("1.3.6.1.2.1.31.1.1.1.6"),
    "ifHCOutOctets": oid("1.3.6.1.2.1.31.1.1.1.10"),
    "ifHighSpeed": oid("1.3.6.1.2.1.31.1.1.1.15"),
    "ifAlias": oid("1.3.6.1.2.1.31.1.1.1.18"),
    "ifCounterDiscontinuityTime": oid("1.3.6.1.2.1.31.1.1.1.19"),
}

#: ifOperStatus values (IF-MIB) -> name; only ``up`` counts as up
IF_OPER_STATUS: Final[dict[int, str]] = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}

# ------------------------------------------------------------------ CPU


@dataclass(frozen=True)
class CpuSource:
    """Where a device family reports CPU load, and how to read it.

    ``percent``: each row of ``columns[0]`` is a load in percent; the device's value is the mean.
    ``ucd_ticks``: net-snmp's raw tick counters; load = 1 - d(idle) / d(sum of all), in percent.
    """

    name: str
    kind: str
    columns: tuple[Oid, ...]


CPU_SOURCES: Final[tuple[CpuSource, ...]] = (
    # HOST-RESOURCES-MIB hrProcessorLoad (most servers, many switches)
    CpuSource("hrProcessorLoad", "percent", (oid("1.3.6.1.2.1.25.3.3.1.2"),)),
    # CISCO-PROCESS-MIB cpmCPUTotal1minRev
    CpuSource("cpmCPUTotal1minRev", "percent", (oid("1.3.6.1.4.1.9.9.109.1.1.1.1.7"),)),
    # JUNIPER-MIB jnxOperatingCPU (per component; components without a CPU report 0)
    CpuSource("jnxOperatingCPU", "percent", (oid("1.3.6.1.4.1.2636.3.1.13.1.8"),)),
    # UCD-SNMP-MIB raw ticks (net-snmp agents): user, nice, system, idle, wait, interrupt,
    # softirq; idle is the fourth
    CpuSource(
        "ssCpuRaw",
        "ucd_ticks",
        tuple(oid(f"1.3.6.1.4.1.2021.11.{c}.0") for c in (50, 51, 52, 53, 54, 56, 61)),
    ),
)
UCD_IDLE_POSITION: Final = 3

# ------------------------------------------------------------------ LLDP-MIB (IEEE 802.1AB)

#: lldpLocPortTable, indexed by lldpLocPortNum
LLDP_LOC_COLUMNS: Final[dict[str, Oid]] = {
    "lldpLocPortIdSubtype": oid("1.0.8802.1.1.2.1.3.7.1.2"),
    "lldpLocPortId": oid("1.0.8802.1.1.2.1.3.7.1.3"),
    "lldpLocPortDesc": oid("1.0.8802.1.1.2.1.3.7.1.4"),
}
#: lldpRemTable, indexed by lldpRemTimeMark.lldpRemLocalPortNum.lldpRemIndex
LLDP_REM_COLUMNS: Final[dict[str, Oid]] = {
    "lldpRemChassisIdSubtype": oid("1.0.8802.1.1.2.1.4.1.1.4"),
    "lldpRemChassisId": oid("1.0.8802.1.1.2.1.4.1.1.5"),
    "lldpRemPortIdSubtype": oid("1.0.8802.1.1.2.1.4.1.1.6"),
    "lldpRemPortId": oid("1.0.8802.1.1.2.1.4.1.1.7"),
    "lldpRemPortDesc": oid("1.0.8802.1.1.2.1.4.1.1.8"),
    "lldpRemSysName": oid("1.0.8802.1.1.2.1.4.1.1.9"),
}

# ------------------------------------------------------------------ notifications

SYS_UPTIME_VB: Final = oid("1.3.6.1.2.1.1.3.0")
SNMP_TRAP_OID: Final = oid("1.3.6.1.6.3.1.1.4.1.0")


@dataclass(frozen=True)
class TrapKind:
    """A notification NetVigil understands: its event kind, and what its varbinds name.

    ``entity_columns``: a varbind whose OID starts with one of these columns carries the
    row index (e.g. ifIndex) after it; ``name_columns`` give the entity's name (and index).
    """

    kind: str
    entity_columns: tuple[Oid, ...] = ()
    name_columns: tuple[Oid, ...] = ()


_IF_NAMES = (IF_COLUMNS["ifName"], IF_COLUMNS["ifDescr"])
_IF_ROW = (oid("1.3.6.1.2.1.2.2.1.1"), IF_COLUMNS["ifAdminStatus"], IF_COLUMNS["ifOperStatus"])
_BGP_PEER = (oid("1.3.6.1.2.1.15.3.1.14"), oid("1.3.6.1.2.1.15.3.1.2"))

#: snmpTrapOID value -> what it means; anything else becomes kind ``trap`` with its OID
TRAP_KINDS: Final[dict[Oid, TrapKind]] = {
    oid("1.3.6.1.6.3.1.1.5.1"): TrapKind("cold_start"),
    oid("1.3.6.1.6.3.1.1.5.2"): TrapKind("warm_start"),
    oid("1.3.6.1.6.3.1.1.5.3"): TrapKind("link_down", _IF_ROW, _IF_NAMES),
    oid("1.3.6.1.6.3.1.1.5.4"): TrapKind("link_up", _IF_ROW, _IF_NAMES),
    oid("1.3.6.1.6.3.1.1.5.5"): TrapKind("authentication_failure"),
    # BGP4-MIB bgpEstablished / bgpBackwardTransition (peer address is the row index)
    oid("1.3.6.1.2.1.15.7.1"): TrapKind("bgp_up", _BGP_PEER),
    oid("1.3.6.1.2.1.15.7.2"): TrapKind("bgp_down", _BGP_PEER),
    # BGP4-V2 (RFC 4273) bgpEstablishedNotification / bgpBackwardTransNotification
    oid("1.3.6.1.2.1.15.0.1"): TrapKind("bgp_up", _BGP_PEER),
    oid("1.3.6.1.2.1.15.0.2"): TrapKind("bgp_down", _BGP_PEER),
    # ENTITY-MIB entConfigChange
    oid("1.3.6.1.2.1.47.2.0.1"): TrapKind("config_change"),
}
