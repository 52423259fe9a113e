"""The correlator's view of its regions: which devices an anomaly is about, and the regions
of the current topology (:mod:`netvigil.graph.regions`), for keying events synchronously.

Runtimes ask a processor for an event's keys synchronously, before any state is touched, so
this asks the store directly (not through :class:`~netvigil.graph.aio.AsyncTopology`). The
regions are computed once per set of devices and links: the store's generation is looked at
no more than every ``refresh_s`` seconds (one query on Neo4j), and a new generation that
changed only services or properties keeps the regions it had, so ownership of open incidents
does not move under them.
"""

from __future__ import annotations

from netvigil.errors import TopologyError
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.graph.generation import GenerationWatch
from netvigil.graph.regions import Regions, partition

__all__ = ["Sharding"]


class Sharding:
    """Regions of ``topo`` in ``n`` parts with ``halo``-hop views, kept current."""

    def __init__(self, topo: TopologyStore, n: int, halo: int, *, refresh_s: float = 1.0) -> None:
        self.topo = topo
        self.n = n
        self.halo = halo
        self.refresh_s = refresh_s
        self._regions: Regions | None = None
        self._shape: frozenset[tuple[str, str]] | None = None
        self._watch = GenerationWatch(refresh_s)
        self._services: dict[str, tuple[str, ...]] = {}

    def regions(self) -> Regions:
        """The current regions (recomputed when the devices or links changed)."""
        if self._regions is not None and not self._watch.due():
            return self._regions
        seen = self._watch.value  # the generation the regions were last checked at
        gen = self._watch.set(self.topo.generation())
        if self._regions is not None and gen == seen:
            return self._regions
        self._services.clear()
        devices = [d.name for d in self.topo.devices()]
        links = self.topo.links()
        shape = frozenset({(d, "") for d in devices} | {(lk.a, lk.b) for lk in links})
        if self._regions is None or shape != self._shape:
            self._regions = partition(devices, links, self.n, self.halo)
            self._shape = shape
        return self._regions

    def devices(self, entity: str, service: bool) -> tuple[str, ...]:
        """The devices an anomaly is about: of its entity id, or for a service (an SLO
        anomaly) the devices on its path; a service the store does not know has none."""
        if not service:
            return entity_devices(entity)
        self.regions()  # drops cached paths when the topology changed
        cached = self._services.get(entity)
        if cached is not None:
            return cached
        try:
            svc = self.topo.service(entity)
        except TopologyError:
            return ()
        path = {d for lk in svc.links for d in entity_devices(lk)} | set(svc.devices)
        out = self._services[entity] = tuple(sorted(path))
        return out
