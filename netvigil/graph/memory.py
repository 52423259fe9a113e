"""The embedded topology store: networkx in memory (``memory://``)."""

from __future__ import annotations

import networkx as nx

from netvigil.errors import TopologyError
from netvigil.graph.base import Device, Interface, Link

__all__ = ["MemoryTopology"]


class MemoryTopology:
    """A TopologyStore kept in a networkx multigraph of devices."""

    def __init__(self) -> None:
        self._g: nx.MultiGraph = nx.MultiGraph()
        self._devices: dict[str, Device] = {}
        self._links: dict[str, Link] = {}
        self._ifaces: dict[str, Interface] = {}
        self._hops: dict[str, dict[str, int]] | None = None

    # -------------------------------------------------------------- writes

    def add_device(self, device: Device) -> None:
        if ":" in device.name or "--" in device.name:
            raise TopologyError(f"device name {device.name!r} may not contain ':' or '--'")
        self._devices[device.name] = device
        self._g.add_node(device.name)
        self._hops = None

    def add_link(self, link: Link) -> None:
        for dev in (link.a, link.b):
            if dev not in self._devices:
                raise TopologyError(f"link {link.id} names unknown device {dev!r}")
        for ifid in (link.a_if, link.b_if):
            known = self._ifaces.get(ifid)
            if known and known.link not in (None, link.id):
                raise TopologyError(f"interface {ifid} is already on link {known.link}")
        old = self._links.get(link.id)
        if old is not None:
            self._g.remove_edge(old.a, old.b, key=old.id)
        self._links[link.id] = link
        self._g.add_edge(link.a, link.b, key=link.id)
        for dev, ifid in ((link.a, link.a_if), (link.b, link.b_if)):
            self._ifaces[ifid] = Interface(ifid, dev, ifid.partition(":")[2], link.id)
        self._hops = None

    # -------------------------------------------------------------- reads

    def devices(self) -> list[Device]:
        return list(self._devices.values())

    def links(self) -> list[Link]:
        return list(self._links.values())

    def device(self, name: str) -> Device:
        try:
            return self._devices[name]
        except KeyError:
            raise TopologyError(f"unknown device {name!r}") from None

    def link(self, link_id: str) -> Link:
        try:
            return self._links[link_id]
        except KeyError:
            raise TopologyError(f"unknown link {link_id!r}") from None

    def interfaces(self, device: str) -> list[Interface]:
        self.device(device)
        return [i for i in self._ifaces.values() if i.device == device]

    def interface(self, interface_id: str) -> Interface:
        try:
            return self._ifaces[interface_id]
        except KeyError:
            raise TopologyError(f"unknown interface {interface_id!r}") from None

    def links_of(self, device: str) -> list[Link]:
        self.device(device)
        return [self._links[k] for _, _, k in self._g.edges(device, keys=True)]

    def neighbors(self, device: str) -> list[str]:
        self.device(device)
        return sorted(set(self._g.neighbors(device)))

    def hops(self, a: str, b: str) -> int | None:
        if self._hops is None:
            self._hops = dict(nx.all_pairs_shortest_path_length(self._g))
        return self._hops.get(a, {}).get(b)

    def k_hop(self, devices: set[str], k: int) -> set[str]:
        out: set[str] = set()
        for d in devices:
            if d in self._g:
                out |= set(nx.single_source_shortest_path_length(self._g, d, cutoff=k))
        return out

    def has(self, entity: str) -> bool:
        return entity in self._devices or entity in self._links or entity in self._ifaces
