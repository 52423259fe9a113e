"""Draining a degrading link in the twin: the change must take the link's traffic off it both
ways, on the present's load, and is refused when it overloads the detour or cannot drain (a
bridge); the error share of a degrading link grows with its ramp, whatever the routing."""

from __future__ import annotations

from netvigil.graph.base import Device, Link
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.faults import Fault
from netvigil.twin.foresight import Outlook, error_share, forecast_what_if
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH
from netvigil.twin.whatif import Change

T0 = SIM_EPOCH + 11 * 3600
DRAIN = Change(metric={"a--b": 1000})


def triangle(direct_bps: float, detour_bps: float, faults: tuple[Fault, ...] = ()) -> TwinNetwork:
    """a and b joined directly and through c."""
    topo = MemoryTopology()
    for n in "abc":
        topo.add_device(Device(n, role="core", weight=1.0))
    topo.add_link(Link("a--b", "a", "a:1", "b", "b:1", capacity_bps=direct_bps, igp_metric=10))
    topo.add_link(Link("a--c", "a", "a:2", "c", "c:1", capacity_bps=detour_bps, igp_metric=10))
    topo.add_link(Link("b--c", "b", "b:2", "c", "c:2", capacity_bps=detour_bps, igp_metric=10))
    return TwinNetwork(topo, list(faults), seed=1)


def view(now: float) -> Outlook:
    return Outlook("a--b", "b", now, 0.0, 0.0)  # the error share's forecast: no load growth


def test_a_drain_onto_a_wide_detour_passes_and_empties_the_link() -> None:
    net = triangle(1e9, 10e9)
    v = forecast_what_if(net, DRAIN, view(T0), at=T0 + 1800, lookahead_s=1800, drain=True)
    assert v.ok, v.reasons
    assert v.numbers["target_util_after"] == 0.0 and v.numbers["growth"] == "none (drain)"


def test_a_drain_onto_a_thin_detour_is_refused_as_an_overload() -> None:
    net = triangle(10e9, 1e9)
    v = forecast_what_if(net, DRAIN, view(T0), at=T0 + 1800, lookahead_s=1800, drain=True)
    assert not v.ok
    assert any("would overload" in r for r in v.reasons), v.reasons


def test_a_bridge_cannot_be_drained() -> None:
    topo = MemoryTopology()
    for n in "ab":
        topo.add_device(Device(n, role="core", weight=1.0))
    topo.add_link(Link("a--b", "a", "a:1", "b", "b:1", capacity_bps=10e9, igp_metric=10))
    net = TwinNetwork(topo, [], seed=1)
    v = forecast_what_if(net, DRAIN, view(T0), at=T0 + 1800, lookahead_s=1800, drain=True)
    assert not v.ok
    assert any("does not drain a--b" in r for r in v.reasons), v.reasons


def test_the_error_share_follows_the_ramp_not_the_routing() -> None:
    ramp = Fault("error_ramp", "a--b", T0, T0 + 7200, magnitude=0.003)
    net = triangle(1e9, 10e9, (ramp,))
    assert error_share(net, "a--b", T0 - 60) == 0.0
    assert abs(error_share(net, "a--b", T0 + 2400) - 0.001) < 1e-12  # a third of the way
    net.igp_metric["a--b"] = 1000  # drained: it would still corrupt as much
    assert abs(error_share(net, "a--b", T0 + 3600) - 0.0015) < 1e-12
    assert error_share(net, "a--c", T0 + 3600) == 0.0
    stalled = Fault("stalled_errors", "a--b", T0, T0 + 3600, magnitude=0.0006)
    assert abs(stalled.loss(T0 + 900) - 0.0003) < 1e-12 and stalled.loss(T0 + 3000) == 0.0006
