"""LLDP discovery against real agents: net-snmp's snmpd serving LLDP-MIB (pass_persist), and
the twin's gNMI endpoints (openconfig-lldp) through pygnmi; into both stores."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.graph.base import TopologyStore
from netvigil.graph.discovery.gnmi import get_lldp
from netvigil.graph.discovery.lldp import LldpDiscovery, Neighbor, apply
from netvigil.graph.discovery.snmp import walk_lldp
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from provision.servers import snmpd

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
T0 = 1_767_571_200.0
DEVICES = ["core1", "core2", "edge1"]


def write_table(path: Path, name: str, table: list[Neighbor]) -> None:
    ports = sorted({n.local_port for n in table})
    num = {p: i + 1 for i, p in enumerate(ports)}
    path.write_text(
        json.dumps(
            {
                "sysname": name,
                "ports": [{"num": num[p], "name": p} for p in ports],
                "remotes": [
                    {
                        "port": num[n.local_port],
                        "index": 1,
                        "sysname": n.remote_system,
                        "port_id": n.remote_port,
                    }
                    for n in table
                ],
            }
        )
    )


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, Path]]]:
    """One snmpd per twin device, each serving that device's LLDP table from a JSON file."""
    base = Path(tmp_path_factory.mktemp("snmpd"))
    started: dict[str, tuple[int, Path]] = {}
    try:
        for dev in DEVICES:
            table = base / f"{dev}.json"
            write_table(table, dev, [])
            script = REPO / "provision" / "lldp_pass_persist.py"
            facts = snmpd.start(
                base / dev,
                extra_conf=f"pass_persist .1.0.8802.1.1.2 {sys.executable} {script} {table}",
            )
            started[dev] = (int(facts["port"]), table)  # type: ignore[call-overload]
        yield started
    finally:
        for dev in started:
            snmpd.stop(base / dev)


def test_snmp_lldp_discovery_follows_the_twin(
    agents: dict[str, tuple[int, Path]], store: TopologyStore
) -> None:
    ref = load_topology(None)
    lk = ref.link("core1--edge1")
    net = TwinNetwork(ref, [Fault("link_down", lk.id, T0 + 60, T0 + 600)], seed=1)
    store.load(devices=ref.devices())
    disc = LldpDiscovery("lldp:snmp", max_age_s=300)

    async def poll(t: float) -> None:
        tables = net.lldp_tables(t)
        for dev, (_, path) in agents.items():
            write_table(path, dev, tables[dev])
        for dev, (port, _) in agents.items():
            name, rows = await walk_lldp("127.0.0.1", port)
            assert name == dev
            disc.observe(name, rows, t)
        assert apply(store, disc.plan(store), []) == []

    asyncio.run(poll(T0))
    want = {frozenset({x.a_if, x.b_if}) for x in ref.links() if x.a in DEVICES or x.b in DEVICES}
    got = {frozenset({x.a_if, x.b_if}) for x in store.links()}
    assert got == want  # every link of the polled devices, with the twin's interface names
    assert all(x.source == "lldp:snmp" and x.last_seen == T0 for x in store.links())
    asyncio.run(poll(T0 + 120))  # core1--edge1 is down: both ends stop reporting it
    assert not store.has(lk.id) and store.link("core2--edge1").last_seen == T0 + 120
    asyncio.run(poll(T0 + 660))  # restored
    assert store.has(lk.id) and store.link(lk.id).last_seen == T0 + 660


def test_gnmi_lldp_discovery_from_the_twin_endpoints() -> None:
    from netvigil.twin.gnmi import serve_gnmi
    from netvigil.twin.telemetry import TwinTelemetry

    ref = load_topology(None)
    net = TwinNetwork(ref, seed=1)
    telemetry = TwinTelemetry(ref, step_s=10.0, start=T0)
    for e in net.step(T0):
        telemetry.observe(e)

    async def run() -> MemoryTopology:
        names = [d.name for d in ref.devices()]
        servers, ports = await serve_gnmi(telemetry, net, names)
        try:
            disc = LldpDiscovery("lldp:gnmi")
            for dev in names:
                disc.observe(dev, await get_lldp("127.0.0.1", ports[dev]), T0)
            store = MemoryTopology()
            store.load(devices=ref.devices())
            apply(store, disc.plan(store), [])
            return store
        finally:
            for s in servers:
                await s.stop(None)

    store = asyncio.run(run())
    assert {frozenset({x.a_if, x.b_if}) for x in store.links()} == {
        frozenset({x.a_if, x.b_if}) for x in ref.links()
    }


def test_discovery_keeps_changes_while_neo4j_is_down(neo4j_server_dir: Path) -> None:
    """Neo4j stops mid-discovery: the changes wait and land once it is back."""
    from netvigil.graph.neo4j import Neo4jTopology
    from provision.servers import neo4j as server

    facts = server.status(neo4j_server_dir)
    store = Neo4jTopology(str(facts["url"]), retry_s=2.0)
    store.clear()
    ref = load_topology(None)
    store.load(devices=ref.devices())
    disc = LldpDiscovery("lldp:twin")
    net = TwinNetwork(ref, seed=1)
    for dev, table in net.lldp_tables(T0).items():
        disc.observe(dev, table, T0)
    changes = disc.plan(store)
    server.stop(neo4j_server_dir)
    try:
        pending = apply(store, changes, [])
        assert pending == changes  # nothing written, nothing lost
    finally:
        server.start(neo4j_server_dir, int(facts["port"]))  # type: ignore[call-overload]
    assert apply(store, [], pending) == []
    assert len(store.links()) == len(ref.links())
    store.close()
