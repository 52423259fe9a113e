"""Packet loss as the detectors and RCA see it: input errors open a strong anomaly, and the
link whose interfaces count them is the root cause."""

from __future__ import annotations

import asyncio
import pickle

from netvigil.analytics.detector import DetectorConfig, SeriesDetector
from netvigil.analytics.rca import rank
from netvigil.events import AnomalyRef, Metric
from netvigil.graph.importers import load_topology

CFG = DetectorConfig(min_points=2, clear_points=3, error_pps=1.0, error_clear_pps=0.5)


def feed(values: list[float], pps: float | None = None) -> list[tuple[int, str, str]]:
    det = SeriesDetector.for_signal("if.in_errors", CFG)
    out = []
    for i, v in enumerate(values):
        tr = det.observe(float(i), v, CFG, pps)
        if tr:
            out.append((i, tr.state, tr.kind))
    return out


def test_input_errors_open_after_min_points_and_clear_with_hysteresis() -> None:
    # a single burst is not a fault; 0.7 pps keeps an open anomaly open (clears below 0.5)
    vals = [0, 0, 5, 0, 3, 4, 0.7, 0.7, 0.2, 0.1, 0.0, 0]
    assert feed(vals) == [(5, "active", "errors"), (10, "cleared", "errors")]


def test_no_errors_no_anomaly() -> None:
    assert feed([0.0] * 50 + [0.9] * 5) == []


def test_loss_on_a_slow_link_opens_on_its_share_of_the_packets() -> None:
    # Marnet's 0.5 Mbit/s lab links: 75 kbit/s received, 9.4 packets/s; 5 % of them lost is
    # 0.5 errors/s, under the 1 error/s rate, but a share far over the 0.1 % harm share
    slow = [0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    assert feed(slow) == []  # no packet rate known: the rate alone
    assert feed(slow, pps=9.4) == [(3, "active", "errors"), (8, "cleared", "errors")]
    # a busy link's handful of errors is no fault: 0.5 errors/s of 10,000 packets/s is 0.005 %
    assert feed(slow, pps=10_000.0) == []


def test_the_processor_judges_errors_against_the_interface_s_received_packets() -> None:
    from netvigil.streams.detect import DetectorProcessor, DeviceState

    proc = DetectorProcessor(CFG)
    state = proc.new_state()
    lb = {"interface": "eth1"}
    opened = []
    for i in range(6):
        for name, value in (("if.in_bps", 75_000.0), ("if.in_errors", 0.5 if i >= 2 else 0.0)):
            m = Metric(ts=10.0 * i, device="r1", name=name, value=value, labels=lb)
            opened += asyncio.run(proc.process(m, state))
    assert [(a.entity, a.kind, a.state) for a in opened] == [("r1:eth1", "errors", "active")]
    # packets counted win over packets estimated from bits
    for name, value in (("if.in_pkts", 1e6), ("if.in_bps", 8.0)):
        m = Metric(ts=60.0, device="r1", name=name, value=value, labels=lb)
        asyncio.run(proc.process(m, state))
    assert state.pps["r1:eth1"] == (1e6, True)
    # a state pickled before packet rates were kept loads without them
    old = pickle.loads(pickle.dumps(state))
    del old.__dict__["pps"]
    again = pickle.loads(pickle.dumps(old))
    assert isinstance(again, DeviceState) and again.pps == {}


def ref(entity: str, kind: str, signal: str, onset: float = 0.0) -> AnomalyRef:
    return AnomalyRef(entity=entity, signal=signal, kind=kind, score=1.0, onset_ts=onset)


def test_errors_at_both_ends_point_at_the_link_with_packet_loss() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    causes = rank(
        topo, [ref(lk.a_if, "errors", "if.in_errors"), ref(lk.b_if, "errors", "if.in_errors")]
    )
    assert causes[0].entity == lk.id
    assert causes[0].kind == "link" and causes[0].fault == "packet_loss"
    assert "input errors" in causes[0].evidence[0]


def test_errors_at_one_end_still_name_its_link_before_a_congested_neighbour() -> None:
    topo = load_topology(None)
    lk = topo.link("core3--edge3")
    other = topo.link("core3--core4")
    causes = rank(
        topo,
        [
            ref(lk.b_if, "errors", "if.in_errors"),
            ref(other.a_if, "deviation", "if.out_bps", onset=30.0),
        ],
    )
    assert causes[0].entity == lk.id and causes[0].fault == "packet_loss"
