"""The gNMI collector against the twin's gNMI endpoints, through the CLI and a cut link."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from netvigil.collectors.gnmi import GnmiCollector, GnmiTarget
from netvigil.events import DeviceEvent, Event, Metric

from .conftest import netvigil

pytestmark = pytest.mark.integration


def test_cli_streams_counters_as_rates(twin: dict[str, tuple[str, int]]) -> None:
    host, port = twin["core1"]
    r = netvigil(
        "collect",
        "gnmi",
        "--target",
        f"{host}:{port}",
        "--insecure",
        "--path",
        "/interfaces/interface/state/counters",
        "--count",
        "3",
        "--interval",
        "1",
        timeout=90,
    )
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    inventory = [e for e in events if e.get("kind") == "inventory"]
    assert inventory and inventory[0]["attrs"]["hostname"] == "core1"
    out_bps = [e for e in events if e.get("name") == "if.out_bps"]
    assert out_bps and all(e["device"] == "core1" and e["unit"] == "bps" for e in out_bps)
    assert any(e["value"] > 0 for e in out_bps)  # the twin carries traffic on every link
    assert any(e.get("name") == "if.out_util" and 0 < e["value"] < 1.5 for e in events)


class _Cuttable:
    """A TCP relay in front of a target, whose link the test can cut and restore."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.server: asyncio.AbstractServer | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(*self.upstream)
        self.writers += [w, uw]
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()


def test_reconnects_with_target_down_and_up_events(twin: dict[str, tuple[str, int]]) -> None:
    async def scenario() -> list[Event]:
        relay = _Cuttable(twin["core2"])
        await relay.up()
        collector = GnmiCollector(
            [
                GnmiTarget(
                    "127.0.0.1", relay.port, device="core2", insecure=True, sample_interval_s=1
                )
            ],
            backoff_s=0.2,
            max_backoff_s=1.0,
            connect_timeout_s=2,
        )
        out: list[Event] = []

        async def emit(e: Event) -> None:
            out.append(e)

        async def wait_for(pred: object, timeout: float = 30) -> None:
            deadline = time.monotonic() + timeout
            while not any(pred(e) for e in out):  # type: ignore[operator]
                assert time.monotonic() < deadline, [type(e).__name__ for e in out][-5:]
                await asyncio.sleep(0.1)

        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(emit, stop))
        await wait_for(lambda e: isinstance(e, Metric) and e.name == "if.out_bps")
        await relay.cut()
        await wait_for(lambda e: isinstance(e, DeviceEvent) and e.kind == "unreachable")
        await asyncio.sleep(1.5)  # a few failed reconnects: still one target-down event
        n = len(out)
        await relay.up()
        await wait_for(lambda e: isinstance(e, DeviceEvent) and e.kind == "reachable")
        await wait_for(lambda e: out.index(e) > n and isinstance(e, Metric))
        stop.set()
        await task
        return out

    events = asyncio.run(scenario())
    transitions = [
        (e.kind, e.attrs.get("event"))
        for e in events
        if isinstance(e, DeviceEvent) and e.kind in ("unreachable", "reachable")
    ]
    assert transitions == [("unreachable", "target-down"), ("reachable", "target-up")]
