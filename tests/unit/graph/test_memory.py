"""The embedded topology store and the topology importers."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.errors import TopologyError
from netvigil.graph.base import Device, Link, entity_devices
from netvigil.graph.importers import load_topology, parse_capacity
from netvigil.graph.memory import MemoryTopology
from tests.conftest import shared_data


def test_builtin_topology_shape() -> None:
    t = load_topology(None)
    assert len(t.devices()) == 8 and len(t.links()) == 13
    assert t.neighbors("edge1") == ["core1", "core2"]
    assert t.hops("edge1", "edge3") == 3
    assert t.k_hop({"edge1"}, 1) == {"edge1", "core1", "core2"}
    # vendor naming styles come from a table
    names = {i.name for i in t.interfaces("core3")}
    assert all(n.startswith("ge-0/0/") for n in names)
    lk = t.link("core1--edge1")
    assert t.interface(lk.a_if).link == lk.id
    assert lk.capacity_bps == 40e9


def test_yaml_errors_and_names(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("devices: [{name: a}, {name: b}]\nlinks: [{a: a, b: c}]\n")
    with pytest.raises(TopologyError, match="unknown device 'c'"):
        load_topology(f)
    f.write_text("devices: [{name: 'a:b'}]\n")
    with pytest.raises(TopologyError, match="may not contain"):
        load_topology(f)
    f.write_text("just text")
    with pytest.raises(TopologyError, match="'devices' list"):
        load_topology(f)
    with pytest.raises(TopologyError, match="does not exist"):
        load_topology(tmp_path / "none.yaml")
    with pytest.raises(TopologyError, match="unknown topology format"):
        load_topology(f.rename(tmp_path / "t.txt"))


def test_inventories_are_read_as_yaml_1_2(tmp_path: Path) -> None:
    """Core-schema scalars: ``no`` a name, ``1e10`` a number; a repeated key, bad YAML and
    several documents are clear errors."""
    f = tmp_path / "t.yaml"
    f.write_text(
        "devices: [{name: a, vendor: no}, {name: b}]\n"
        "links: [{a: a, b: b, capacity: 1e10, igp_metric: 010}]\n"
    )
    t = load_topology(f)
    assert t.device("a").vendor == "no"
    lk = t.link("a--b")
    assert (lk.capacity_bps, lk.igp_metric) == (1e10, 10)
    for bad, why in (
        ("devices: [{name: a, name: b}]\n", "not valid YAML.*duplicate"),
        ("devices: [{name: a}\n", "not valid YAML"),
        ("devices: [{name: a}]\n---\ndevices: []\n", "'devices' list"),
    ):
        f.write_text(bad)
        with pytest.raises(TopologyError, match=why):
            load_topology(f)


def test_parallel_links_get_distinct_ids(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("devices: [{name: a}, {name: b}]\nlinks: [{a: a, b: b}, {a: b, b: a}]\n")
    t = load_topology(f)
    assert sorted(lk.id for lk in t.links()) == ["a--b", "a--b#2"]
    assert entity_devices("a--b#2") == ("a", "b")


def test_store_rejects_inconsistent_links() -> None:
    t = MemoryTopology()
    t.add_device(Device("a"))
    t.add_device(Device("b"))
    t.add_device(Device("c"))
    t.add_link(Link("a--b", "a", "a:1", "b", "b:1"))
    with pytest.raises(TopologyError, match="already on link"):
        t.add_link(Link("a--c", "a", "a:1", "c", "c:1"))
    with pytest.raises(TopologyError):
        t.device("z")
    assert t.has("a:1") and t.has("a--b") and t.has("a") and not t.has("q")


def test_capacity_parsing() -> None:
    assert parse_capacity("100G") == 100e9
    assert parse_capacity("10 Mbps") == 10e6
    assert parse_capacity(2.5e9) == 2.5e9
    with pytest.raises(TopologyError):
        parse_capacity("fast")


def test_every_topology_zoo_file_imports() -> None:
    files = sorted(shared_data("topologies").glob("*.graphml"))
    assert len(files) > 100
    for f in files:
        t = load_topology(f)
        assert t.devices(), f.name
        for lk in t.links():
            assert t.interface(lk.a_if).link == lk.id


def test_the_neighbourhood_is_every_link_of_the_entities_devices_and_their_far_ends() -> None:
    """Checked against each device's links (``links_of``) on a Zoo network with parallel
    links, for device, interface and link entities; ``neighbourhood_devices`` names the same
    devices without making the subgraph."""
    t = load_topology(shared_data("topologies", "Cogentco.graphml"))
    parallel = sorted(lk.id for lk in t.links() if "#" in lk.id)
    assert parallel, "the case needs parallel links"
    some = sorted(d.name for d in t.devices())[::17]
    cases = [
        [some[0]],
        some,
        [parallel[0]],
        [t.link(parallel[-1]).a_if, some[3]],
        [lk.b_if for lk in t.links()[::9]],
        ["not-a-device"],
    ]
    for entities in cases:
        sub = t.neighbourhood(entities)
        seeds = {d for e in entities for d in entity_devices(e)} & {d.name for d in t.devices()}
        links = {lk.id: lk for d in seeds for lk in t.links_of(d)}
        assert [lk.id for lk in sub.links] == sorted(links)
        names = seeds | {x for lk in links.values() for x in (lk.a, lk.b)}
        assert [d.name for d in sub.devices] == sorted(names)
        assert t.neighbourhood_devices(entities) == names
