"""The twin's overloaded poller: most devices' polls time out at once while the network is
fine. NetVigil sees its own monitoring health there, not a storm of devices down; a router
that really fails during it is still found."""

from __future__ import annotations

from pathlib import Path

from netvigil.config import Settings
from netvigil.events import POLLER_OVERLOAD, Anomaly, DeviceEvent, Event, Incident, Metric
from netvigil.graph.importers import load_topology
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH

T0 = SIM_EPOCH + 600


def test_an_overloaded_poller_s_devices_send_events_but_no_polled_metrics() -> None:
    topo = load_topology(None)
    net = TwinNetwork(topo, [Fault("poller_overload", "core1", T0, T0 + 60)], seed=2)
    net.poll_reachability = True
    net.step(T0 - 10)
    during = net.step(T0)
    late = {e.device for e in during if isinstance(e, DeviceEvent) and e.kind == "unreachable"}
    assert 3 <= len(late) < len(topo.devices())
    assert all(
        POLLER_OVERLOAD in e.attrs
        for e in during
        if isinstance(e, DeviceEvent) and e.kind == "unreachable"
    )
    assert not {e.device for e in during if isinstance(e, Metric)} & late
    after = net.step(T0 + 60)
    back = {e.device for e in after if isinstance(e, DeviceEvent) and e.kind == "reachable"}
    assert back == late


async def _incidents(tmp_path: Path, faults: list[Fault]) -> tuple[list[Incident], int]:
    """The incidents of a twin run, and how many devices were reported unreachable with the
    overloaded poller's mark."""
    settings = Settings()
    settings.twin.step_s = 10
    settings.correlator.window_s = 60
    plan = TwinPlan(speed=0.0, faults=faults, until=T0 + 240, poll_reachability=True)
    svc = Service.build(settings, twin=plan, data_dir=tmp_path / "data")
    seen: list[Incident] = []
    marked: set[str] = set()

    def on(_topic: str, e: Event) -> None:
        if isinstance(e, Incident):
            seen.append(e)
        elif isinstance(e, Anomaly) and POLLER_OVERLOAD in e.evidence and e.state == "active":
            marked.add(e.entity)

    svc.runtime.listen("netvigil.incidents", on)
    svc.runtime.listen("netvigil.anomalies", on)
    await svc.run()
    svc.close()
    return seen, len(marked)


async def test_a_poller_overload_burst_opens_no_incident(tmp_path: Path) -> None:
    overload = Fault("poller_overload", "core1", T0, T0 + 120)
    seen, marked = await _incidents(tmp_path, [overload])
    assert marked >= 3  # the burst reached the correlator, marked
    assert seen == []


async def test_a_router_down_during_the_overload_is_still_its_incident(tmp_path: Path) -> None:
    overload = Fault("poller_overload", "core1", T0, T0 + 120)
    down = Fault("node_down", "core2", T0 + 30, T0 + 90)
    seen, marked = await _incidents(tmp_path, [overload, down])
    assert marked >= 3
    assert seen, "the router's failure opens an incident"
    assert len({i.fingerprint for i in seen}) == 1
    assert seen[-1].root_causes[0].entity == "core2"
