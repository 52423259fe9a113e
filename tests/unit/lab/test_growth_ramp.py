"""The lab's growth ramp: a demand between two routers whose path crosses the link whole,
growing linearly in the traffic generator; the default ramp of ``bench lab-ramp``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netvigil.eval.lab_prevention import choose_ramp
from netvigil.graph.importers import load_topology
from netvigil.lab.faults import RAMP_PEAK, SCHEDULED_KINDS, ramp_pair
from netvigil.lab.plan import LabPlan, lab_topology, plan_lab
from netvigil.lab.system import LabError
from netvigil.lab.traffic import FLOWS_PER_DEMAND, RAMP_FLOWS, SURGE_PORT, surge_flows
from netvigil.twin.network import TwinNetwork
from tests.conftest import shared_data
from tests.unit.lab.test_faults_executor import _plan


def test_the_ramp_pair_crosses_the_link_whole_and_has_a_way_round() -> None:
    plan = _plan()  # a square a-b-c-d with a tail d-e
    assert ramp_pair(plan, "a--b", "a") == ("a", "b")
    assert ramp_pair(plan, "a--b", "b") == ("b", "a")
    net = TwinNetwork(lab_topology(plan), seed=0)
    crossing = {(s, d): share for s, d, share, _ in net.crossing("a--b", "a", 0.0)}
    assert crossing[("a", "b")] == 1.0
    with pytest.raises(LabError, match="choose a link on a cycle"):
        ramp_pair(plan, "d--e", "d")  # a bridge: no cost change could move it
    with pytest.raises(LabError, match="not an end"):
        ramp_pair(plan, "a--b", "c")


def test_a_ramp_in_the_surges_file_grows_linearly_to_its_peak(tmp_path: Path) -> None:
    plan = _plan()
    lk = plan.link("a--b")
    path = tmp_path / "surges.json"
    ramp = {"link": lk.id, "from": "a", "to": "b", "bps": 4e6, "start": 1000.0, "ramp_s": 600.0}
    surge = {"link": "b--c", "from": "b", "bps": 1e6}
    path.write_text(json.dumps([ramp, surge]))
    loop_b = plan.router("b").loopback
    for now, want in ((900.0, 0.0), (1300.0, 2e6), (1600.0, 4e6), (5000.0, 4e6)):
        got = surge_flows(plan, path, now)
        assert (got[0].src, got[0].dst_addr, got[0].port) == ("a", loop_b, SURGE_PORT)
        assert got[0].bps == pytest.approx(want)
        # many flows: an even ECMP split (a surge goes end to end: it is never split)
        assert got[0].flows == RAMP_FLOWS and got[1].flows == FLOWS_PER_DEMAND
        assert got[1].bps == 1e6  # a surge is constant, to the other end's link address
        assert got[1].dst_addr == plan.link("b--c").b_addr.partition("/")[0]


def test_schedules_do_not_rotate_through_the_ramp_unless_asked() -> None:
    assert "growth_ramp" not in SCHEDULED_KINDS and len(SCHEDULED_KINDS) == 8


def test_the_default_ramp_is_one_a_cost_change_can_steer_on_the_twin() -> None:
    plan: LabPlan = plan_lab(
        load_topology(shared_data("topologies", "Easynet.graphml")), max_routers=5
    )
    link, end, src, dst = choose_ramp(plan, 0.0)
    lk = plan.link(link)
    assert end in (lk.a, lk.b) and (src, dst) == ramp_pair(plan, link, end)
    net = TwinNetwork(lab_topology(plan), seed=0)
    net.extra_demand = {(src, dst): RAMP_PEAK * lk.capacity_bps}
    util, _ = net.expected_load(0.0)
    assert util[(link, end)] >= 1.0  # unsteered, the ramp saturates its link


def test_a_sustained_peak_needs_two_consecutive_samples() -> None:
    from netvigil.eval.lab_prevention import sustained_peak

    assert sustained_peak([0.5, 1.1, 0.4, 0.6, 0.7]) == 0.6
    assert sustained_peak([0.95, 0.92]) == 0.92
    assert sustained_peak([0.3]) is None
