"""The lab benchmark's pure parts: the twin's fault for a lab fault, harm, load errors."""

from __future__ import annotations

import pytest

from netvigil.config import Settings
from netvigil.eval.lab import (
    LAB_TO_TWIN,
    conditions,
    harmful,
    routing_losses_outside_faults,
    twin_fault,
)
from netvigil.eval.lab_whatif import compare_loads
from netvigil.eval.loads import LoadRecorder
from netvigil.events import Anomaly, Metric
from netvigil.lab import faults as lab_faults
from netvigil.lab.faults import LAB_FAULT_KINDS, LabFault
from netvigil.lab.plan import plan_lab
from netvigil.twin.faults import FAULT_KINDS
from tests.unit.lab.test_plan import _ring


def test_every_lab_kind_has_the_twin_kind_of_the_same_entity() -> None:
    assert set(LAB_TO_TWIN) == set(LAB_FAULT_KINDS)
    for lab_kind, twin_kind in LAB_TO_TWIN.items():
        assert FAULT_KINDS[twin_kind] == LAB_FAULT_KINDS[lab_kind]


def test_the_twin_fault_has_the_lab_fault_s_target_times_and_magnitude() -> None:
    plan = plan_lab(_ring(4))
    lk = plan.links[0]
    f = twin_fault(LabFault("link_loss", lk.id, 100.0, 60.0), plan)
    assert (f.kind, f.target, f.start, f.end) == ("packet_loss", lk.id, 100.0, 160.0)
    assert f.magnitude == lab_faults.LOSS_SHARE and f.loss(120.0) == lab_faults.LOSS_SHARE
    # the lab's receiving agents count the lost frames as input errors: so does the twin
    assert f.counted
    f = twin_fault(LabFault("congestion", lk.id, 0.0, 60.0, direction=lk.b), plan)
    assert f.direction == lk.b and f.magnitude == lab_faults.SURGE
    # the lab shuts the a end; its flapper: down 8 s of every 20 s
    assert twin_fault(LabFault("link_down", lk.id, 0.0), plan).direction == lk.a
    f = twin_fault(LabFault("flapping", lk.id, 0.0, 60.0), plan)
    assert f.direction == lk.a
    assert f.links_down(1.0) == (lk.id,) and f.links_down(10.0) == ()
    assert f.links_down(21.0) == (lk.id,)
    # the lab lowers the a end's MTU: the twin's mismatch is lowered there too
    assert twin_fault(LabFault("mtu_mismatch", lk.id, 0.0), plan).direction == lk.a


def _util(rec: LoadRecorder, entity: str, ts: float, value: float) -> None:
    dev, _, ifname = entity.partition(":")
    rec.on_metric(
        "netvigil.metrics",
        Metric(ts=ts, device=dev, name="if.out_util", value=value, labels={"interface": ifname}),
    )


def test_a_cost_change_is_harmful_only_if_it_congests_another_link() -> None:
    plan = plan_lab(_ring(4))
    lk, other = plan.links[0], plan.links[1]
    f = LabFault("cost_misconfig", lk.id, 1000.0, 60.0)
    s = Settings()
    rec = LoadRecorder()
    other_if = f"{other.a}:{other.a_if}"
    for t in range(900, 1061, 10):
        _util(rec, other_if, t, 0.5)
        _util(rec, f"{lk.a}:{lk.a_if}", t, 0.95)  # its own link: not "another"
    assert not harmful(twin_fault(f, plan), f.kind, plan, rec, s)
    _util(rec, other_if, 1030, 0.93)
    assert harmful(twin_fault(f, plan), f.kind, plan, rec, s)
    # congested already before the change: not caused by it
    _util(rec, other_if, 960, 0.95)
    assert not harmful(twin_fault(f, plan), f.kind, plan, rec, s)
    # every other kind harms by what it does
    loss = LabFault("link_loss", lk.id, 0.0)
    assert harmful(twin_fault(loss, plan), "link_loss", plan, rec, s)


def test_load_errors_are_relative_on_loaded_directions_only() -> None:
    got = compare_loads(
        {("l1", "a"): 0.50, ("l1", "b"): 0.02, ("l2", "a"): 0.30},
        {("l1", "a"): 0.40, ("l1", "b"): 0.01, ("l2", "a"): 0.31, ("l2", "b"): None},
    )
    assert got["directions"] == 3 and got["loaded_directions"] == 2
    assert got["within_tolerance"] == 1
    assert got["rel_error_max"] == pytest.approx(0.25)
    assert got["abs_error_mean"] == pytest.approx((0.1 + 0.01 + 0.01) / 3, abs=1e-4)


def test_split_and_unsplit_directions_are_summarized_apart() -> None:
    got = compare_loads(
        {("l1", "a"): 0.50, ("l2", "a"): 0.30, ("l3", "a"): 0.20},
        {("l1", "a"): 0.40, ("l2", "a"): 0.30, ("l3", "a"): 0.16},
        split=frozenset({("l1", "a"), ("l3", "a")}),
    )
    assert [r["split"] for r in got["rows"]] == [True, False, True]
    assert got["rel_error_p50_split"] == pytest.approx(0.25)
    assert got["rel_error_p50_unsplit"] == 0.0


def _ospf(ts: float, state: str = "active", signal: str = "routing.ospf") -> Anomaly:
    return Anomaly(
        ts=ts,
        device="r1",
        entity="r1",
        signal=signal,
        kind="down",
        score=1.0,
        state=state,  # type: ignore[arg-type]
    )


def test_routing_losses_are_counted_only_outside_every_fault_s_window() -> None:
    faults = [LabFault("link_down", "a--b", 100.0, 60.0), LabFault("node_down", "c", 400.0, 60.0)]
    anomalies = [
        _ospf(50.0),  # before the first fault: counted
        _ospf(100.0),  # at the fault's start
        _ospf(220.0),  # the end (160) + the grace (60): still the fault's
        _ospf(221.0),  # counted
        _ospf(300.0, state="cleared"),  # a clear is no loss
        _ospf(310.0, signal="reachability"),  # not a routing loss
        _ospf(430.0),  # inside the second fault
        _ospf(600.0),  # counted
    ]
    assert routing_losses_outside_faults(anomalies, faults, grace_s=60.0) == 3
    assert routing_losses_outside_faults(anomalies, faults, grace_s=500.0) == 1
    got = conditions(anomalies, faults, [1.0, 3.0, 2.0])
    assert got["load_1m_median"] == 2.0 and got["load_1m_max"] == 3.0
    assert got["routing_losses_outside_faults"] == 3
    assert conditions([], faults, [])["load_1m_max"] is None
