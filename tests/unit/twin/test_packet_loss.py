"""The twin's packet_loss fault: input errors at both ends of the link, loss on the paths."""

from __future__ import annotations

import pytest

from netvigil.events import Metric
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import PACKET_LOSS_SHARE, Fault, schedule_faults
from netvigil.twin.network import AVG_PACKET_BITS, TwinNetwork
from netvigil.twin.telemetry import TwinTelemetry

T0 = 1_767_571_200.0
LINK = "core1--edge1"


def by(events: list, name: str) -> dict[str, float]:
    return {e.entity: e.value for e in events if isinstance(e, Metric) and e.name == name}


def test_lossy_link_counts_input_errors_at_both_ends_only() -> None:
    topo = load_topology(None)
    lk = topo.link(LINK)
    net = TwinNetwork(topo, [Fault("packet_loss", LINK, T0, T0 + 600, 0.05)], seed=1)
    clean = TwinNetwork(topo, seed=1)
    ev, ev0 = net.step(T0 + 60), clean.step(T0 + 60)
    errors, in_bps, out_bps = by(ev, "if.in_errors"), by(ev, "if.in_bps"), by(ev, "if.out_bps")
    for end in (lk.a_if, lk.b_if):
        other = lk.b_if if end == lk.a_if else lk.a_if
        sent = out_bps[other]  # what the far end put on the wire
        assert errors[end] == pytest.approx(0.05 * sent / AVG_PACKET_BITS)
        assert in_bps[end] == pytest.approx(0.95 * sent)
    assert all(v == 0.0 for e, v in errors.items() if e not in (lk.a_if, lk.b_if))
    assert all(v == 0.0 for v in by(ev0, "if.in_errors").values())
    # loss does not move traffic: the routes and loads stay those of the clean network
    assert out_bps == by(ev0, "if.out_bps")


def test_loss_ends_with_the_fault() -> None:
    topo = load_topology(None)
    net = TwinNetwork(topo, [Fault("packet_loss", LINK, T0, T0 + 600, 0.05)], seed=1)
    assert max(by(net.step(T0 + 300), "if.in_errors").values()) > 0
    assert max(by(net.step(T0 + 600), "if.in_errors").values()) == 0.0


def test_path_state_carries_the_loss_of_links_on_the_path() -> None:
    topo = load_topology(None)
    net = TwinNetwork(topo, [Fault("packet_loss", LINK, T0, T0 + 600, 0.05)], seed=1)
    net.step(T0)
    on = net.path_state("edge1", "core1", T0 + 10)  # the direct link is the only shortest path
    assert on.links == (LINK,)
    assert on.loss == pytest.approx(0.05)
    assert on.latency_ms > 0
    off = net.path_state("edge3", "edge4", T0 + 10)
    assert LINK not in off.links and off.loss == 0.0
    assert net.path_state("edge1", "core1", T0 + 900).loss == 0.0  # fault over


def test_path_state_follows_routing_and_reports_unreachable() -> None:
    topo = load_topology(None)
    # edge3's two uplinks down: edge3 is cut off
    cut = [Fault("link_down", lk, T0, T0 + 600) for lk in ("core3--edge3", "core4--edge3")]
    net = TwinNetwork(topo, cut, seed=1)
    assert not net.path_state("edge3", "edge1", T0 + 10).reachable
    one = TwinNetwork(topo, cut[:1], seed=1)
    assert "core3--edge3" not in one.path_state("edge3", "edge1", T0 + 10).links
    with pytest.raises(ValueError, match="demand endpoints"):
        one.path_state("edge3", "nowhere", T0)


def test_telemetry_turns_error_rates_into_a_growing_counter() -> None:
    topo = load_topology(None)
    lk = topo.link(LINK)
    net = TwinNetwork(topo, [Fault("packet_loss", LINK, T0, T0 + 600, 0.05)], seed=1)
    tel = TwinTelemetry(topo, step_s=10, start=T0)
    seen = []
    for i in range(3):
        for e in net.step(T0 + 10 * i):
            tel.observe(e)
        seen.append(tel.devices[lk.a].interfaces[lk.a_if.partition(":")[2]].in_errors)
    assert 0 < seen[0] < seen[1] < seen[2]


def test_scheduled_packet_loss_is_a_link_fault_of_a_few_per_cent() -> None:
    topo = load_topology(None)
    faults = schedule_faults(
        topo, kinds=["packet_loss"], count=3, first=T0, interval=600, duration=300, seed=2
    )
    links = {lk.id for lk in topo.links()}
    assert all(f.target in links and f.magnitude == PACKET_LOSS_SHARE for f in faults)
    assert faults[0].loss(T0 + 1) == PACKET_LOSS_SHARE and faults[0].loss(T0 + 301) == 0.0
