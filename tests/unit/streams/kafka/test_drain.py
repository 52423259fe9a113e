"""Draining waits through a lag query that timed out (a cluster node restarting on a loaded
machine), as it waits through a broker that is away, instead of failing the run."""

from __future__ import annotations

import asyncio
from typing import Any

from netvigil.streams.kafka.runtime import KafkaRuntime


class _Publisher:
    spooling = False

    def _flush_buffers(self) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {"in_flight": 0}


class _Runtime:
    """What ``KafkaRuntime.drain`` uses of a runtime; the first lag query times out."""

    def __init__(self) -> None:
        self.publisher = _Publisher()
        self.apps: list[Any] = []
        self.queries = 0

    def lag(self) -> dict[str, int]:
        self.queries += 1
        if self.queries == 1:
            raise TimeoutError
        return {"g": 0}


def test_a_lag_query_that_timed_out_is_waited_through() -> None:
    rt = _Runtime()
    assert asyncio.run(KafkaRuntime.drain(rt, timeout=30.0)) is True  # type: ignore[arg-type]
    assert rt.queries == 3  # the timed-out query, then two calm ones
