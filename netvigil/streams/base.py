"""The processor interface: every stream processor is written once, against this.

A processor declares the topics it reads and writes, how it partitions its input (``key``),
how to create the state of a new key (``new_state``), and an async ``process`` step that takes
one event and that key's state (mutated in place) and returns the events it produces. Where an
event belongs to several partitions, ``keys`` names them all, and ``new_state_for`` makes a
state that knows its own key.

Runtimes (the embedded bus, Kafka) own ordering per key, state storage, back-pressure,
crash isolation and shutdown; processors own nothing but their logic. Processors use event
time (``event.ts``), never the wall clock.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from netvigil.events import Event, key_of

__all__ = ["Emit", "Listener", "Processor", "Runtime", "Source"]

S = TypeVar("S")

Emit = Callable[[Event], Awaitable[None]]
"""Publish one event to its topic; awaiting it is how back-pressure reaches a producer."""

Listener = Callable[[str, Event], None]
"""A synchronous observer of a topic (the console, the demo scoreboard, metrics)."""


class Processor(ABC, Generic[S]):
    """One concern of the pipeline: reads topics, keeps per-key state, emits events."""

    #: unique name; also the consumer group on Kafka
    name: str = ""
    #: topics read
    inputs: tuple[str, ...] = ()
    #: topics written (besides the dead-letter topic); the runtime enforces it
    outputs: tuple[str, ...] = ()
    #: inputs that come back from downstream (a low-volume back edge, such as the
    #: coordinator's watches to the sampler): not back-pressured, so they close no cycle
    feedback: tuple[str, ...] = ()

    def key(self, event: Event) -> str:
        """The state partition of an event; by default the key of its topic."""
        return key_of(event)

    def keys(self, event: Event) -> Sequence[str]:
        """Every state partition an event goes to, each handled on its own (default: its
        one :meth:`key`). A processor whose partitions overlap (the correlator's regions
        and their halos) returns more than one; runtimes hand the event to each in order."""
        return (self.key(event),)

    @abstractmethod
    def new_state(self) -> S:
        """The state of a key seen for the first time."""

    def new_state_for(self, key: str) -> S:
        """The state of ``key`` seen for the first time, for a processor whose state needs
        to know its partition (default: :meth:`new_state`). Runtimes call this one."""
        return self.new_state()

    @abstractmethod
    async def process(self, event: Event, state: S) -> Sequence[Event]:
        """Handle one event with its key's state; return the events to publish."""


class Source(Protocol):
    """Something that produces events from outside: a collector, the twin."""

    name: str

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Produce events until ``stop`` is set (or the source is exhausted), then return."""
        ...


class Runtime(Protocol):
    """What the service needs of a runtime (the embedded bus, Kafka): run the processors and
    sources, let observers watch topics, take events from outside, report counters."""

    source_errors: dict[str, BaseException]
    """Sources that raised (by name): a source that fails stops the run."""

    def listen(self, topic: str, listener: Listener) -> None:
        """Call ``listener`` with every event of ``topic`` that passes through this process."""
        ...

    async def publish(self, event: Event) -> None:
        """Publish one event to its topic (waits while the bus is full)."""
        ...

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or every source is exhausted), then drain and stop."""
        ...

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters by kind (``published``, ``processed``, ``failed``, ``queued``, ...)."""
        ...
