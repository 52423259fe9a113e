"""The twin as a source of telemetry on the bus, on a simulated clock.

In this first slice the twin publishes what collectors would produce (metrics, oper-status
events, poller reachability) straight onto the bus. Its protocol endpoints (gNMI, SNMP, syslog,
IPFIX) are the twin issue's work; then collectors sit between the twin and the bus.

Time never goes backwards for a real network, and a deployment keeps its clock in its state
(the correlator's newest anomaly, the coordinator's incident revisions, on Kafka the state
changelogs). So a twin run over a data directory that a twin run used before resumes after
the simulated time that run reached (:func:`resume_point`), instead of replaying its epoch:
its faults are new faults, at new times, and open new incidents. The twin writes, to
``DATA/twin-clock.json``, a simulated time it will not pass before writing again (``ahead_s``
ahead, so a write every ``ahead_s`` simulated seconds, whatever the speed); a clean stop
writes the exact next step. After ``kill -9`` the next run starts at most ``ahead_s`` later
than where the killed one stopped, as if the network had run on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from netvigil.errors import NetVigilError
from netvigil.events import Event
from netvigil.streams.base import Emit
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork

__all__ = ["CLOCK_FILE", "SIM_EPOCH", "TwinSource", "resume_point"]

#: simulated time starts here (2026-01-05 00:00 UTC) unless told otherwise
SIM_EPOCH = 1767571200.0

#: where a twin run keeps, in its data directory, the simulated time the next run starts at
CLOCK_FILE = "twin-clock.json"


def resume_point(data_dir: Path, step_s: float) -> float:
    """Where a twin run over ``data_dir`` starts: :data:`SIM_EPOCH` for a directory no twin
    ran over, otherwise the simulated time the last run saved (on the step grid from the
    epoch, so runs keep one grid). A file that cannot be read is an error, not a silent
    replay from the epoch."""
    path = Path(data_dir) / CLOCK_FILE
    if not path.exists():
        return SIM_EPOCH
    try:
        saved = float(json.loads(path.read_text())["next"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NetVigilError(
            f"{path} is not a twin clock ({exc!r}); remove it to start at the epoch"
        ) from None
    steps = math.ceil(round((saved - SIM_EPOCH) / step_s, 6))
    return SIM_EPOCH + max(steps, 0) * step_s


@dataclass
class TwinSource:
    """Steps the twin's network every ``step_s`` simulated seconds and publishes telemetry.

    ``speed`` is simulated seconds per wall-clock second; 0 runs as fast as the pipeline takes
    it (back-pressure paces the twin). ``until`` (simulated) ends the run; None runs forever.
    """

    network: TwinNetwork
    step_s: float = 10.0
    speed: float = 0.0
    start: float = SIM_EPOCH
    until: float | None = None
    on_fault: Callable[[str, Fault, float], None] | None = None
    """Called with ("injected" | "cleared", fault, sim time) as faults begin and end."""
    observers: list[Callable[[Event], None]] = field(default_factory=list)
    """Called with every event the network produces (e.g. the twin's protocol endpoints)."""
    step_hooks: list[Callable[[float], None]] = field(default_factory=list)
    """Called with the simulated time after each step (e.g. flow export)."""
    async_step_hooks: list[Callable[[float, Emit], Awaitable[None]]] = field(default_factory=list)
    """Awaited with the simulated time and the bus after each step, before the next one (the
    twin's services probe on the twin's clock: ``twin/services.py``)."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Awaited once when the run ends (servers the hooks started)."""
    publish: bool = True
    """Publish events on the bus; False when collectors read the twin through its protocols."""
    loss: float = 0.0
    """Share of published events lost on the way (UDP telemetry, traps), drawn per event."""
    loss_seed: int = 0
    pace: Callable[[], Awaitable[None]] | None = None
    """Awaited after each step (e.g. the embedded runtime's ``drain``): the pipeline has then
    handled step t before the twin computes the next, so event time and twin time agree as
    they do in real time, and a change made in reaction to step t shows from the next step."""
    name: str = "twin"
    clock_file: Path | None = None
    """Where the simulated time the next run starts at is kept (see the module docstring);
    None: nowhere."""
    ahead_s: float = 600.0
    now: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.now = self.start
        self._lossy = random.Random(self.loss_seed)
        self._saved = float("-inf")
        self._stepped = False

    def _save_clock(self, next_start: float) -> None:
        if self.clock_file is None:
            return
        tmp = self.clock_file.with_name(self.clock_file.name + ".tmp")
        tmp.write_text(json.dumps({"next": next_start}))
        os.replace(tmp, self.clock_file)

    def _ahead(self, t: float) -> None:
        """Before step ``t`` is published: the saved time is past it."""
        if t >= self._saved:
            self._saved = t + self.ahead_s
            self._save_clock(self._saved)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        try:
            await self._run(emit, stop)
        finally:
            if self._stepped:  # the next run starts after the last step taken
                self._save_clock(self.now + self.step_s)
            for close in self.closers:
                await close()

    async def _run(self, emit: Emit, stop: asyncio.Event) -> None:
        wall0 = time.monotonic()
        active: set[Fault] = set()
        t = self.start
        while not stop.is_set() and (self.until is None or t <= self.until):
            self._ahead(t)
            self.now, self._stepped = t, True
            current = set(self.network.active_faults(t))
            if self.on_fault:
                for f in sorted(current - active, key=lambda f: f.start):
                    self.on_fault("injected", f, t)
                for f in sorted(active - current, key=lambda f: f.start):
                    self.on_fault("cleared", f, t)
            active = current
            for event in self.network.step(t):
                for observe in self.observers:
                    observe(event)
                if self.publish and not (self.loss and self._lossy.random() < self.loss):
                    await emit(event)
            for hook in self.step_hooks:
                hook(t)
            for ahook in self.async_step_hooks:
                await ahook(t, emit)
            if self.pace is not None:
                await self.pace()
            t += self.step_s
            if self.speed > 0:
                due = wall0 + (t - self.start) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    continue
            # behind schedule (or as fast as possible): still yield once per step, so that
            # signal handlers, senders and servers on this loop are never starved
            await asyncio.sleep(0)
