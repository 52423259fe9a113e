"""Packet loss as the detectors and RCA see it: input errors open a strong anomaly, and the
link whose interfaces count them is the root cause."""

from __future__ import annotations

from netvigil.analytics.detector import DetectorConfig, SeriesDetector
from netvigil.analytics.rca import rank
from netvigil.events import AnomalyRef
from netvigil.graph.importers import load_topology

CFG = DetectorConfig(min_points=2, clear_points=3, error_pps=1.0, error_clear_pps=0.5)


def feed(values: list[float]) -> list[tuple[int, str, str]]:
    det = SeriesDetector.for_signal("if.in_errors", CFG)
    out = []
    for i, v in enumerate(values):
        tr = det.observe(float(i), v, CFG)
        if tr:
            out.append((i, tr.state, tr.kind))
    return out


def test_input_errors_open_after_min_points_and_clear_with_hysteresis() -> None:
    # a single burst is not a fault; 0.7 pps keeps an open anomaly open (clears below 0.5)
    vals = [0, 0, 5, 0, 3, 4, 0.7, 0.7, 0.2, 0.1, 0.0, 0]
    assert feed(vals) == [(5, "active", "errors"), (10, "cleared", "errors")]


def test_no_errors_no_anomaly() -> None:
    assert feed([0.0] * 50 + [0.9] * 5) == []


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
