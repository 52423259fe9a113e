"""SNMP: a poller (v2c/v3, GETBULK walks, counters as rates, LLDP) and a trap receiver."""

from netvigil.collectors.snmp.client import Credentials
from netvigil.collectors.snmp.poller import SnmpPoller, SnmpTarget
from netvigil.collectors.snmp.traps import TrapReceiver, V3User

__all__ = ["Credentials", "SnmpPoller", "SnmpTarget", "TrapReceiver", "V3User"]
