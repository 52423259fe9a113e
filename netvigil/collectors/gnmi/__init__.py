"""gNMI: Subscribe STREAM (SAMPLE / ON_CHANGE) and Get, with reconnect and TLS."""

from netvigil.collectors.gnmi.collector import GnmiCollector, GnmiTarget
from netvigil.collectors.gnmi.paths import SUBSCRIPTIONS, Subscription

__all__ = ["SUBSCRIPTIONS", "GnmiCollector", "GnmiTarget", "Subscription"]
