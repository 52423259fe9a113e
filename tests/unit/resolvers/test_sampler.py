"""The sampler forwards only the series the coordinator watches, and ticks its clock; the
sampler-coordinator loop (watches back, samples forth) runs on the embedded runtime without
deadlocking, even when the sampler's inbox is full."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from netvigil.errors import ProcessorError
from netvigil.events import Event, Metric, Sample, Watch
from netvigil.resolvers.sampler import SamplerProcessor, SamplerState
from netvigil.streams.base import Emit, Processor
from netvigil.streams.embedded import EmbeddedRuntime


def util(ts: float, iface: str = "1", device: str = "a") -> Metric:
    return Metric(
        ts=ts, device=device, name="if.out_util", value=ts / 1000, labels={"interface": iface}
    )


async def _feed(proc: SamplerProcessor, state: SamplerState, events: list[Event]) -> list[Sample]:
    out: list[Sample] = []
    for e in events:
        out += [s for s in await proc.process(e, state) if isinstance(s, Sample)]
    return out


async def test_only_watched_series_pass_until_their_watch_lapses() -> None:
    proc, state = SamplerProcessor(tick_s=1000), SamplerState()
    out = await _feed(proc, state, [util(0), util(10, "2")])
    assert [s.tick for s in out] == [True]  # the first metric ticks; nothing is watched
    watch = Watch(ts=10, device="a", kpi="if.out_util", interface="1", until=40)
    out = await _feed(proc, state, [watch, util(20), util(20, "2"), util(40), util(50)])
    assert [(s.ts, s.interface, s.value) for s in out] == [(20, "1", 0.02), (40, "1", 0.04)]
    assert state.watches == {}  # lapsed at 50


async def test_ticks_follow_event_time_per_device() -> None:
    proc, state = SamplerProcessor(tick_s=30), SamplerState()
    out = await _feed(proc, state, [util(t) for t in (0, 10, 20, 30, 40, 60, 65, 95)])
    assert [s.ts for s in out if s.tick] == [0, 30, 60, 95]


class Coordinatorish(Processor[None]):
    """Watches every metric's series it sees a sample of: a busy back edge."""

    name = "coordinatorish"
    inputs = ("netvigil.samples",)
    outputs = ("netvigil.watches",)

    def __init__(self) -> None:
        self.samples = 0

    def key(self, event: Event) -> str:
        return "one"

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        assert isinstance(event, Sample)
        self.samples += 1
        await asyncio.sleep(0)
        return [
            Watch(ts=event.ts, device=event.device, kpi="if.out_util", interface="1", until=1e9)
        ]


class Source:
    name = "metrics"

    def __init__(self, n: int) -> None:
        self.n = n

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        for i in range(self.n):
            await emit(util(float(i), device=f"d{i % 7}"))


async def test_the_feedback_loop_drains_with_tiny_inboxes() -> None:
    coord = Coordinatorish()
    rt = EmbeddedRuntime([SamplerProcessor(tick_s=1), coord], [Source(3000)], queue_size=2)
    await asyncio.wait_for(rt.run(), timeout=60)
    assert rt.stats()["failed"] == {}
    assert coord.samples > 3000  # ticks, then every metric once its series was watched


def test_a_back_edge_not_declared_as_feedback_is_a_cycle() -> None:
    class Undeclared(SamplerProcessor):
        name = "undeclared"
        feedback = ()

    with pytest.raises(ProcessorError, match="cycle"):
        EmbeddedRuntime([Undeclared(), Coordinatorish()])
