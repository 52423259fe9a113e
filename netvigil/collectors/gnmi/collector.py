"""The gNMI collector: one long-lived Subscribe STREAM per target, with reconnect.

Per target: connect (plaintext ``insecure``, or TLS with a CA file, optional client
certificate and server-name override), Get the inventory (``GET_PATHS``; a target without
Get is fine), then Subscribe STREAM to :data:`~netvigil.collectors.gnmi.paths.SUBSCRIPTIONS`
(ON_CHANGE where the table says so; a target that refuses ON_CHANGE gets the same paths as
SAMPLE). When the session breaks or cannot be made, a ``unreachable`` device event
(``attrs.event = "target-down"``) is emitted once, and the collector retries with exponential
backoff and jitter; the first answer after that emits ``reachable`` (``target-up``).

The wire side uses grpc.aio with the gNMI protobufs and path parser that pygnmi ships, not
pygnmi's ``gNMIclient``: that client is synchronous (a thread per subscription that cannot
be cancelled), calls Capabilities on connect (some targets, e.g. OpenConfig's reference fake,
do not implement it), and its parser drops errors and mangles ``bytes``/leaf-list values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pygnmi.create_gnmi_path import gnmi_path_generator
from pygnmi.spec.v080 import gnmi_pb2 as pb
from pygnmi.spec.v080 import gnmi_pb2_grpc as pb_grpc

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.gnmi.decode import GnmiState, notification_events
from netvigil.collectors.gnmi.paths import GET_PATHS, SUBSCRIPTIONS, Subscription
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, Event
from netvigil.streams.base import Emit

__all__ = ["GnmiCollector", "GnmiTarget"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GnmiTarget:
    """One gNMI target. ``device``: its topology name (default: its hostname, else host)."""

    host: str
    port: int
    device: str = ""
    insecure: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str = ""
    username: str = ""
    password: str = ""
    paths: tuple[Subscription, ...] = SUBSCRIPTIONS
    sample_interval_s: float = 10.0
    get_inventory: bool = True

    @property
    def name(self) -> str:
        return self.device or self.host


@dataclass
class _Session:
    target: GnmiTarget
    state: GnmiState = field(default_factory=GnmiState)
    up: bool | None = None
    on_change: bool = True
    failures: int = 0
    device: str = ""

    @property
    def name(self) -> str:
        """The device name: configured, else the hostname the target reported, else host."""
        return self.target.device or self.device or self.target.host


def channel(target: GnmiTarget) -> grpc.aio.Channel:
    """A gRPC channel to the target: plaintext or TLS, per its settings."""
    address = f"{target.host}:{target.port}"
    if target.insecure:
        return grpc.aio.insecure_channel(address)
    creds = grpc.ssl_channel_credentials(
        root_certificates=target.ca_file.read_bytes() if target.ca_file else None,
        private_key=target.key_file.read_bytes() if target.key_file else None,
        certificate_chain=target.cert_file.read_bytes() if target.cert_file else None,
    )
    options = []
    if target.server_name:
        options.append(("grpc.ssl_target_name_override", target.server_name))
    return grpc.aio.secure_channel(address, creds, options=options)


def subscribe_request(target: GnmiTarget, on_change: bool) -> pb.SubscribeRequest:
    subs = []
    for s in target.paths:
        mode = pb.ON_CHANGE if (s.mode == "on_change" and on_change) else pb.SAMPLE
        subs.append(
            pb.Subscription(
                path=gnmi_path_generator(s.path),
                mode=mode,
                sample_interval=int(target.sample_interval_s * 1e9) if mode == pb.SAMPLE else 0,
            )
        )
    return pb.SubscribeRequest(
        subscribe=pb.SubscriptionList(
            subscription=subs, mode=pb.SubscriptionList.STREAM, encoding=pb.JSON_IETF
        )
    )


class GnmiCollector:
    """Streams telemetry from gNMI targets; emits metrics and device events."""

    name = "gnmi"

    def __init__(
        self,
        targets: Sequence[GnmiTarget],
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = [_Session(t) for t in targets]
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self.clock = clock
        self.counters = CollectorCounters()
        self.reconnects = 0
        self._rng = random.Random()

    def _meta(self, t: GnmiTarget) -> list[tuple[str, str]]:
        return [("username", t.username), ("password", t.password)] if t.username else []

    async def run(self, emit: Emit, stop: asyncio.Event, count: int | None = None) -> None:
        """Stream from every target until ``stop`` is set (or ``count`` notifications)."""
        tasks = [
            asyncio.create_task(self._target_loop(s, emit, stop, count)) for s in self.sessions
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _target_loop(
        self, s: _Session, emit: Emit, stop: asyncio.Event, count: int | None
    ) -> None:
        seen = [0]
        while not stop.is_set() and (count is None or seen[0] < count):
            try:
                await self._session(s, emit, stop, count, seen)
                if stop.is_set() or (count is not None and seen[0] >= count):
                    return
                reason = "stream ended"
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if (
                    s.on_change
                    and s.up is None
                    and code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED)
                ):
                    log.info("%s refuses ON_CHANGE (%s); subscribing with SAMPLE", s.name, code)
                    s.on_change = False
                    continue
                reason = f"{code.name}: {exc.details()}"
            except (OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            await self._down(s, emit, reason)
            s.failures += 1
            self.reconnects += 1
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(s.failures - 1, 16))
            delay *= self._rng.uniform(0.5, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _down(self, s: _Session, emit: Emit, reason: str) -> None:
        log.info("gNMI %s down: %s", s.name, reason)
        if s.up is False:
            return
        s.up = False
        await emit(
            DeviceEvent(
                ts=self.clock(),
                device=s.name,
                kind="unreachable",
                source="gnmi",
                attrs={
                    "event": "target-down",
                    "reason": reason[:500],
                    "target": f"{s.target.host}:{s.target.port}",
                },
            )
        )

    async def _up(self, s: _Session, emit: Emit) -> None:
        s.failures = 0
        if s.up is False:
            await emit(
                DeviceEvent(
                    ts=self.clock(),
                    device=s.name,
                    kind="reachable",
                    source="gnmi",
                    attrs={"event": "target-up", "target": f"{s.target.host}:{s.target.port}"},
                )
            )
        s.up = True

    async def _session(
        self, s: _Session, emit: Emit, stop: asyncio.Event, count: int | None, seen: list[int]
    ) -> None:
        t = s.target
        async with channel(t) as ch:
            await asyncio.wait_for(ch.channel_ready(), self.connect_timeout_s)
            stub = pb_grpc.gNMIStub(ch)
            if t.get_inventory:
                await self._inventory(s, stub, emit)
            call = stub.Subscribe(iter([subscribe_request(t, s.on_change)]), metadata=self._meta(t))
            stopper = asyncio.create_task(stop.wait())
            try:
                while True:
                    reader = asyncio.create_task(call.read())
                    done, _ = await asyncio.wait(
                        {reader, stopper}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if reader not in done:
                        reader.cancel()
                        call.cancel()
                        return
                    resp = reader.result()
                    if resp is grpc.aio.EOF:
                        return
                    await self._up(s, emit)
                    if resp.HasField("update"):
                        self.counters.received += 1
                        for event in self._decode(s, resp.update):
                            await emit(event)
                        seen[0] += 1
                        if count is not None and seen[0] >= count:
                            call.cancel()
                            return
            finally:
                stopper.cancel()

    async def _inventory(self, s: _Session, stub: Any, emit: Emit) -> None:
        t = s.target
        req = pb.GetRequest(path=[gnmi_path_generator(p) for p in GET_PATHS], encoding=pb.JSON_IETF)
        try:
            resp = await stub.Get(req, metadata=self._meta(t), timeout=self.connect_timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.UNIMPLEMENTED,
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.NOT_FOUND,
            ):
                log.info("%s: no inventory over Get (%s)", s.name, exc.code().name)
                return
            raise
        await self._up(s, emit)
        for note in resp.notification:
            self.counters.received += 1
            for event in self._decode(s, note):
                await emit(event)
        if s.state.inventory.get("hostname"):
            s.device = s.state.inventory["hostname"]
        if s.state.inventory:
            await emit(
                DeviceEvent(
                    ts=self.clock(),
                    device=s.name,
                    kind="inventory",
                    source="gnmi",
                    attrs=dict(sorted(s.state.inventory.items())),
                )
            )

    def _decode(self, s: _Session, note: pb.Notification) -> list[Event]:
        ts = note.timestamp / 1e9 if note.timestamp else self.clock()
        try:
            events = notification_events(s.name, note, s.state, ts)
        except DecodeError as exc:
            return [
                dead_letter(
                    f"gnmi:{s.target.host}:{s.target.port}",
                    note.SerializeToString(),
                    str(exc),
                    self.clock(),
                    self.counters,
                )
            ]
        self.counters.decoded += len(events)
        return events
