"""The Kafka runtime: what the rest of NetVigil may use of it.

The service picks it by the bus URL's scheme (``kafka://``) and the CLI's Kafka commands call
it; both import it only when they need it, and so does this module: the names below load
their submodule (and confluent-kafka with it) on first use, so ``import netvigil.streams.kafka``
costs nothing at start-up. The modules inside are the runtime's own: ``runtime`` (the
runtime), ``loop`` (each processor's consume-process-produce loop), ``keyed`` (per-key state,
buffers, progress), ``progress`` (watermarks across workers), ``reorder`` (event-time
buffers), ``producer`` and ``spool`` (sources' publishing), ``wire`` (the record format),
``admin`` (topics, offsets, lag) and ``replay`` (reading a recorded range back).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netvigil.streams.kafka.admin import (
        bootstrap_of,
        create_topics,
        describe_topics,
        group_lag,
    )
    from netvigil.streams.kafka.replay import read_range
    from netvigil.streams.kafka.runtime import KafkaRuntime

__all__ = [
    "KafkaRuntime",
    "bootstrap_of",
    "create_topics",
    "describe_topics",
    "group_lag",
    "read_range",
]

_HOME = {
    "KafkaRuntime": "runtime",
    "bootstrap_of": "admin",
    "create_topics": "admin",
    "describe_topics": "admin",
    "group_lag": "admin",
    "read_range": "replay",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
