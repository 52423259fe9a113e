"""A real routed network on one Linux machine: NetVigil's proving ground.

FRRouting routers in network namespaces, joined by shaped veth pairs, each with net-snmp's
``snmpd`` (IF-MIB, HOST-RESOURCES, LLDP-MIB through ``lldpd``), flow export (``softflowd``)
and logs to NetVigil's collectors; traffic from the twin's gravity model; faults with ground
truth. ``plan`` and ``render`` are pure; ``system`` is the thin I/O; ``runner`` builds and
removes the lab; ``traffic`` is the traffic generator's process.
"""

from __future__ import annotations

__all__: list[str] = []
