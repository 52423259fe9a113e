"""LLDP discovery's pure core: tables in, changes out; the twin's LLDP keeps a graph current."""

from __future__ import annotations

import pytest

from netvigil.errors import GraphUnavailable
from netvigil.events import link_id
from netvigil.graph.base import Device, Link
from netvigil.graph.discovery.lldp import Change, LldpDiscovery, Neighbor, apply
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork

T0 = 1_767_571_200.0


def pairs(store: MemoryTopology) -> set[frozenset[str]]:
    return {frozenset({lk.a_if, lk.b_if}) for lk in store.links()}


def empty_copy(ref: MemoryTopology) -> MemoryTopology:
    store = MemoryTopology()
    store.load(devices=ref.devices())
    return store


def discover(net: TwinNetwork, d: LldpDiscovery, store: MemoryTopology, t: float) -> list[Change]:
    for dev, table in net.lldp_tables(t).items():
        d.observe(dev, table, t)
    changes = d.plan(store)
    assert apply(store, changes, []) == []
    return changes


def test_discovery_from_the_twin_builds_and_keeps_the_graph_current() -> None:
    ref = load_topology(None)
    assert isinstance(ref, MemoryTopology)
    lk = ref.link("core1--edge1")
    net = TwinNetwork(ref, [Fault("link_down", lk.id, T0 + 100, T0 + 400)], seed=1)
    store = empty_copy(ref)
    d = LldpDiscovery("lldp:twin", max_age_s=120)
    first = discover(net, d, store, T0)
    assert pairs(store) == pairs(ref)  # the whole topology, learned from LLDP alone
    assert {c.kind for c in first} == {"added"}
    assert all(x.source == "lldp:twin" and x.last_seen == T0 for x in store.links())
    # the link fails: both ends stop listing each other at the next poll -> removed
    changes = discover(net, d, store, T0 + 120)
    assert [(c.kind, c.link.id if c.link else None) for c in changes if c.kind != "seen"] == [
        ("removed", lk.id)
    ]
    assert frozenset({lk.a_if, lk.b_if}) not in pairs(store)
    seen = store.link("core2--edge1")
    assert seen.last_seen == T0 + 120  # confirmed links move their last-seen time on
    # it comes back
    changes = discover(net, d, store, T0 + 420)
    assert [c.kind for c in changes if c.kind != "seen"] == ["added"]
    assert pairs(store) == pairs(ref)


def test_a_silent_device_ages_out_but_inventory_links_stay() -> None:
    store = MemoryTopology()
    store.load(
        devices=[Device("a"), Device("b"), Device("c")],
        links=[Link("a--b", "a", "a:e0", "b", "b:e0", source="yaml")],
    )
    d = LldpDiscovery("lldp:snmp", max_age_s=60)
    d.observe("a", [Neighbor("e0", "b", "e0"), Neighbor("e1", "c", "e9")], 0.0)
    apply(store, d.plan(store), [])
    assert store.link("a--c").source == "lldp:snmp" and store.link("a--b").last_seen == 0.0
    assert store.link("a--b").source == "yaml"
    # nobody reports anything for longer than the hold time
    d.observe("b", [], 100.0)
    changes = d.plan(store)
    assert sorted((c.kind, c.link.id) for c in changes if c.link) == [
        ("removed", "a--c"),  # the discovered link goes; the inventory link is kept
    ]
    apply(store, changes, [])
    assert store.has("a--b") and not store.has("a--c")


def test_unknown_remote_systems_become_discovered_devices_and_self_is_ignored() -> None:
    store = MemoryTopology()
    store.add_device(Device("a"))
    d = LldpDiscovery("lldp:gnmi")
    d.observe("a", [Neighbor("e0", "new1", "p1"), Neighbor("e1", "a", "e2")], 5.0)
    changes = d.plan(store)
    assert [c.kind for c in changes] == ["device", "added"]
    apply(store, changes, [])
    assert store.device("new1").props == {"discovered": "lldp:gnmi"}
    assert store.link(link_id("a", "new1")).a_if == "a:e0"


class _Down(MemoryTopology):
    """A store whose server is away: every write fails as an unreachable Neo4j does."""

    def load(self, **kw: object) -> None:  # type: ignore[override]
        raise GraphUnavailable("Neo4j is unreachable")


def test_changes_are_kept_while_the_store_is_unreachable() -> None:
    down = _Down()
    d = LldpDiscovery()
    d.observe("a", [Neighbor("e0", "b", "e0")], 0.0)
    changes = d.plan(MemoryTopology())
    pending = apply(down, changes, [])
    assert pending == changes  # nothing lost
    back = MemoryTopology()
    back.load(devices=[Device("a"), Device("b")])
    assert apply(back, [], pending) == []
    assert back.has("a--b")


def test_other_errors_are_not_swallowed() -> None:
    d = LldpDiscovery()
    d.observe("a", [Neighbor("e0", "b", "e0")], 0.0)
    store = MemoryTopology()
    store.add_device(Device("a"))
    changes = [c for c in d.plan(store) if c.kind == "added"]  # without its new device
    with pytest.raises(Exception, match="unknown device"):
        apply(store, changes, [])
