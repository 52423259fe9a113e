"""NetVigil on a real routed network: a 5-router lab, a link failure and a congestion, seen
through real SNMP, syslog and flows; the incidents name the right root cause, a level-2 change
runs on the real router and is verified, and ``lab down`` leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from netvigil.config import load_settings
from netvigil.events import (
    AuditRecord,
    DeviceEvent,
    Event,
    FlowRecord,
    Incident,
    LogRecord,
    Metric,
)
from netvigil.lab import runner
from netvigil.lab.faults import LabFault, clear, inject
from netvigil.lab.hook import lab_settings
from netvigil.lab.render import FLOW_MAXLIFE_S
from netvigil.lab.state import LabState
from netvigil.lab.system import alive, netns_exists, run
from netvigil.service import Service
from tests.conftest import shared_data

DETECT_S = 60.0
#: seconds the test holds a link end down for the agents' link traps (1 s samples)
TRAP_HOLD_S = 3.0


async def _until(pred: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.5)
    return pred()


def test_faults_on_the_lab_become_incidents_with_the_right_root_cause_and_a_verified_change(
    lab_host: None, lab_dir: Path, tmp_path: Path
) -> None:
    topo = shared_data("topologies", "Easynet.graphml")
    state = runner.up(str(topo), max_routers=5, timeout_s=60)
    pids = [p.pid for p in state.procs]
    try:
        settings = load_settings()
        settings.coordinator.phase = "autonomous"
        # two faults a minute apart: the correlator's default 300 s window (set for 60 s
        # sampling) merges the second, two hops away, into the first one's incident
        settings.correlator.window_s = 60.0
        settings = lab_settings(settings)
        svc = Service.build(settings, data_dir=tmp_path / "nv")
        seen: dict[str, list[Event]] = {
            "incidents": [],
            "audit": [],
            "telemetry": [],
            "events": [],
        }

        def keep(kind: str) -> Callable[[str, Event], None]:
            return lambda topic, e: seen[kind].append(e)

        svc.runtime.listen("netvigil.incidents", keep("incidents"))
        svc.runtime.listen("netvigil.audit", keep("audit"))
        svc.runtime.listen("netvigil.events", keep("events"))
        for topic in ("netvigil.logs", "netvigil.flows", "netvigil.metrics"):
            svc.runtime.listen(topic, keep("telemetry"))
        down_link = state.plan.links[0]
        busy_link = next(
            lk for lk in state.plan.links if {lk.a, lk.b} != {down_link.a, down_link.b}
        )

        def opened(link: str, after: float) -> Incident | None:
            for e in seen["incidents"]:
                rc = e.root_cause if isinstance(e, Incident) else None
                if isinstance(e, Incident) and e.opened_ts >= after and rc and rc.entity == link:
                    return e
            return None

        def resolved(link: str, after: float) -> bool:
            latest: dict[str, Incident] = {}
            for e in seen["incidents"]:
                if isinstance(e, Incident) and e.opened_ts >= after:
                    latest[e.fingerprint] = e
            return any(
                e.status == "resolved" and e.root_cause and e.root_cause.entity == link
                for e in latest.values()
            )

        a_end = f"{down_link.a}:{down_link.a_if}"
        b_end = f"{down_link.b}:{down_link.b_if}"
        trap_ends = {("admin_down", b_end), ("link_down", a_end)}

        def link_traps() -> set[tuple[str, str]]:
            return {
                (e.kind, e.entity)
                for e in seen["events"]
                if isinstance(e, DeviceEvent) and e.source == "snmp-trap"
            }

        async def scenario() -> dict[str, object]:
            stop = asyncio.Event()
            task = asyncio.create_task(svc.run(stop))
            got: dict[str, object] = {}
            try:
                await asyncio.sleep(25)  # a few polls: baselines for the rates
                f1 = LabFault("link_down", down_link.id, time.time(), 90)
                await asyncio.to_thread(inject, LabState.load() or state, f1)
                got["link_down"] = await _until(
                    lambda: opened(down_link.id, f1.start) is not None, DETECT_S
                )
                # the level-2 interface reset brought the link up on the real router
                ns = state.plan.router(down_link.a).netns
                got["reset"] = await _until(
                    lambda: "state UP" in run(["ip", "-n", ns, "link", "show", down_link.a_if]),
                    60,
                )
                await asyncio.to_thread(clear, LabState.load() or state, f1)
                # the congestion is a fault of its own: it begins once the first one's incident
                # resolved (its adjacencies back, its symptoms cleared), not while that incident
                # may still take nearby symptoms
                got["resolved"] = await _until(lambda: resolved(down_link.id, f1.start), DETECT_S)
                f2 = LabFault("congestion", busy_link.id, time.time(), 120, busy_link.a)
                await asyncio.to_thread(inject, LabState.load() or state, f2)
                got["congestion"] = await _until(
                    lambda: opened(busy_link.id, f2.start) is not None, DETECT_S + 30
                )
                await asyncio.to_thread(clear, LabState.load() or state, f2)
                # softflowd exports a long flow at its maximum life: the first records come
                # that long after the lab's traffic began, however fast the faults went
                await _until(
                    lambda: any(isinstance(e, FlowRecord) for e in seen["telemetry"]),
                    FLOW_MAXLIFE_S + 30,
                )
                # link traps: the b end shut for a few of the agents' 1 s samples (the level-2
                # reset above brought the a end back within about one sample, which the
                # agents' sampling may miss; an a-end reset does not bring a b end back)
                b_ns = state.plan.router(down_link.b).netns
                run(["ip", "-n", b_ns, "link", "set", down_link.b_if, "down"])
                await asyncio.sleep(TRAP_HOLD_S)
                run(["ip", "-n", b_ns, "link", "set", down_link.b_if, "up"])
                await _until(lambda: link_traps() >= trap_ends, 10)
            finally:
                stop.set()
                await task
            return got

        got = asyncio.run(scenario())
        svc.close()
        verified = [
            e for e in seen["audit"] if isinstance(e, AuditRecord) and e.action == "action.verified"
        ]
        executed = [
            e for e in seen["audit"] if isinstance(e, AuditRecord) and e.action == "action.executed"
        ]
        kinds = {type(e) for e in seen["telemetry"]}
        # real telemetry of every kind reached the pipeline from the lab
        assert {Metric, LogRecord, FlowRecord} <= kinds, kinds
        logs = [e for e in seen["telemetry"] if isinstance(e, LogRecord)]
        assert {e.device for e in logs} <= {r.name for r in state.plan.routers}
        assert got["link_down"], [
            (e.title, e.root_cause) for e in seen["incidents"] if isinstance(e, Incident)
        ]
        assert got["reset"] and executed and verified
        assert got["resolved"], [
            (e.title, e.status) for e in seen["incidents"] if isinstance(e, Incident)
        ]
        # the agents' link traps (DISMAN-EVENT-MIB), named as the polls name the device: the
        # shut end says admin_down, its peer link_down
        assert trap_ends <= link_traps(), link_traps()
        assert got["congestion"], [
            (e.title, e.root_cause) for e in seen["incidents"] if isinstance(e, Incident)
        ]
    finally:
        runner.down()
    assert not any(alive(p) for p in pids)
    assert not any(netns_exists(r.netns) for r in state.plan.routers)
