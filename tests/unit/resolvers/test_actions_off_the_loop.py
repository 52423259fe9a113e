"""Executors run off the event loop with a deadline: a device that hangs never stalls the
coordinator; the action times out, keeps its lock and is escalated to a human."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from netvigil.config import load_settings
from netvigil.events import (
    ActionRequest,
    ActionResult,
    AnomalyRef,
    AuditRecord,
    Event,
    Incident,
    RootCause,
    Sample,
    Watch,
)
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Lease, Op
from netvigil.resolvers.calls import Calls
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.executors.registry import NoExecutor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets

T0 = 1_767_571_200.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Device:
    """An executor over devices: those named in ``hang`` never answer until released."""

    name = "device"
    runs_inline = False

    def __init__(self, hang: set[str]) -> None:
        self.hang = hang
        self.release = threading.Event()
        self.answered: list[str] = []
        self.threads: set[int] = set()

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        self.threads.add(threading.get_ident())
        if target in self.hang:
            self.release.wait(timeout=30)  # bounded, so a regression fails instead of hanging
        self.answered.append(target)
        return ExecOutcome(True, f"{action} applied", dry_run)


def congestion(fp: str, link: str, ts: float) -> Incident:
    a, b = link.split("--")
    return Incident(
        ts=ts,
        fingerprint=fp,
        status="open",
        revision=1,
        opened_ts=ts,
        title=f"link {link} congested",
        severity="major",
        root_causes=[RootCause(entity=link, kind="link", score=0.9, fault="congestion")],
        anomalies=[AnomalyRef(entity=a, signal="if.out_util", kind="high", score=1, onset_ts=ts)],
        impact=[a, b],
    )


def tick(ts: float) -> Sample:
    return Sample(ts=ts, device="core1")


def _coordinator(
    tmp: Path, executor: Device, clock: Clock, partitions: int = 1
) -> CoordinatorProcessor:
    s = load_settings()
    s.coordinator.phase = "semi-autonomous"  # type: ignore[assignment]
    s.coordinator.timeout_s = 60.0
    s.coordinator.partitions = partitions
    topo = MemoryTopology()
    load_topology(None, topo)
    coord, _, _, _ = build_coordinator(
        s,
        tmp,
        topo=topo,
        incidents=IncidentStore(tmp / "incidents.db"),
        tickets=LocalTickets(tmp / "tickets.db"),
        audit=AuditLog(tmp / "audit.db"),
        executor=executor,
    )
    assert coord.remediator is not None
    coord.remediator.calls = Calls(clock=clock)
    return coord


async def _process(coord: CoordinatorProcessor, event: Event) -> list[Event]:
    # the coordinator must answer at once whatever the devices do
    return list(await asyncio.wait_for(coord.process(event, None), timeout=10))


def _audited(events: list[Event]) -> list[str]:
    return [e.action for e in events if isinstance(e, AuditRecord)]


@pytest.fixture
def links() -> tuple[str, str]:
    topo = MemoryTopology()
    load_topology(None, topo)
    first, second = sorted(lk.id for lk in topo.links())[:2]
    return first, second


async def test_a_hung_device_does_not_stall_the_coordinator(
    tmp_path: Path, links: tuple[str, str]
) -> None:
    hung, healthy = links
    device, clock = Device(hang={hung}), Clock()
    coord = _coordinator(tmp_path, device, clock)
    rem = coord.remediator
    assert rem is not None
    try:
        out = await _process(coord, congestion("fp1", hung, T0))
        assert _audited(out)[-1] == "action.started"
        assert threading.get_ident() not in device.threads  # never on the loop's thread
        (first,) = rem.store.of_incident("fp1")
        assert first.status == "executing"

        # another incident, another target: its change runs while the first device hangs
        out = await _process(coord, congestion("fp2", healthy, T0 + 5))
        assert _audited(out)[-1] == "action.started"
        for _ in range(200):  # the healthy device answers in its own thread
            if healthy in device.answered:
                break
            await asyncio.sleep(0.01)
        out = await _process(coord, tick(T0 + 10))
        assert "action.executed" in _audited(out)
        assert any(isinstance(e, Watch) for e in out)  # its verification asks for samples
        (second,) = rem.store.of_incident("fp2")
        assert second.status == "verifying"

        # past the first call's deadline: timed out, escalated to a human, lock kept
        clock.now += 61
        out = await _process(coord, tick(T0 + 20))
        assert "action.timed_out" in _audited(out)
        (failed,) = [e for e in out if isinstance(e, ActionResult)]
        assert failed.outcome == "failed" and "partly applied" in failed.detail
        first = rem.store.get(first.request_id)  # type: ignore[assignment]
        assert first is not None and first.status == "timed_out"
        proposals = [e for e in out if isinstance(e, ActionRequest) and e.status == "proposed"]
        assert [p.incident for p in proposals] == ["fp1"] and proposals[0].level == 1
        other = rem.locks.acquire([hung], "someone-else", ttl_s=60, now=T0 + 20)
        assert not isinstance(other, Lease)  # nothing may touch the target meanwhile
        assert rem.calls.abandoned == 1
    finally:
        device.release.set()
    # the abandoned call returning late changes nothing
    await asyncio.sleep(0.05)
    out = await _process(coord, tick(T0 + 30))
    assert "action.executed" not in _audited(out)
    assert rem.store.get(first.request_id).status == "timed_out"  # type: ignore[union-attr]


async def test_an_action_left_executing_by_a_dead_process_is_escalated(
    tmp_path: Path, links: tuple[str, str]
) -> None:
    device, clock = Device(hang={links[0]}), Clock()
    coord = _coordinator(tmp_path, device, clock)
    try:
        await _process(coord, congestion("fp1", links[0], T0))
    finally:
        device.release.set()
    # a new process over the same data directory: no call runs for the executing action
    fresh = _coordinator(tmp_path, Device(hang=set()), Clock())
    out = await _process(fresh, tick(T0 + 10))
    assert "action.timed_out" in _audited(out)
    timed_out = next(
        e for e in out if isinstance(e, AuditRecord) and e.action == "action.timed_out"
    )
    assert "outcome is unknown" in timed_out.detail["why"]


async def test_a_change_that_fails_at_once_is_escalated_as_a_late_failure_is(
    tmp_path: Path, links: tuple[str, str]
) -> None:
    # an inline executor that cannot apply the change: rolled back within the decision, and
    # the incident goes to a human as when the failure is found on a later tick
    coord = _coordinator(tmp_path, NoExecutor(), Clock())  # type: ignore[arg-type]
    rem = coord.remediator
    assert rem is not None
    out = await _process(coord, congestion("fp1", links[0], T0))
    assert _audited(out) == [
        "incident.opened",
        "action.decided",
        "action.approved",
        "action.executed",
        "action.rolled_back",
        "action.decided",
        "action.proposed",
    ]
    first, second = sorted(rem.store.of_incident("fp1"), key=lambda r: r.escalated)
    assert (first.level, first.status, first.escalated) == (2, "rolled_back", False)
    assert (second.level, second.status, second.escalated) == (1, "awaiting_approval", True)
    # a revision of the same root cause decides nothing more
    again = msgspec.structs.replace(congestion("fp1", links[0], T0 + 10), revision=2)
    await _process(coord, again)
    assert len(rem.store.of_incident("fp1")) == 2
