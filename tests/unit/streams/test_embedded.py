"""The embedded runtime: back-pressure, drain on shutdown, crash isolation, ordering, wiring."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from netvigil.errors import ProcessorError
from netvigil.events import Anomaly, DeadLetter, Event, Metric, decode
from netvigil.streams.base import Emit, Processor
from netvigil.streams.embedded import EmbeddedRuntime


def metric(i: int, device: str = "r1") -> Metric:
    return Metric(ts=float(i), device=device, name="x", value=float(i))


class Recorder(Processor[list[float]]):
    """Records values per key; optionally slow, optionally failing on some values."""

    name = "recorder"
    inputs = ("netvigil.metrics",)
    outputs = ("netvigil.anomalies",)

    def __init__(
        self, *, delay: float = 0.0, fail_on: set[float] | None = None, emit: bool = False
    ) -> None:
        self.delay = delay
        self.fail_on = fail_on or set()
        self.emit = emit
        self.seen: list[tuple[str, float]] = []

    def new_state(self) -> list[float]:
        return []

    async def process(self, event: Event, state: list[float]) -> Sequence[Event]:
        assert isinstance(event, Metric)
        if self.delay:
            await asyncio.sleep(self.delay)
        if event.value in self.fail_on:
            raise ValueError(f"cannot handle {event.value}")
        state.append(event.value)
        self.seen.append((event.device, event.value))
        if self.emit:
            return [
                Anomaly(
                    ts=event.ts,
                    device=event.device,
                    entity=event.device,
                    signal="x",
                    kind="deviation",
                    score=0.5,
                )
            ]
        return []


class Counter_(Processor[None]):
    name = "counter"
    inputs = ("netvigil.anomalies",)
    outputs = ()

    def __init__(self) -> None:
        self.n = 0

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        await asyncio.sleep(0)
        self.n += 1
        return []


class ListSource:
    name = "list"

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.sent = 0

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        for e in self.events:
            if stop.is_set():
                return
            await emit(e)
            self.sent += 1


async def test_back_pressure_bounds_what_is_in_flight() -> None:
    rec = Recorder(delay=0.001)
    rt = EmbeddedRuntime([rec], queue_size=4)
    stop = asyncio.Event()
    task = asyncio.create_task(rt.run(stop))
    lags = []
    for i in range(60):
        await rt.publish(metric(i))
        lags.append(rt.published["netvigil.metrics"] - len(rec.seen))
    stop.set()
    await task
    # the producer can never be more than the inbox plus the one event being processed ahead
    assert max(lags) <= 4 + 1
    assert max(lags) >= 4  # and the bound was actually reached: the producer did wait
    assert len(rec.seen) == 60


async def test_shutdown_drains_everything_in_flight_including_downstream() -> None:
    rec = Recorder(delay=0.0005, emit=True)
    counter = Counter_()
    src = ListSource([metric(i, f"r{i % 3}") for i in range(500)])
    rt = EmbeddedRuntime([rec, counter], [src], queue_size=16)
    stop = asyncio.Event()
    task = asyncio.create_task(rt.run(stop))
    while src.sent < 100:
        await asyncio.sleep(0.001)
    stop.set()  # stop mid-stream: the source stops, what was published is still handled
    await task
    assert src.sent < 500
    assert len(rec.seen) == src.sent
    assert counter.n == src.sent
    assert rt.stats()["queued"] == {"recorder": 0, "counter": 0}


async def test_a_failing_event_goes_to_the_dead_letter_topic_and_processing_goes_on() -> None:
    rec = Recorder(fail_on={3.0, 7.0})
    letters: list[DeadLetter] = []
    src = ListSource([metric(i) for i in range(10)])
    rt = EmbeddedRuntime([rec], [src])
    rt.listen("netvigil.dlq", lambda t, e: letters.append(e))  # type: ignore[arg-type]
    await rt.run()
    assert [v for _, v in rec.seen] == [0, 1, 2, 4, 5, 6, 8, 9]
    assert len(letters) == 2
    assert letters[0].source == "processor:recorder"
    assert "ValueError: cannot handle 3.0" in letters[0].reason
    assert letters[0].topic == "netvigil.metrics"
    assert decode(letters[0].raw) == metric(3)
    assert rt.failed["recorder"] == 2


async def test_undeclared_output_is_a_dead_letter_not_a_silent_publish() -> None:
    class Sneaky(Recorder):
        outputs = ()

    rec = Sneaky(emit=True)
    letters: list[Event] = []
    rt = EmbeddedRuntime([rec], [ListSource([metric(1)])])
    rt.listen("netvigil.dlq", lambda t, e: letters.append(e))
    await rt.run()
    assert len(letters) == 1 and "not in its outputs" in letters[0].reason  # type: ignore[attr-defined]
    assert rt.published["netvigil.anomalies"] == 0


async def test_per_key_order_and_state() -> None:
    rec = Recorder()
    events: list[Event] = [metric(i, f"r{i % 4}") for i in range(200)]
    rt = EmbeddedRuntime([rec], [ListSource(events)])
    await rt.run()
    states = rt.state("recorder")
    assert set(states) == {"r0", "r1", "r2", "r3"}
    for k, values in states.items():
        assert values == sorted(values)
        assert values == [float(i) for i in range(200) if f"r{i % 4}" == k]


class Overlapping(Recorder):
    """Partitions that overlap: an event of device ``rN`` belongs to keys ``N`` and ``N+1``;
    each state knows its key."""

    def keys(self, event: Event) -> Sequence[str]:
        assert isinstance(event, Metric)
        n = int(event.device[1:])
        return (str(n), str(n + 1))

    def new_state_for(self, key: str) -> list[float]:
        return [-float(key)]


async def test_an_event_of_several_keys_reaches_each_of_their_states_in_order() -> None:
    rec = Overlapping()
    events: list[Event] = [metric(i, f"r{i % 3}") for i in range(30)]
    rt = EmbeddedRuntime([rec], [ListSource(events)])
    await rt.run()
    states = rt.state("recorder")
    assert set(states) == {"0", "1", "2", "3"}
    for k, values in states.items():
        mine = [float(i) for i in range(30) if int(k) - 1 <= i % 3 <= int(k)]
        assert values == [-float(k), *mine]


def test_wiring_errors() -> None:
    class Bad(Recorder):
        inputs = ("netvigil.nope",)

    with pytest.raises(ProcessorError, match=r"unknown topic 'netvigil\.nope'"):
        EmbeddedRuntime([Bad()])
    with pytest.raises(ProcessorError, match="unique"):
        EmbeddedRuntime([Recorder(), Recorder()])

    class Loop(Recorder):
        name = "loop"
        inputs = ("netvigil.anomalies",)
        outputs = ("netvigil.metrics",)

    with pytest.raises(ProcessorError, match="cycle"):
        EmbeddedRuntime([Recorder(emit=True), Loop()])


async def test_a_failing_listener_does_not_break_the_data_path() -> None:
    rec = Recorder()
    rt = EmbeddedRuntime([rec], [ListSource([metric(1), metric(2)])])

    def boom(topic: str, event: Event) -> None:
        raise RuntimeError("observer bug")

    rt.listen("netvigil.metrics", boom)
    await rt.run()
    assert len(rec.seen) == 2
