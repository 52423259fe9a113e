"""What-if on the forecast load: the twin's present plus the forecast growth; a change is
refused when the at-risk link still saturates, another link would, or demand is stranded;
the counterfactual says what the link would carry without the change."""

from __future__ import annotations

from netvigil.graph.base import Device, Link
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.faults import Fault
from netvigil.twin.foresight import Outlook, counterfactual, forecast_what_if, present
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH
from netvigil.twin.whatif import Change, apply_change

T0 = SIM_EPOCH + 11 * 3600
SLOPE = 1.3 / 7200  # a growth ramp's: 1.3x capacity over two hours


def bottleneck(faults: list[Fault]) -> TwinNetwork:
    """a and b joined by a fat direct link and a thin detour through c."""
    topo = MemoryTopology()
    for n in "abc":
        topo.add_device(Device(n, role="core", weight=1.0))
    topo.add_link(Link("a--b", "a", "a:1", "b", "b:1", capacity_bps=10e9, igp_metric=10))
    topo.add_link(Link("a--c", "a", "a:2", "c", "c:1", capacity_bps=1e9, igp_metric=10))
    topo.add_link(Link("b--c", "b", "b:2", "c", "c:2", capacity_bps=1e9, igp_metric=10))
    return TwinNetwork(topo, faults, seed=1)


RAMP = Fault("growth_ramp", "a--b", T0, T0 + 7200, magnitude=1.3, direction="a")


def outlook(net: TwinNetwork, now: float) -> Outlook:
    util, _ = net.expected_load(now)
    return Outlook("a--b", "a", now, util[("a--b", "a")], SLOPE)


def test_the_present_holds_a_ramp_at_its_current_strength() -> None:
    net = bottleneck([RAMP])
    now = T0 + 3600
    later = now + 1800
    held, _ = present(net, now).expected_load(later)
    truth, _ = net.expected_load(later)
    base, _ = bottleneck([]).expected_load(later)
    assert abs(held[("a--b", "a")] - base[("a--b", "a")] - 0.65) < 1e-6  # 1.3 * half the ramp
    assert truth[("a--b", "a")] > held[("a--b", "a")] + 0.3  # the future is not known


def test_policing_holds_the_forecast_and_steering_onto_a_thin_detour_is_refused() -> None:
    net = bottleneck([RAMP])
    now = T0 + 3600
    view = outlook(net, now)
    deadline = now + (0.9 - view.level) / SLOPE
    police = Change(policers={"a--b": 0.6})
    ok = forecast_what_if(net, police, view, at=deadline, lookahead_s=1800)
    assert ok.ok, ok.reasons
    assert ok.numbers["target_util_after"] <= 0.6 + 1e-9
    assert abs(ok.numbers["forecast_util_at_worst"] - 0.9) < 1e-6  # the deadline
    steer = Change(metric={"a--b": 1000})
    no = forecast_what_if(net, steer, view, at=deadline, lookahead_s=1800)
    assert not no.ok
    assert any(r.startswith("does not keep a--b") for r in no.reasons)
    assert any(r.startswith("would overload") for r in no.reasons)
    assert no.numbers["overloaded_util_after"] >= 0.9 > no.numbers["overloaded_util_before"]


def test_a_change_that_holds_at_the_deadline_but_not_over_the_lookahead_is_refused() -> None:
    net = bottleneck([RAMP])
    now = T0 + 3600
    view = outlook(net, now)
    deadline = now + (0.9 - view.level) / SLOPE
    loose = Change(policers={"a--b": 0.95})  # caps above the threshold
    verdict = forecast_what_if(net, loose, view, at=deadline, lookahead_s=3600)
    assert not verdict.ok and verdict.numbers["worst_t"] > deadline


def test_the_counterfactual_is_the_load_without_the_change() -> None:
    net = bottleneck([RAMP])
    police = Change(policers={"a--b": 0.6})
    apply_change(net, police, T0)
    t = T0 + 6000
    live, _ = net.expected_load(t)
    assert live[("a--b", "a")] <= 0.6 + 1e-9
    without = counterfactual(net, police, "a--b", "a", t)
    assert without > 0.9  # the ramp would have saturated it
    assert net.policers == {"a--b": 0.6}  # the live twin is untouched


def wide() -> TwinNetwork:
    """a and b joined by a thin direct link (cheapest) and a fat detour through c."""
    topo = MemoryTopology()
    for n in "abc":
        topo.add_device(Device(n, role="core", weight=1.0))
    topo.add_link(Link("a--b", "a", "a:1", "b", "b:1", capacity_bps=1e9, igp_metric=10))
    topo.add_link(Link("a--c", "a", "a:2", "c", "c:1", capacity_bps=10e9, igp_metric=10))
    topo.add_link(Link("b--c", "b", "b:2", "c", "c:2", capacity_bps=10e9, igp_metric=10))
    return TwinNetwork(topo, seed=1)


def test_growth_of_the_crossing_demands_moves_with_a_metric_change() -> None:
    net = wide()  # no fault: the growth is known only from the forecast (as on the lab)
    now = T0
    view = outlook(net, now)
    deadline = now + (0.9 - view.level) / SLOPE
    steer = Change(metric={"a--b": 1000})
    pinned = forecast_what_if(net, steer, view, at=deadline, lookahead_s=3600)
    assert not pinned.ok and pinned.numbers["growth"] == "direction"
    assert any(r.startswith("does not keep a--b") for r in pinned.reasons)
    moved = forecast_what_if(net, steer, view, at=deadline, lookahead_s=3600, growth="demands")
    assert moved.ok, moved.reasons
    assert moved.numbers["target_util_before"] >= 0.9 - 1e-6
    assert moved.numbers["target_util_after"] == 0.0
    # the crossing demands' growth is routed like them: with the detour closed too it stays
    both = Change(metric={"a--b": 1000, "a--c": 1000, "b--c": 1000})
    kept = forecast_what_if(net, both, view, at=deadline, lookahead_s=3600, growth="demands")
    assert not kept.ok and kept.numbers["target_util_after"] >= 0.9


def test_growth_of_the_crossing_demands_still_refuses_a_thin_detour() -> None:
    net = bottleneck([])
    now = T0
    view = Outlook("a--b", "a", now, 0.5, 0.4 / 600)
    steer = Change(metric={"a--b": 1000})
    verdict = forecast_what_if(net, steer, view, at=now + 600, lookahead_s=0, growth="demands")
    assert not verdict.ok
    assert any(r.startswith("would overload a--c") for r in verdict.reasons)


def test_an_unknown_growth_mode_is_an_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="growth must be one of"):
        forecast_what_if(
            wide(), Change(), outlook(wide(), T0), at=T0, lookahead_s=0, growth="pinned"
        )
