"""A local emulator of the ServiceNow REST APIs NetVigil uses (Table API, Change Management
API, attachments), for tests and demos where no instance is reachable. It is not part of the
service: nothing under ``netvigil/`` imports it but the tests, benchmarks and the
``python -m netvigil.resolvers.tickets.emulator.server`` command."""
