"""The Kafka provisioning's cluster layout (no JVM started here: the cluster itself is tested
in tests/integration/kafka/test_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from provision.servers.kafka import _new_facts, _node_dir, _nodes, _properties


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_a_cluster_has_its_own_ports_and_directories_per_node(tmp_path: Path) -> None:
    facts = _new_facts(tmp_path, 3, None)
    nodes = _nodes(facts)
    assert [n["id"] for n in nodes] == [1, 2, 3]
    ports = [p for n in nodes for p in (n["port"], n["controller_port"])]
    assert len(set(ports)) == 6
    dirs = {_node_dir(tmp_path, facts, n["id"]) for n in nodes}
    assert dirs == {tmp_path / f"node-{i}" for i in (1, 2, 3)}


def test_three_nodes_replicate_three_times_and_need_two_in_sync(tmp_path: Path) -> None:
    p = _props(_properties(tmp_path, 2, 9092, 9093, "1@a:1,2@b:2,3@c:3", 3))
    assert p["node.id"] == "2" and p["controller.quorum.voters"] == "1@a:1,2@b:2,3@c:3"
    assert p["default.replication.factor"] == p["offsets.topic.replication.factor"] == "3"
    assert p["transaction.state.log.replication.factor"] == "3"
    assert p["min.insync.replicas"] == p["transaction.state.log.min.isr"] == "2"


def test_a_single_broker_keeps_its_layout(tmp_path: Path) -> None:
    facts = _new_facts(tmp_path, 1, 45678)
    assert facts["port"] == 45678 and "nodes" not in facts
    assert _node_dir(tmp_path, facts, 1) == tmp_path
    p = _props(_properties(tmp_path, 1, 45678, 45679, "1@127.0.0.1:45679", 1))
    assert p["default.replication.factor"] == p["min.insync.replicas"] == "1"
