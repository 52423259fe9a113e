"""Provisioning of the real servers the tests and the README's test command run against.

Kafka and Neo4j come from Maven Central as jars; net-snmp, rsyslog, softflowd and kcat from
Debian's packages (``scripts/apt-packages.txt``); gNMI tools from the Go module proxy. Nothing
uses Docker or any download outside the package registries.
"""
