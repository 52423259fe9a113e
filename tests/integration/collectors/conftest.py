"""Helpers for collector tests against real peers: run a collector, wait for what it emits."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from netvigil.events import Event


def need(tool: str) -> str:
    """The path of a peer program the project installs (scripts/system-deps.sh)."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(
            f"{tool} is not installed: run scripts/system-deps.sh (scripts/apt-packages.txt)"
        )
    return path


class Sink:
    """Collects emitted events; ``wait`` until a predicate holds (or time out)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    async def wait(self, ok: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not ok():
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def running(collector: Any) -> AsyncIterator[Sink]:
    """Run ``collector`` until the block ends, then stop it and wait for it to finish."""
    sink = Sink()
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(sink.emit, stop))
    await asyncio.wait_for(collector.ready.wait(), 10)
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def run_peer(*argv: str, timeout: float = 30.0) -> str:
    """Run a peer program to completion; its combined output (fails the test if it fails)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{argv[0]} exited {proc.returncode}: {text}"
    return text
