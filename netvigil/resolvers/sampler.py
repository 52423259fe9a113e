"""The sampler: what the coordinator needs of the metrics stream, and nothing more.

The coordinator verifies a change on a few series (the link's ends, the congested interface)
and needs a clock that moves with the pipeline's event time (verification deadlines, lock
waits, polling the ticket system). Reading every metric for that, re-keyed to its single key,
would make the whole metrics stream one partition's work. The sampler runs beside the detector
on ``netvigil.metrics`` with its natural key (the device), so it scales with the metrics'
partitions; it reads ``netvigil.watches`` keyed the same way (same partition count, so a
device's watches and metrics meet in one worker) and writes to ``netvigil.samples``:

- every sample of a watched series until its watch lapses;
- a tick (a :class:`~netvigil.events.Sample` without a KPI) when a device's metrics have moved
  ``tick_s`` of event time past its previous tick: the coordinator's clock. Ticks travel after
  the metrics that made them, so the clock never runs ahead of what was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.events import Event, Metric, Sample, Watch
from netvigil.streams.base import Processor

__all__ = ["SamplerProcessor", "SamplerState"]


@dataclass
class SamplerState:
    """One device's watched series ((kpi, interface) -> lapse time) and last tick."""

    watches: dict[tuple[str, str], float] = field(default_factory=dict)
    last_tick: float = float("-inf")


class SamplerProcessor(Processor[SamplerState]):
    name = "sampler"
    inputs = ("netvigil.metrics", "netvigil.watches")
    outputs = ("netvigil.samples",)
    feedback = ("netvigil.watches",)

    def __init__(self, tick_s: float = 10.0) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.tick_s = tick_s

    def new_state(self) -> SamplerState:
        return SamplerState()

    async def process(self, event: Event, state: SamplerState) -> Sequence[Event]:
        if isinstance(event, Watch):
            key = (event.kpi, event.interface)
            state.watches[key] = max(state.watches.get(key, event.until), event.until)
            return []
        if not isinstance(event, Metric):
            return []
        out: list[Event] = []
        if state.watches:
            state.watches = {k: u for k, u in state.watches.items() if u >= event.ts}
            iface = event.labels.get("interface", "")
            if (event.name, iface) in state.watches:
                out.append(
                    Sample(
                        ts=event.ts,
                        device=event.device,
                        kpi=event.name,
                        interface=iface,
                        value=event.value,
                    )
                )
        if event.ts - state.last_tick >= self.tick_s:
            state.last_tick = event.ts
            out.append(Sample(ts=event.ts, device=event.device))
        return out
