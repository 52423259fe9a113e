"""The traffic generator's achieved rate: counters written and read back, rates between two
readings, and the twin's loads for a measured demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.events import Metric
from netvigil.graph.importers import load_topology
from netvigil.lab.achieved import TrafficCounters, rates_between, read_counters
from netvigil.twin.network import TwinNetwork


def test_rates_between_two_readings_per_demand_and_in_total(tmp_path: Path) -> None:
    c = TrafficCounters(started=100.0)
    c.write(tmp_path, 100.0)
    first = read_counters(tmp_path)
    assert first is not None and first.last_step is None
    # 10 s: a>b offered 1 Mbit/s, sent 0.8; b>a offered and sent 0.5; a surge 2, all sent
    c.add("a>b", 10e6, 8e6)
    c.add("b>a", 5e6, 5e6)
    c.add(None, 20e6, 20e6)
    c.write(tmp_path, 110.0, previous=first)
    second = read_counters(tmp_path)
    assert second is not None
    got = rates_between(first, second)
    assert got is not None
    assert got.seconds == 10.0
    assert got.pairs == {("a", "b"): (1e6, 0.8e6), ("b", "a"): (0.5e6, 0.5e6)}
    assert got.sent() == {("a", "b"): 0.8e6, ("b", "a"): 0.5e6}
    assert got.share == pytest.approx(1.3 / 1.5)
    assert got.surge == (2e6, 2e6)  # surges are counted apart from the demands
    assert second.last_step == got.summary()
    assert second.last_step["achieved_share"] == round(1.3 / 1.5, 4)


def test_readings_of_another_start_or_no_time_give_no_rates(tmp_path: Path) -> None:
    a = TrafficCounters(started=1.0, ts=5.0)
    assert rates_between(a, TrafficCounters(started=2.0, ts=9.0)) is None
    assert rates_between(a, TrafficCounters(started=1.0, ts=5.0)) is None
    assert read_counters(tmp_path) is None
    (tmp_path / "traffic.json").write_text("{not json")
    assert read_counters(tmp_path) is None


def test_the_twin_s_load_for_the_demand_it_sent_is_the_load_it_reported() -> None:
    topo = load_topology(None)
    net = TwinNetwork(topo, seed=3)
    t = 1_800_000_000.0
    events = net.step(t)
    sent = {(s, d): bps for s, d, bps in net.last_demands}
    reported = {
        e.entity: e.value for e in events if isinstance(e, Metric) and e.name == "if.out_util"
    }
    got = net.load_for(sent, t)
    assert len(got) == 2 * len(topo.links())
    for lk in topo.links():
        for src, ifid in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            assert got[(lk.id, src)] == pytest.approx(reported[ifid], rel=1e-6, abs=1e-9)
    # half of it sent: half the load everywhere
    half = net.load_for({k: v / 2 for k, v in sent.items()}, t)
    for key, util in got.items():
        assert half[key] == pytest.approx(util / 2, rel=1e-6, abs=1e-9)
