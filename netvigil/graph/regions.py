"""Regions of a topology: fault domains the correlator partitions its work by.

A :class:`Regions` splits the devices into ``n`` *cores* (every device in exactly one) and
gives each region a *view*: its core and every device within ``halo`` hops of it. A fault
near a border is seen whole by each region whose view covers it, so each can group its
symptoms as one correlator would; exactly one of them, the *home* region of the incident's
opening anomaly (see :meth:`Regions.home`), emits it.

The cores come from networkx's fluid communities (``asyn_fluidc``: exactly ``n``
communities of a connected graph, grown from well-connected seeds, so each region is a
contiguous, similarly sized part of the network). Determinism: the graph is built with
nodes and edges in sorted order and the algorithm runs with a fixed seed, so the same graph
always gives the same regions whatever order the store returns it in; regions are numbered
by their smallest device name. A disconnected graph is split on its largest component; the
other components go whole, largest first, to the region with the fewest devices. A device
the topology does not know (yet) has a home by a stable hash of its name, and only it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx
from networkx.algorithms.community import asyn_fluidc

from netvigil.graph.base import Link, entity_devices

__all__ = ["SEED", "Regions", "partition"]

#: the seed of the community search (fixed: the same graph must give the same regions)
SEED = 26


@dataclass(frozen=True)
class Regions:
    """``cores[i]`` and ``views[i]`` of region ``i`` (see the module docstring)."""

    cores: tuple[frozenset[str], ...]
    views: tuple[frozenset[str], ...]
    halo: int
    _core_of: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _seen_by: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for i, core in enumerate(self.cores):
            for d in core:
                self._core_of[d] = i
        seen: dict[str, list[int]] = {}
        for i, view in enumerate(self.views):
            for d in view:
                seen.setdefault(d, []).append(i)
        self._seen_by.update({d: tuple(rs) for d, rs in seen.items()})

    @property
    def n(self) -> int:
        return len(self.cores)

    def _device_home(self, device: str) -> int:
        i = self._core_of.get(device)
        if i is not None:
            return i
        digest = hashlib.sha1(device.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.n

    def home(self, devices: Iterable[str]) -> int:
        """The one region that owns what these devices are about: the smallest home of
        them (a link's two ends may lie in two cores). No devices: region 0."""
        return min((self._device_home(d) for d in devices), default=0)

    def home_of(self, entity: str) -> int:
        """:meth:`home` of an entity id (device, interface, link)."""
        return self.home(entity_devices(entity))

    def seen_by(self, devices: Iterable[str]) -> tuple[int, ...]:
        """The regions whose view holds any of these devices, in order; a device the
        topology does not know is seen by its home alone."""
        out: set[int] = set()
        for d in devices:
            out.update(self._seen_by.get(d, (self._device_home(d),)))
        return tuple(sorted(out))


def _cores(g: nx.Graph, n: int) -> list[set[str]]:
    comps = sorted(nx.connected_components(g), key=lambda c: (-len(c), min(c)))
    if not comps:
        return [set() for _ in range(n)]
    first = g.subgraph(comps[0])
    k = min(n, first.number_of_nodes())
    parts = [set(comps[0])] if k == 1 else [set(c) for c in asyn_fluidc(first, k, seed=SEED)]
    parts += [set() for _ in range(n - k)]
    for comp in comps[1:]:
        smallest = min(range(n), key=lambda i: (len(parts[i]), i))
        parts[smallest] |= comp
    return sorted(parts, key=lambda p: (not p, min(p) if p else ""))


def _view(g: nx.Graph, core: set[str], halo: int) -> frozenset[str]:
    if not core:
        return frozenset()
    out: set[str] = set()
    for depth, layer in enumerate(nx.bfs_layers(g, sorted(core))):
        if depth > halo:
            break
        out.update(layer)
    return frozenset(out)


def partition(devices: Iterable[str], links: Iterable[Link], n: int, halo: int) -> Regions:
    """Split a topology into ``n`` regions with views ``halo`` hops wide (module docstring).

    Raises ValueError for ``n < 1`` or ``halo < 0``.
    """
    if n < 1 or halo < 0:
        raise ValueError(f"regions need n >= 1 and halo >= 0 (got n={n}, halo={halo})")
    g = nx.Graph()
    g.add_nodes_from(sorted(set(devices)))
    g.add_edges_from(sorted({tuple(sorted((lk.a, lk.b))) for lk in links if lk.a != lk.b}))
    cores = _cores(g, n) if n > 1 else [set(g.nodes)]
    return Regions(
        cores=tuple(frozenset(c) for c in cores),
        views=tuple(_view(g, c, halo) for c in cores),
        halo=halo,
    )
