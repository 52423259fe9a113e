"""Fixtures of the resolver integration tests: the twin serving gNMI (shared with the twin's)."""

from tests.integration.twin.test_gnmi import twin  # noqa: F401
