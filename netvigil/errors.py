"""The one exception root of NetVigil.

Every error NetVigil raises on purpose derives from :class:`NetVigilError`, and each message
says what went wrong *and* what to do about it. Library exceptions (msgspec, pydantic, drivers)
are translated into these at one boundary each, never leaked to callers.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "EventDecodeError",
    "GraphUnavailable",
    "NetVigilError",
    "ProcessorError",
    "TopologyError",
]


class NetVigilError(Exception):
    """Base class of every error NetVigil raises on purpose."""


class ConfigError(NetVigilError):
    """The configuration is invalid; the message names the setting and the fix."""


class EventDecodeError(NetVigilError):
    """Bytes could not be decoded as a NetVigil event (garbage, wrong type, unknown version)."""


class DecodeError(NetVigilError):
    """Raw input from a device (packet, log line, PDU) could not be decoded.

    ``reason`` is a short stable code for counters and dead letters (``truncated``,
    ``bad_version``, ``unknown_template``, ...); the message says what was wrong.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class ProcessorError(NetVigilError):
    """A stream processor is wired wrongly (unknown topic, duplicate name, cycle)."""


class TopologyError(NetVigilError):
    """A topology file or query is invalid (unknown entity, malformed file)."""


class GraphUnavailable(TopologyError):
    """The topology store's server could not be reached (or refused us) after retries."""
