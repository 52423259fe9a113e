"""The topology model and the TopologyStore interface every implementation passes.

Model: sites; devices (role, vendor, site, free-form properties); interfaces
(``device:ifname``); links between two interfaces (``devA--devB``, capacity, IGP metric, and
where the link was learned from: ``source`` and ``last_seen`` for discovered links); services
that traverse links and depend on devices. Entity ids follow :mod:`netvigil.events`.

The interface is synchronous on purpose: importers, the CLI and the twin are synchronous, and
one interface keeps the two stores honest (one contract suite). Async processors reach a store
through :class:`netvigil.graph.aio.AsyncTopology`, which runs calls to a network-backed store
in a worker thread so that a slow Neo4j never blocks the event loop.

Queries (the same answers from every store; ties are broken by name so they are stable):

- ``neighbors``, ``hops``, ``k_hop``, ``subgraph`` and ``neighbourhood``: adjacency, the k-hop
  neighbourhood, and the entities with their incident links (what RCA reads);
- ``shortest_path`` and ``alternate_paths``: IGP-metric routes, optionally avoiding entities;
- ``blast_radius``: what an entity's failure takes down (its links, devices cut off from the
  rest of the network, services traversing or depending on any of them);
- ``common_upstream``: devices on *every* shortest path from a vantage point (the poller) to
  each of a set of entities: the shared place a set of symptoms could come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "BlastRadius",
    "Device",
    "Interface",
    "Link",
    "Route",
    "Service",
    "Site",
    "Subgraph",
    "TopologyStore",
    "entity_devices",
    "entity_kind",
]


@dataclass(frozen=True)
class Site:
    name: str
    region: str = ""
    props: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Device:
    name: str
    role: str = ""
    vendor: str = ""
    site: str = ""
    weight: float = 1.0
    """Relative traffic weight (gravity model of the twin)."""
    props: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Interface:
    id: str
    device: str
    name: str
    link: str | None = None


@dataclass(frozen=True)
class Link:
    id: str
    a: str
    a_if: str
    b: str
    b_if: str
    capacity_bps: float = 10e9
    igp_metric: int = 10
    props: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    source: str = field(default="", compare=False)
    """Where the link was learned: ``yaml``, ``graphml``, ``lldp:snmp``, ``lldp:gnmi``, ..."""
    last_seen: float | None = field(default=None, compare=False)
    """Event time the link was last confirmed by discovery; None for inventory links."""

    def end(self, device: str) -> str:
        """The interface id of this link on ``device``."""
        if device == self.a:
            return self.a_if
        if device == self.b:
            return self.b_if
        raise KeyError(f"{device} is not an end of {self.id}")

    def other(self, device: str) -> str:
        """The device at the other end from ``device``."""
        return self.b if device == self.a else self.a


@dataclass(frozen=True)
class Service:
    """Something customers use that rides on the network: a VPN, a path, an application."""

    name: str
    kind: str = ""
    links: tuple[str, ...] = ()
    """Links the service traverses."""
    devices: tuple[str, ...] = ()
    """Devices the service depends on (e.g. its PE routers)."""
    props: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Route:
    """A loop-free path between two devices and its total IGP cost."""

    devices: tuple[str, ...]
    links: tuple[str, ...]
    cost: int


@dataclass(frozen=True)
class Subgraph:
    """A part of the topology: devices and the links among them."""

    devices: tuple[Device, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True)
class BlastRadius:
    """What the failure of ``entity`` affects."""

    entity: str
    links: tuple[str, ...]
    """Links that go down with it."""
    devices: tuple[str, ...]
    """Devices that fail or are cut off from the rest of the network."""
    services: tuple[str, ...]
    """Services that traverse a failed link or depend on a failed or cut-off device."""


class TopologyStore(Protocol):
    """What the other stages may ask of the topology (see the module docstring)."""

    # ---------------------------------------------------------------- writes

    def add_site(self, site: Site) -> None: ...

    def add_device(self, device: Device) -> None: ...

    def add_link(self, link: Link) -> None:
        """Insert or replace a link (same id); both devices must exist."""
        ...

    def add_service(self, service: Service) -> None:
        """Insert or replace a service; its links and devices must exist."""
        ...

    def load(
        self,
        *,
        sites: Iterable[Site] = (),
        devices: Iterable[Device] = (),
        links: Iterable[Link] = (),
        services: Iterable[Service] = (),
    ) -> None:
        """Upsert many entities at once (batched where the store can)."""
        ...

    def remove_link(self, link_id: str) -> None:
        """Remove a link and its interfaces; unknown ids are ignored."""
        ...

    def clear(self) -> None:
        """Remove everything."""
        ...

    def generation(self) -> int:
        """A number that changes whenever the topology changes (for caches)."""
        ...

    # ---------------------------------------------------------------- lookups

    def sites(self) -> list[Site]: ...

    def devices(self) -> list[Device]: ...

    def links(self) -> list[Link]: ...

    def services(self) -> list[Service]: ...

    def site(self, name: str) -> Site:
        """Raises TopologyError for an unknown site."""
        ...

    def device(self, name: str) -> Device:
        """Raises TopologyError for an unknown device."""
        ...

    def link(self, link_id: str) -> Link:
        """Raises TopologyError for an unknown link."""
        ...

    def service(self, name: str) -> Service:
        """Raises TopologyError for an unknown service."""
        ...

    def interfaces(self, device: str) -> list[Interface]: ...

    def interface(self, interface_id: str) -> Interface:
        """Raises TopologyError for an unknown interface."""
        ...

    def links_of(self, device: str) -> list[Link]: ...

    def has(self, entity: str) -> bool:
        """Whether the entity (device, interface, link or service) is known."""
        ...

    # ---------------------------------------------------------------- queries

    def neighbors(self, device: str) -> list[str]:
        """Adjacent devices, sorted."""
        ...

    def hops(self, a: str, b: str) -> int | None:
        """Hop count between two devices; None if disconnected or unknown."""
        ...

    def k_hop(self, devices: set[str], k: int) -> set[str]:
        """Devices within ``k`` hops of any of ``devices`` (including them)."""
        ...

    def subgraph(self, entities: Iterable[str], k: int) -> Subgraph:
        """The devices within ``k`` hops of the entities' devices and the links among them."""
        ...

    def neighbourhood(self, entities: Iterable[str]) -> Subgraph:
        """The entities' devices, every link incident to them, and the devices at the far ends.

        What root-cause ranking reads: smaller than ``subgraph(entities, 1)``, which also holds
        the links among the neighbours (many, around a hub).
        """
        ...

    def shortest_path(self, a: str, b: str, *, avoid: Iterable[str] = ()) -> Route | None:
        """The least-IGP-cost route from ``a`` to ``b`` not using the ``avoid`` entities."""
        ...

    def alternate_paths(self, a: str, b: str, k: int = 3) -> list[Route]:
        """Up to ``k`` loop-free routes by increasing cost (the first is the shortest)."""
        ...

    def blast_radius(self, entity: str) -> BlastRadius:
        """What the failure of a device, interface or link takes with it."""
        ...

    def common_upstream(self, entities: Iterable[str], root: str | None = None) -> list[str]:
        """Devices on every shortest path from ``root`` to each entity, nearest first.

        ``root`` is the vantage point (where the poller sits); by default the device with the
        most links (ties: first name).
        """
        ...


def entity_devices(entity: str) -> tuple[str, ...]:
    """The device(s) an entity id is on: one for a device or interface, two for a link."""
    if "--" in entity:
        a, _, b = entity.partition("--")
        return (a, b.partition("#")[0])
    return (entity.partition(":")[0],)


def entity_kind(entity: str) -> str:
    """``link``, ``interface`` or ``device`` from the shape of an entity id."""
    if "--" in entity:
        return "link"
    if ":" in entity:
        return "interface"
    return "device"
