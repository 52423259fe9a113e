"""Topology discovery: LLDP neighbour tables (from SNMP LLDP-MIB or gNMI openconfig-lldp, or
the twin) turned into graph changes with provenance and last-seen times."""
