"""The embedded runtime: an in-process bus with bounded inboxes and back-pressure.

Each processor gets one bounded inbox and one task, so events of one key are handled in the
order they were published. Publishing awaits room in every subscriber's inbox: a slow
processor slows its producers instead of growing memory. An event that makes a processor raise
goes to the dead-letter topic with the error; the processor goes on. Shutdown stops the sources
first, then drains every inbox (including what draining produces) before stopping processors.
A source that raises (a collector that cannot bind its port) stops the run: the error is kept
in ``source_errors`` for the caller to report, rather than the service running without it.

Processors must not form a cycle (under back-pressure it could deadlock), except through a
processor's declared ``feedback`` inputs: a low-volume topic that comes back from downstream
(the coordinator's watches to the sampler). Those events are never waited for: when the inbox
is full they wait beside it, and the processor takes them after its current event.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.errors import ProcessorError
from netvigil.events import TOPICS, DeadLetter, Event, encode, topic_of
from netvigil.streams.base import Listener, Processor, Source

__all__ = ["EmbeddedRuntime"]

log = logging.getLogger(__name__)

DLQ = "netvigil.dlq"


@dataclass
class _Worker:
    proc: Processor[Any]
    inbox: asyncio.Queue[tuple[str, Event]]
    side: deque[tuple[str, Event]] = field(default_factory=deque)
    """Feedback events that found the inbox full."""
    states: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class EmbeddedRuntime:
    """Runs processors and sources in one event loop, with no external servers."""

    def __init__(
        self,
        processors: Sequence[Processor[Any]],
        sources: Sequence[Source] = (),
        *,
        queue_size: int = 2048,
    ) -> None:
        names = [p.name for p in processors]
        if len(set(names)) != len(names) or not all(names):
            raise ProcessorError(f"processor names must be unique and non-empty: {names}")
        self._workers: list[_Worker] = []
        self._subs: dict[str, list[_Worker]] = {t: [] for t in TOPICS}
        for p in processors:
            for t in (*p.inputs, *p.outputs):
                if t not in TOPICS:
                    raise ProcessorError(f"processor {p.name!r} names unknown topic {t!r}")
            w = _Worker(p, asyncio.Queue(maxsize=queue_size))
            self._workers.append(w)
            for t in p.inputs:
                self._subs[t].append(w)
        self._check_acyclic()
        self._sources = list(sources)
        self._listeners: dict[str, list[Listener]] = {t: [] for t in TOPICS}
        self.published: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.source_errors: dict[str, BaseException] = {}
        """Sources that raised, by name; each one stopped the run."""

    # ------------------------------------------------------------------ wiring

    def _check_acyclic(self) -> None:
        """Back-pressure on a cycle could deadlock: refuse processors that form one (feedback
        inputs are not back-pressured, so they close no cycle)."""
        graph = {
            w.proc.name: {
                s.proc.name
                for t in w.proc.outputs
                for s in self._subs[t]
                if t not in s.proc.feedback
            }
            for w in self._workers
        }
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(n: str, path: list[str]) -> None:
            if n in done:
                return
            if n in visiting:
                raise ProcessorError(f"processors form a cycle: {' -> '.join([*path, n])}")
            visiting.add(n)
            for m in sorted(graph[n]):
                visit(m, [*path, n])
            visiting.discard(n)
            done.add(n)

        for n in graph:
            visit(n, [])

    def listen(self, topic: str, listener: Listener) -> None:
        """Call ``listener(topic, event)`` for every event published on ``topic``."""
        if topic not in TOPICS:
            raise ProcessorError(f"unknown topic {topic!r}")
        self._listeners[topic].append(listener)

    def state(self, processor: str) -> dict[str, Any]:
        """The per-key state of a processor (for inspection and tests)."""
        for w in self._workers:
            if w.proc.name == processor:
                return w.states
        raise ProcessorError(f"no processor named {processor!r}")

    # ------------------------------------------------------------------ data path

    async def publish(self, event: Event) -> None:
        """Publish an event to its topic; waits while any subscriber's inbox is full."""
        topic = topic_of(event)
        self.published[topic] += 1
        for listener in self._listeners[topic]:
            try:
                listener(topic, event)
            except Exception:  # an observer must never break the data path
                log.exception("listener on %s failed", topic)
        for w in self._subs[topic]:
            if topic not in w.proc.feedback:
                await w.inbox.put((topic, event))
            elif w.inbox.full():
                w.side.append((topic, event))
            else:
                w.inbox.put_nowait((topic, event))

    async def _work(self, w: _Worker) -> None:
        while True:
            topic, event = await w.inbox.get()
            try:
                await self._handle(w, topic, event)
                while w.side:  # before task_done: drain() waits for these too
                    await self._handle(w, *w.side.popleft())
            finally:
                w.inbox.task_done()

    async def _handle(self, w: _Worker, topic: str, event: Event) -> None:
        proc = w.proc
        try:
            outputs: list[Event] = []
            for key in proc.keys(event):
                state = w.states.get(key)
                if state is None:
                    state = w.states[key] = proc.new_state_for(key)
                outputs += await proc.process(event, state)
            for out in outputs:
                if topic_of(out) not in proc.outputs:
                    raise ProcessorError(
                        f"{proc.name} emitted to {topic_of(out)}, not in its outputs"
                    )
            for out in outputs:
                await self.publish(out)
            self.processed[proc.name] += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed[proc.name] += 1
            log.warning("processor %s failed on %s: %r", proc.name, topic, exc)
            await self.publish(_dead_letter(proc.name, topic, event, exc))

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or every source has finished; then drain and return."""
        stop = stop or asyncio.Event()
        for w in self._workers:
            w.task = asyncio.create_task(self._work(w), name=f"processor:{w.proc.name}")
        src_tasks = [
            asyncio.create_task(s.run(self.publish, stop), name=f"source:{s.name}")
            for s in self._sources
        ]
        stopper = asyncio.create_task(stop.wait())
        try:
            pending = {*src_tasks, stopper}
            while pending - {stopper}:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done - {stopper}:
                    if (exc := t.exception()) is not None:
                        # a source that raised is dead: stop, rather than run without it
                        log.error("%s failed: %r", t.get_name(), exc)
                        self.source_errors[t.get_name().removeprefix("source:")] = exc
                        stop.set()
                if stopper in done:
                    break
            if not src_tasks:
                await stop.wait()
        finally:
            stop.set()  # tell the remaining sources to finish
            stopper.cancel()
            await asyncio.gather(*src_tasks, return_exceptions=True)
            await self.drain()
            for w in self._workers:
                if w.task:
                    w.task.cancel()
            await asyncio.gather(*(w.task for w in self._workers if w.task), return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every inbox is empty and no processor is busy."""
        while True:
            for w in self._workers:
                await w.inbox.join()
            if all(w.inbox.empty() for w in self._workers):
                return

    def stats(self) -> dict[str, dict[str, Any]]:
        return {
            "published": dict(self.published),
            "processed": dict(self.processed),
            "failed": dict(self.failed),
            "queued": {w.proc.name: w.inbox.qsize() for w in self._workers},
        }


def _dead_letter(proc: str, topic: str, event: Event, exc: BaseException) -> DeadLetter:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    try:
        raw = encode(event)
    except Exception:  # an event that cannot even be encoded is kept as its repr
        raw = repr(event).encode()
    return DeadLetter(
        ts=event.ts,
        source=f"processor:{proc}",
        reason=f"{type(exc).__name__}: {exc}{at}",
        raw=raw,
        topic=topic,
    )
