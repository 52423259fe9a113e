"""The SNMP poller: a Collector that polls many agents on schedule, each on its own.

Scheduling is APScheduler's (``AsyncIOScheduler``, one interval job per target with
``jitter`` so thousands of targets do not fire in the same second). Isolation: every poll
runs under a per-target deadline (``timeout_s``, covering all its requests) and a global
concurrency limit (a semaphore), so a slow or dead agent costs one slot for at most its
deadline and never delays the others; ``max_instances=1`` with ``coalesce`` means a target
whose poll overruns skips a turn instead of piling up (counted in ``skipped``).

A poll is one GET (system scalars, and net-snmp CPU ticks while unknown) and one GETBULK walk
of every column wanted (IF-MIB, LLDP-MIB, CPU tables) at once; the answer becomes events in
:func:`~netvigil.collectors.snmp.rates.poll_events`. A target that fails ``down_after``
polls in a row is ``unreachable`` (a device event), and ``reachable`` again on its next answer.
Answers that do not decode become dead letters with the reason; the poller goes on.

Its own health (:mod:`~netvigil.collectors.snmp.health`): when many targets time out or have
polls skipped within one interval, the poller is overloaded, not the network; each
``unreachable`` verdict given then is marked ``poller_overload`` (and the correlator opens no
incident on it alone). In :meth:`run`, an ``unreachable`` verdict waits ``confirm_s`` before
it is published, so that the first targets of a burst are judged with the ones that follow;
the poller's failures, skips and overload episodes are metrics (``readings``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

import msgspec
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from netvigil.collectors.base import CollectorCounters, dead_letter
from netvigil.collectors.snmp.client import Credentials, SnmpClient, SnmpError
from netvigil.collectors.snmp.health import PollHealth
from netvigil.collectors.snmp.mib import TableWalk, cpu_percent, display, interfaces, lldp_neighbors
from netvigil.collectors.snmp.oids import (
    CPU_SOURCES,
    IF_COLUMNS,
    LLDP_LOC_COLUMNS,
    LLDP_REM_COLUMNS,
    SYSTEM_SCALARS,
    CpuSource,
    Oid,
)
from netvigil.collectors.snmp.rates import Poll, PollState, poll_events
from netvigil.errors import ConfigError, DecodeError
from netvigil.events import POLLER_OVERLOAD, DeviceEvent, Event
from netvigil.streams.base import Emit
from netvigil.streams.meters import EDGE, EdgeMeters, Reading

__all__ = ["SnmpPoller", "SnmpTarget"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnmpTarget:
    """One agent to poll. ``device`` is its topology name (default: its sysName, else host)."""

    host: str
    port: int = 161
    credentials: Credentials = field(default_factory=Credentials)
    device: str = ""
    lldp: bool = True

    @property
    def key(self) -> str:
        """Unique per poller: the device name if given, else ``host:port``."""
        return self.device or f"{self.host}:{self.port}"


_UNKNOWN = CpuSource("unknown", "unknown", ())


@dataclass
class _TargetState:
    target: SnmpTarget
    client: SnmpClient
    poll: PollState = field(default_factory=PollState)
    device: str = ""
    reachable: bool | None = None
    failures: int = 0
    cpu: CpuSource | None = _UNKNOWN
    cpu_ticks: list[int] | None = None


class SnmpPoller:
    """Polls SNMP agents on schedule; emits metrics (rates) and device events."""

    name = "snmp"

    def __init__(
        self,
        targets: Sequence[SnmpTarget],
        *,
        interval_s: float = 60.0,
        jitter_s: float | None = None,
        timeout_s: float = 10.0,
        request_timeout_s: float = 2.0,
        retries: int = 1,
        max_concurrency: int = 64,
        max_repetitions: int = 10,
        down_after: int = 1,
        confirm_s: float | None = None,
        clock: Callable[[], float] = time.time,
        meters: EdgeMeters = EDGE,
    ) -> None:
        self.interval_s = interval_s
        self.jitter_s = interval_s / 10 if jitter_s is None else jitter_s
        self.timeout_s = timeout_s
        self.down_after = down_after
        self.clock = clock
        self.counters = CollectorCounters()
        self.errors: Counter[str] = Counter()
        self.skipped = 0
        self.confirm_s = min(interval_s / 2, 10.0) if confirm_s is None else confirm_s
        """Seconds an ``unreachable`` verdict waits in :meth:`run` before it is published."""
        self.health = PollHealth(targets=len(targets), window_s=interval_s)
        self._sem = asyncio.Semaphore(max_concurrency)
        self._engines: dict[Credentials, SnmpEngine] = {}
        self._targets: dict[str, _TargetState] = {}
        for t in targets:
            if t.key in self._targets:
                raise ConfigError(f"SNMP target {t.key} is listed twice; give each a device name")
            engine = self._engines.get(t.credentials)
            if engine is None:
                engine = self._engines[t.credentials] = SnmpEngine()
            client = SnmpClient(
                engine,
                t.host,
                t.port,
                t.credentials,
                timeout=request_timeout_s,
                retries=retries,
                max_repetitions=max_repetitions,
            )
            self._targets[t.key] = _TargetState(t, client, device=t.device)
        meters.add(self)

    def readings(self) -> Iterator[Reading]:
        yield from self.counters.readings(self.name)
        yield from self.health.readings()

    # ------------------------------------------------------------------ one poll

    async def poll_once(self, target: SnmpTarget | str) -> list[Event]:
        """Poll one target now (under the concurrency limit and deadline); its events."""
        st = self._targets[target if isinstance(target, str) else target.key]
        async with self._sem:
            try:
                poll: Poll | None = await asyncio.wait_for(self._read(st), self.timeout_s)
                bad = None
            except (SnmpError, TimeoutError) as exc:
                return self._failed(st, exc)
            except _Undecodable as exc:
                poll, bad = None, exc
        self.counters.received += 1
        events: list[Event] = []
        if st.reachable is False:
            events.append(
                DeviceEvent(
                    ts=self.clock(), device=st.device, kind="reachable", source="snmp-poller"
                )
            )
        st.reachable, st.failures = True, 0
        if bad is not None:
            self.errors[bad.error.reason] += 1
            raw = json.dumps({"target": st.target.key, "rows": bad.rows}).encode()
            events.append(
                dead_letter(
                    f"snmp:{st.target.key}", raw, str(bad.error), self.clock(), self.counters
                )
            )
            return events
        assert poll is not None
        decoded = poll_events(st.device, poll, st.poll)
        self.counters.decoded += len(decoded)
        return events + decoded

    def _failed(self, st: _TargetState, exc: Exception) -> list[Event]:
        reason = exc.reason if isinstance(exc, SnmpError) else "deadline"
        self.errors[reason] += 1
        now = self.clock()
        self.health.failure(st.target.key, reason, now)
        st.failures += 1
        log.info("snmp poll of %s failed: %s", st.target.key, exc or reason)
        if st.reachable is False or st.failures < self.down_after:
            return []
        st.reachable = False
        return [
            self._marked(
                DeviceEvent(
                    ts=now,
                    device=st.device or st.target.host,
                    kind="unreachable",
                    source="snmp-poller",
                    attrs={"reason": reason, "target": f"{st.target.host}:{st.target.port}"},
                ),
                now,
            )
        ]

    def _marked(self, event: DeviceEvent, now: float) -> DeviceEvent:
        """``event`` (an unreachable verdict) marked as the poller's own if it is overloaded."""
        if event.attrs.get(POLLER_OVERLOAD) or not self.health.overloaded(now):
            return event
        late = self.health.late_targets(now)
        attrs = {**event.attrs, POLLER_OVERLOAD: f"{late} of {self.health.targets} targets late"}
        return msgspec.structs.replace(event, attrs=attrs)

    async def _read(self, st: _TargetState) -> Poll:
        client = st.client
        ucd = next(s for s in CPU_SOURCES if s.kind == "ucd_ticks")
        want_ticks = st.cpu is _UNKNOWN or st.cpu is ucd
        scalars = list(SYSTEM_SCALARS.values()) + (list(ucd.columns) if want_ticks else [])
        got = await client.get(scalars)
        sys_name = display(got.get(SYSTEM_SCALARS["sysName"]))
        uptime = got.get(SYSTEM_SCALARS["sysUpTime"])
        if not st.device:
            st.device = st.target.device or sys_name or st.target.host
        tables: list[tuple[str, list[Oid]]] = [("if", list(IF_COLUMNS.values()))]
        if st.target.lldp:
            tables += [
                ("lldp_loc", list(LLDP_LOC_COLUMNS.values())),
                ("lldp_rem", list(LLDP_REM_COLUMNS.values())),
            ]
        percent = [s for s in CPU_SOURCES if s.kind == "percent"]
        if st.cpu is _UNKNOWN:
            tables += [(s.name, list(s.columns)) for s in percent]
        elif st.cpu is not None and st.cpu.kind == "percent":
            tables.append((st.cpu.name, list(st.cpu.columns)))
        columns = [c for _, cols in tables for c in cols]
        walk = await client.walk(columns)
        ts = self.clock()
        rows = _split(walk, tables)
        try:
            ifs = interfaces(rows["if"])
            neighbors = None
            if st.target.lldp:
                names = [s.name for s in ifs.values()]
                neighbors = lldp_neighbors(rows["lldp_loc"], rows["lldp_rem"], names)
            cpu = self._cpu(st, rows, [got.get(o) for o in ucd.columns], ucd)
        except DecodeError as exc:
            raise _Undecodable(exc, walk) from exc
        return Poll(
            ts=ts,
            uptime_cs=uptime if isinstance(uptime, int) else None,
            interfaces=ifs,
            cpu=cpu,
            neighbors=neighbors,
            sys_name=sys_name,
        )

    def _cpu(
        self,
        st: _TargetState,
        rows: dict[str, dict[Oid, dict[int, Any]]],
        ticks: list[Any],
        ucd: CpuSource,
    ) -> float | None:
        if st.cpu is _UNKNOWN:
            st.cpu = None
            for s in CPU_SOURCES:
                if s.kind == "percent" and rows.get(s.name):
                    st.cpu = s
                    break
            else:
                if all(isinstance(v, int) for v in ticks):
                    st.cpu = ucd
        if st.cpu is None:
            return None
        if st.cpu.kind == "percent":
            values = [r.get(0) for r in rows.get(st.cpu.name, {}).values()]
            return cpu_percent(st.cpu, values)[0] if values else None
        load, st.cpu_ticks = cpu_percent(ucd, ticks, st.cpu_ticks)
        return load

    # ------------------------------------------------------------------ the schedule

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Poll every target every ``interval_s`` (± ``jitter_s``) until ``stop`` is set."""
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        in_flight: set[asyncio.Task[None]] = set()

        async def job(st: _TargetState) -> None:
            task = asyncio.current_task()
            if task is not None:
                in_flight.add(task)
            try:
                for event in await self.poll_once(st.target.key):
                    if _unreachable(event) and self.confirm_s > 0:
                        held = asyncio.create_task(confirm(event))
                        in_flight.add(held)
                        held.add_done_callback(in_flight.discard)
                        continue
                    await emit(event)
            finally:
                if task is not None:
                    in_flight.discard(task)

        async def confirm(event: DeviceEvent) -> None:
            await asyncio.sleep(self.confirm_s)
            await emit(self._marked(event, self.clock()))

        def missed(event: Any) -> None:
            self.skipped += 1
            self.health.skip(str(getattr(event, "job_id", "")), self.clock())

        scheduler.add_listener(missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        now = time.time()
        rng = random.Random()
        for key, st in self._targets.items():
            first = now + rng.uniform(0, min(self.jitter_s, self.interval_s))
            scheduler.add_job(
                job,
                "interval",
                args=[st],
                id=key,
                seconds=self.interval_s,
                jitter=self.jitter_s or None,
                next_run_time=datetime.fromtimestamp(first, UTC),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(self.interval_s)),
            )
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.pause()  # no new polls; the ones in flight finish (within timeout_s)
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            scheduler.shutdown(wait=False)
            self.close()

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close_dispatcher()


def _unreachable(event: Event) -> TypeGuard[DeviceEvent]:
    return isinstance(event, DeviceEvent) and event.kind == "unreachable"


class _Undecodable(Exception):
    def __init__(self, error: DecodeError, walk: TableWalk) -> None:
        super().__init__(str(error))
        self.error = error
        self.rows = [
            [list(k), {str(c): repr(v) for c, v in r.items()}] for k, r in walk.rows.items()
        ][:200]


def _split(
    walk: TableWalk, tables: list[tuple[str, list[Oid]]]
) -> dict[str, dict[Oid, dict[int, Any]]]:
    """The walk's rows, per table, with column positions relative to that table."""
    out: dict[str, dict[Oid, dict[int, Any]]] = {}
    start = 0
    for name, cols in tables:
        end = start + len(cols)
        table: dict[Oid, dict[int, Any]] = {}
        for index, row in walk.rows.items():
            sub = {c - start: v for c, v in row.items() if start <= c < end}
            if sub:
                table[index] = sub
        out[name] = table
        start = end
    return out
