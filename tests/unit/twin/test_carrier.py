"""The carrier generator: exact device counts, three tiers, dual-homing (no single device
whose failure cuts another off), bundles, services on real paths, seeded, YAML round trip."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
import yaml

from netvigil.graph.base import entity_devices
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.carrier import CarrierSpec, generate

SPEC = CarrierSpec(devices=203, core_sites=4, regions=2, access_per_pop=8, services=30, seed=5)


def store() -> MemoryTopology:
    t = generate(SPEC).load_into(MemoryTopology())
    assert isinstance(t, MemoryTopology)
    return t


def test_counts_tiers_and_sites() -> None:
    t = store()
    roles = Counter(d.role for d in t.devices())
    assert len(t.devices()) == 203  # exactly what was asked, the remainder spread over POPs
    assert roles["core"] == 2 * SPEC.core_sites
    pops = roles["aggregation"] // 2
    assert roles["access"] == 203 - 2 * SPEC.core_sites - 2 * pops
    assert roles["access"] >= pops * SPEC.access_per_pop
    # every interface sits on a link: two per link
    ifs = sum(len(t.interfaces(d.name)) for d in t.devices())
    assert ifs == 2 * len(t.links())
    assert {s.region for s in t.sites()} == {"region0", "region1"}
    assert all(t.site(d.site) for d in t.devices())


def test_every_device_is_dual_homed_up_the_tiers() -> None:
    t = store()
    tier = {"access": 0, "aggregation": 1, "core": 2}
    for d in t.devices():
        up = [n for n in t.neighbors(d.name) if tier[t.device(n).role] > tier[d.role]]
        if d.role != "core":
            assert len(set(up)) == (2 if d.role == "access" else 1), d.name
        if d.role == "access":  # a bundle of parallel links to each of its POP's routers
            members = Counter(
                lk.other(d.name) for lk in t.links_of(d.name) if lk.other(d.name) in up
            )
            assert set(members.values()) == {SPEC.access_members}
            assert {t.device(n).site for n in up} == {d.site}
    # no single device whose failure cuts any other device off
    g = nx.Graph([(lk.a, lk.b) for lk in t.links()])
    assert nx.is_connected(g) and not list(nx.articulation_points(g))


def test_services_ride_connected_paths_between_access_devices() -> None:
    t = store()
    services = t.services()
    assert len(services) == SPEC.services
    for s in services:
        a, b = s.devices
        assert (
            t.device(a).role == t.device(b).role == "access"
            and t.device(a).site != t.device(b).site
        )
        g = nx.MultiGraph([entity_devices(lk) for lk in s.links])
        assert nx.has_path(g, a, b), s.name
        assert all(t.link(lk) for lk in s.links)


def test_the_same_seed_gives_the_same_network_and_yaml_round_trips(tmp_path: Path) -> None:
    first, again = generate(SPEC), generate(SPEC)
    assert first.to_yaml() == again.to_yaml()
    assert generate(CarrierSpec(**{**SPEC.__dict__, "seed": 6})).to_yaml() != first.to_yaml()
    path = tmp_path / "carrier.yaml"
    path.write_text(yaml.safe_dump(first.to_yaml()))
    loaded = load_topology(path)
    direct = store()
    assert sorted(loaded.links(), key=lambda lk: lk.id) == sorted(
        direct.links(), key=lambda lk: lk.id
    )
    assert sorted(loaded.devices(), key=lambda d: d.name) == sorted(
        direct.devices(), key=lambda d: d.name
    )
    assert sorted(s.name for s in loaded.services()) == sorted(s.name for s in direct.services())


def test_the_default_is_carrier_sized() -> None:
    net = generate()
    assert len(net.devices) == 10_000
    assert 90_000 <= 2 * len(net.links) <= 110_000


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="core_sites >= 3"):
        CarrierSpec(devices=5)
    with pytest.raises(ValueError, match="bundle"):
        CarrierSpec(agg_members=0)


def test_the_cli_writes_a_topology_the_importer_reads(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netvigil.cli import main

    path = tmp_path / "carrier.yaml"
    argv = ["graph", "generate", "--devices", "120", "--core-sites", "3", "-o", str(path)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert len(load_topology(path).devices()) == 120
