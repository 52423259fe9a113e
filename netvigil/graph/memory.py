"""The embedded topology store: networkx in memory (``memory://``).

Every call is a dictionary lookup or a small graph walk in this process, so async callers
may call it inline (``io_bound = False``; see :mod:`netvigil.graph.aio`).
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from netvigil.errors import TopologyError
from netvigil.graph import algorithms as alg
from netvigil.graph.base import (
    BlastRadius,
    Device,
    Interface,
    Link,
    Route,
    Service,
    Site,
    Subgraph,
    entity_devices,
)

__all__ = ["MemoryTopology"]


class MemoryTopology:
    """A TopologyStore kept in a networkx multigraph of devices."""

    io_bound = False

    def __init__(self) -> None:
        self._g: nx.MultiGraph = nx.MultiGraph()
        self._sites: dict[str, Site] = {}
        self._devices: dict[str, Device] = {}
        self._links: dict[str, Link] = {}
        self._ifaces: dict[str, Interface] = {}
        self._by_device: dict[str, set[str]] = {}
        self._services: dict[str, Service] = {}
        self._hops: dict[str, dict[str, int]] = {}
        self._gen = 0
        #: bumped by a change of devices or links (the graph), not of sites or services
        self._shape = 0
        #: where one failure can split the graph, for the shape it was computed at
        self._cuts: tuple[int, alg.Cuts] | None = None
        self._rank_view: RankView | None = None

    def _changed(self, shape: bool = True) -> None:
        self._gen += 1
        if shape:
            self._shape += 1
            self._hops = {}

    # -------------------------------------------------------------- writes

    def add_site(self, site: Site) -> None:
        self._sites[site.name] = site
        self._changed(shape=False)

    def add_device(self, device: Device) -> None:
        if not device.name or ":" in device.name or "--" in device.name:
            raise TopologyError(
                f"device name {device.name!r} may not be empty or contain ':' or '--'"
            )
        self._devices[device.name] = device
        self._by_device.setdefault(device.name, set())
        self._g.add_node(device.name)
        self._changed()

    def add_link(self, link: Link) -> None:
        for dev in (link.a, link.b):
            if dev not in self._devices:
                raise TopologyError(f"link {link.id} names unknown device {dev!r}")
        for ifid in (link.a_if, link.b_if):
            known = self._ifaces.get(ifid)
            if known and known.link not in (None, link.id):
                raise TopologyError(f"interface {ifid} is already on link {known.link}")
        if link.id in self._links:
            self._drop_link(link.id)
        self._links[link.id] = link
        self._g.add_edge(link.a, link.b, key=link.id, metric=link.igp_metric)
        for dev, ifid in ((link.a, link.a_if), (link.b, link.b_if)):
            self._ifaces[ifid] = Interface(ifid, dev, ifid.partition(":")[2], link.id)
            self._by_device[dev].add(ifid)
        self._changed()

    def add_service(self, service: Service) -> None:
        for lk in service.links:
            self.link(lk)
        for dev in service.devices:
            self.device(dev)
        self._services[service.name] = service
        self._changed(shape=False)

    def load(
        self,
        *,
        sites: Iterable[Site] = (),
        devices: Iterable[Device] = (),
        links: Iterable[Link] = (),
        services: Iterable[Service] = (),
    ) -> None:
        for s in sites:
            self.add_site(s)
        for d in devices:
            self.add_device(d)
        for lk in links:
            self.add_link(lk)
        for svc in services:
            self.add_service(svc)

    def _drop_link(self, link_id: str) -> None:
        old = self._links.pop(link_id)
        self._g.remove_edge(old.a, old.b, key=old.id)
        for dev, ifid in ((old.a, old.a_if), (old.b, old.b_if)):
            self._ifaces.pop(ifid, None)
            self._by_device.get(dev, set()).discard(ifid)

    def remove_link(self, link_id: str) -> None:
        if link_id in self._links:
            self._drop_link(link_id)
            self._changed()

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def generation(self) -> int:
        return self._gen

    # -------------------------------------------------------------- lookups

    def sites(self) -> list[Site]:
        return list(self._sites.values())

    def devices(self) -> list[Device]:
        return list(self._devices.values())

    def links(self) -> list[Link]:
        return list(self._links.values())

    def services(self) -> list[Service]:
        return list(self._services.values())

    def site(self, name: str) -> Site:
        try:
            return self._sites[name]
        except KeyError:
            raise TopologyError(f"unknown site {name!r}") from None

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

    def service(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise TopologyError(f"unknown service {name!r}") from None

    def interfaces(self, device: str) -> list[Interface]:
        self.device(device)
        return [self._ifaces[i] for i in sorted(self._by_device[device])]

    def interface(self, interface_id: str) -> Interface:
        try:
            return self._ifaces[interface_id]
        except KeyError:
            raise TopologyError(f"unknown interface {interface_id!r}") from None

    def links_of(self, device: str) -> list[Link]:
        self.device(device)
        return sorted(
            (self._links[k] for _, _, k in self._g.edges(device, keys=True)), key=lambda lk: lk.id
        )

    def has(self, entity: str) -> bool:
        return (
            entity in self._devices
            or entity in self._links
            or entity in self._ifaces
            or entity in self._services
        )

    # -------------------------------------------------------------- queries

    def neighbors(self, device: str) -> list[str]:
        self.device(device)
        return sorted(set(self._g.neighbors(device)) - {device})

    def hops(self, a: str, b: str) -> int | None:
        if a not in self._g or b not in self._g:
            return None
        dist = self._hops.get(a)
        if dist is None:
            dist = self._hops[a] = dict(nx.single_source_shortest_path_length(self._g, a))
        return dist.get(b)

    def k_hop(self, devices: set[str], k: int) -> set[str]:
        out: set[str] = set()
        for d in devices:
            if d in self._g:
                out |= set(nx.single_source_shortest_path_length(self._g, d, cutoff=k))
        return out

    def _entity_devices(self, entities: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for e in entities:
            if e in self._services:
                svc = self._services[e]
                out.update(svc.devices)
                for lk in svc.links:
                    out.update(entity_devices(lk))
            else:
                out.update(entity_devices(e))
        return out

    def subgraph(self, entities: Iterable[str], k: int) -> Subgraph:
        names = self.k_hop(self._entity_devices(entities), k)
        links = {key for u, v, key in self._g.edges(names, keys=True) if u in names and v in names}
        return Subgraph(
            devices=tuple(self._devices[n] for n in sorted(names)),
            links=tuple(self._links[lk] for lk in sorted(links)),
        )

    def neighbourhood(self, entities: Iterable[str]) -> Subgraph:
        names, links = self._around(entities)
        return Subgraph(
            devices=tuple(self._devices[n] for n in sorted(names)),
            links=tuple(self._links[lk] for lk in sorted(links)),
        )

    def neighbourhood_devices(self, entities: Iterable[str]) -> set[str]:
        """The devices ``neighbourhood(entities)`` holds, without making the subgraph."""
        return self._around(entities)[0]

    def _around(self, entities: Iterable[str]) -> tuple[set[str], set[str]]:
        """The devices and links of ``neighbourhood(entities)``: every link of the entities'
        devices (read through their interfaces, a dictionary read each rather than a walk of
        networkx's edge views) and the devices at both ends."""
        seeds = {d for d in self._entity_devices(entities) if d in self._devices}
        ifaces, by_device = self._ifaces, self._by_device
        links = {lk for d in seeds for i in by_device[d] if (lk := ifaces[i].link) is not None}
        known = self._links
        names = seeds | {d for lk in links for d in (known[lk].a, known[lk].b)}
        return names, links

    def _avoid(self, avoid: Iterable[str]) -> tuple[set[str], set[str]]:
        devs: set[str] = set()
        links: set[str] = set()
        for e in avoid:
            if e in self._links:
                links.add(e)
            elif e in self._ifaces:
                lk = self._ifaces[e].link
                if lk:
                    links.add(lk)
            else:
                devs.add(e)
        return devs, links

    def shortest_path(self, a: str, b: str, *, avoid: Iterable[str] = ()) -> Route | None:
        self.device(a)
        self.device(b)
        devs, links = self._avoid(avoid)
        found = alg.routes(self._g, a, b, 1, avoid_devices=devs, avoid_links=links)
        return found[0] if found else None

    def alternate_paths(self, a: str, b: str, k: int = 3) -> list[Route]:
        self.device(a)
        self.device(b)
        return alg.routes(self._g, a, b, k)

    def rank_view(self) -> RankView:
        """What ranking reads of this store (:class:`RankView`), one object per shape of the
        graph (a change of devices or links makes a new one; sites and services do not)."""
        if self._rank_view is None or self._rank_view.shape != self._shape:
            self._rank_view = RankView(self, self._shape)
        return self._rank_view

    def warm(self) -> alg.Cuts:
        """What blast radii read of the graph as it is (where one failure can split it:
        linear in its size, ~0.6 CPU s at 10,000 devices), computed now if the devices or
        links changed since; a reader calls it ahead so the first incident does not pay."""
        if self._cuts is None or self._cuts[0] != self._shape:
            self._cuts = (self._shape, alg.cuts(self._g))
        return self._cuts[1]

    def blast_radius(self, entity: str) -> BlastRadius:
        devs, links = self._failed(entity)
        cuts = self.warm()
        return alg.blast_radius(
            self._g,
            entity,
            self._links,
            self._services.values(),
            failed_devices=devs,
            failed_links=links,
            cuts=cuts,
        )

    def _failed(self, entity: str) -> tuple[set[str], set[str]]:
        if entity in self._devices:
            return {entity}, {lk.id for lk in self.links_of(entity)}
        if entity in self._links:
            return set(), {entity}
        if entity in self._ifaces:
            lk = self._ifaces[entity].link
            return set(), {lk} if lk else set()
        raise TopologyError(f"unknown entity {entity!r}: give a device, interface or link id")

    def common_upstream(self, entities: Iterable[str], root: str | None = None) -> list[str]:
        root = root if root is not None else alg.default_root(self._g)
        if root is None:
            return []
        self.device(root)
        common: set[str] | None = None
        for e in entities:
            for d in entity_devices(e):
                self.device(d)
                on_path = set(alg.must_pass(self._g, root, d))
                common = on_path if common is None else common & on_path
        dist = dict(nx.single_source_shortest_path_length(self._g, root))
        return sorted(common or (), key=lambda n: (-dist[n], n))


class RankView:
    """The store as ranking reads it (``netvigil.analytics.rca.Topo``), answering as
    ``rca.View(store.neighbourhood(...))`` answers for the devices the neighbourhood holds
    whole (the symptoms' devices and their neighbours, all ranking reads): an interface is
    known only on a link, a device's links come sorted by id (a link from a device to itself
    twice), services are not entities. Read from the store when asked, each device's links
    kept; valid for the shape of the graph it was made at (``shape``)."""

    def __init__(self, store: MemoryTopology, shape: int) -> None:
        self.shape = shape
        self._store = store
        self._links_of: dict[str, list[Link]] = {}

    def has(self, entity: str) -> bool:
        s = self._store
        if entity in s._devices or entity in s._links:
            return True
        iface = s._ifaces.get(entity)
        return iface is not None and iface.link is not None

    def interface(self, interface_id: str) -> Interface:
        iface = self._store._ifaces.get(interface_id)
        if iface is None or iface.link is None:
            raise TopologyError(f"unknown interface {interface_id!r}")
        return iface

    def link(self, link_id: str) -> Link:
        return self._store.link(link_id)

    def links_of(self, device: str) -> list[Link]:
        found = self._links_of.get(device)
        if found is None:
            s = self._store
            ids = sorted(
                {k for i in s._by_device.get(device, ()) if (k := s._ifaces[i].link) is not None}
            )
            found = []
            for link in (s._links[k] for k in ids):
                found += [link] * ((link.a == device) + (link.b == device))
            self._links_of[device] = found
        return list(found)
