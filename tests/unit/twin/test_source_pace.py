"""The twin source can wait for the pipeline after each step (no simulated lag)."""

from __future__ import annotations

import asyncio

from netvigil.events import Event
from netvigil.graph.importers import load_topology
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH, TwinSource


def test_pace_is_awaited_after_every_step_before_the_next() -> None:
    log: list[tuple[str, float]] = []
    src = TwinSource(TwinNetwork(load_topology(None), seed=1), step_s=60, until=SIM_EPOCH + 180)

    async def emit(event: Event) -> None:
        if not log or log[-1] != ("step", event.ts):
            log.append(("step", event.ts))

    async def pace() -> None:
        await asyncio.sleep(0)
        log.append(("paced", src.now))

    src.pace = pace
    asyncio.run(src.run(emit, asyncio.Event()))
    times = [SIM_EPOCH + 60 * i for i in range(4)]
    assert log == [entry for t in times for entry in (("step", t), ("paced", t))]
