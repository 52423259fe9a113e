"""IGP adjacency changes become down anomalies on the interface, one per change."""

from __future__ import annotations

from netvigil.events import Anomaly, DeviceEvent
from netvigil.streams.adjacency import AdjacencyProcessor, AdjacencyState


def event(kind: str, ts: float, entity: str = "r1:eth0") -> DeviceEvent:
    return DeviceEvent(
        ts=ts, device="r1", kind=kind, entity=entity, source="syslog", attrs={"reason": "x"}
    )


async def test_down_opens_up_clears_and_repeats_are_no_change() -> None:
    proc, state = AdjacencyProcessor(), AdjacencyState()
    out = []
    for e in [
        event("ospf_up", 1),
        event("ospf_down", 10),
        event("ospf_down", 12),
        event("ospf_up", 20),
        event("link_down", 21),
    ]:
        out += await proc.process(e, state)
    assert [(a.state, a.kind, a.entity, a.onset_ts) for a in out if isinstance(a, Anomaly)] == [
        ("active", "down", "r1:eth0", 10),
        ("cleared", "down", "r1:eth0", 10),
    ]
    assert out[0].signal == "routing.ospf" and out[0].score == 1.0
    assert out[0].evidence == {"reason": "x"}


async def test_an_event_naming_no_interface_is_left_alone() -> None:
    proc, state = AdjacencyProcessor(), AdjacencyState()
    assert await proc.process(event("ospf_down", 1, entity="10.0.0.2"), state) == []


async def test_a_shutdown_interface_is_an_admin_down_anomaly_until_it_comes_back_up() -> None:
    proc, state = AdjacencyProcessor(), AdjacencyState()
    out = []
    for e in [event("link_up", 1), event("admin_down", 5), event("link_up", 30)]:
        out += await proc.process(e, state)
    assert [(a.state, a.kind, a.signal) for a in out if isinstance(a, Anomaly)] == [
        ("active", "admin_down", "if.admin_status"),
        ("cleared", "admin_down", "if.admin_status"),
    ]


async def test_a_routing_daemon_gone_is_a_down_anomaly_on_its_device_per_protocol() -> None:
    proc, state = AdjacencyProcessor(), AdjacencyState()

    def daemon(kind: str, ts: float, protocol: str) -> DeviceEvent:
        return DeviceEvent(
            ts=ts, device="r1", kind=kind, entity="", source="syslog", attrs={"protocol": protocol}
        )

    out = []
    for e in [
        daemon("routing_process_up", 1, "ospf"),
        daemon("routing_process_down", 5, "ospf"),
        daemon("routing_process_down", 6, "bgp"),
        daemon("routing_process_up", 30, "ospf"),
    ]:
        out += await proc.process(e, state)
    assert [(a.state, a.entity, a.signal, a.onset_ts) for a in out if isinstance(a, Anomaly)] == [
        ("active", "r1", "routing.process.ospf", 5),
        ("active", "r1", "routing.process.bgp", 6),
        ("cleared", "r1", "routing.process.ospf", 5),
    ]
