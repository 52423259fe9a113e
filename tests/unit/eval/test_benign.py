"""Benign conditions are placed where they stay what they claim: a stalled ramp never reaches
congestion, a scheduled burst fills its link at the same hour every day, neither on a link a
fault uses; the twin pins their demand as documented."""

from __future__ import annotations

from netvigil.eval.benign import benign_faults, peak_loads
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH

TOPO = load_topology(None)


def test_stalled_ramps_rise_like_a_ramp_then_hold_below_congestion() -> None:
    busy = sorted(lk.id for lk in TOPO.links())[:2]
    faults = [Fault("link_down", lk, SIM_EPOCH, SIM_EPOCH + 60) for lk in busy]
    spec = {"kind": "stalled_ramp", "first_s": 3600, "every_s": 10800, "count": 3}
    ramps = benign_faults(TOPO, [spec], faults, seed=7)
    assert len(ramps) == 3 and all(r.benign and r.target not in busy for r in ramps)
    peak = peak_loads(TOPO, 7)
    net = TwinNetwork(TOPO, ramps, seed=7)
    for r in ramps:
        assert peak[(r.target, r.direction)] <= 0.25
        rise = (r.end - r.start) / 2
        assert abs(r.magnitude / rise * 3600 - 0.65) < 1e-9  # a growth ramp's pace
        assert abs(r.surge(r.start + rise / 2) - r.magnitude / 2) < 1e-9
        assert r.surge(r.end - 1) == r.magnitude  # holds
        for k in range(0, 11):
            util, _ = net.expected_load(r.start + k * (r.end - r.start) / 10)
            assert util[(r.target, r.direction)] < 0.85


def test_scheduled_bursts_fill_their_link_at_the_same_hour_every_day() -> None:
    spec = {
        "kind": "scheduled_burst",
        "patterns": 2,
        "first_s": 5400,
        "spacing_s": 14400,
        "every_s": 86400,
        "count": 3,
        "duration_s": 1200,
    }
    bursts = benign_faults(TOPO, [spec], [], seed=7)
    assert len(bursts) == 6
    by_link: dict[tuple[str, str], list[Fault]] = {}
    for b in bursts:
        by_link.setdefault((b.target, b.direction), []).append(b)
    assert len(by_link) == 2
    net = TwinNetwork(TOPO, bursts, seed=7)
    for occ in by_link.values():
        assert {(b.start - SIM_EPOCH) % 86400 for b in occ} == {(occ[0].start - SIM_EPOCH) % 86400}
        util, _ = net.expected_load(occ[0].start + 600)
        assert util[(occ[0].target, occ[0].direction)] >= 0.9
