"""Root-cause ranking on the built-in topology for the three fault kinds of the first slice."""

from __future__ import annotations

import pytest

from netvigil.analytics.rca import rank
from netvigil.events import AnomalyRef
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology


@pytest.fixture(scope="module")
def topo() -> TopologyStore:
    return load_topology(None)


def ref(
    entity: str, kind: str = "down", signal: str = "if.oper_status", score: float = 1.0
) -> AnomalyRef:
    return AnomalyRef(entity=entity, signal=signal, kind=kind, score=score, onset_ts=0.0)


def test_both_ends_down_point_at_the_link(topo: TopologyStore) -> None:
    lk = topo.link("core1--edge1")
    causes = rank(topo, [ref(lk.a_if), ref(lk.b_if)])
    assert causes[0].entity == "core1--edge1"
    assert causes[0].kind == "link" and causes[0].fault == "down"
    assert causes[0].score > causes[1].score


def test_unreachable_device_and_facing_interfaces_point_at_the_device(topo: TopologyStore) -> None:
    facing = [lk.end(lk.other("edge4")) for lk in topo.links_of("edge4")]
    anomalies = [ref("edge4", signal="reachability")] + [ref(i) for i in facing]
    causes = rank(topo, anomalies)
    assert causes[0].entity == "edge4" and causes[0].kind == "device"
    assert causes[0].fault == "down"


def test_one_congested_direction_points_at_its_link_despite_side_effects(
    topo: TopologyStore,
) -> None:
    lk = topo.link("core2--core3")
    anomalies = [
        ref(lk.a_if, kind="threshold", signal="if.out_util", score=1.0),
        ref("core2", kind="deviation", signal="cpu.util", score=0.6),
    ]
    causes = rank(topo, anomalies)
    assert causes[0].entity == "core2--core3"
    assert causes[0].fault == "congestion"


def test_unknown_entities_and_empty_input(topo: TopologyStore) -> None:
    assert rank(topo, []) == []
    assert rank(topo, [ref("nosuch:eth0")]) == []
