"""Graph algorithms both stores share, on a networkx multigraph of devices (pure).

The embedded store runs them on its own graph; the Neo4j store runs the IGP-weighted ones
(routes, blast radius) on an adjacency snapshot it reads with one Cypher query, because
Neo4j community has no weighted shortest path or connected components without the GDS or
APOC plugins, which are not on the server's classpath here. Everything else the Neo4j store
asks in Cypher.

Answers must not depend on the order links were inserted (the stores load in different
orders), so ties are broken by cost, then hop count, then the device names along the path.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import networkx as nx

from netvigil.graph.base import BlastRadius, Link, Route, Service

__all__ = [
    "Cuts",
    "blast_radius",
    "build_graph",
    "cuts",
    "default_root",
    "must_pass",
    "parts_without",
    "routes",
]

#: at most this many equal-or-better paths are enumerated to break ties exactly
_TIE_LIMIT = 64


def build_graph(devices: Iterable[str], links: Iterable[Link]) -> nx.MultiGraph:
    """Devices as nodes, one edge per link (key = link id, with its metric)."""
    g = nx.MultiGraph()
    g.add_nodes_from(devices)
    for lk in links:
        g.add_edge(lk.a, lk.b, key=lk.id, metric=lk.igp_metric)
    return g


def _simple(g: nx.MultiGraph, avoid_devices: set[str], avoid_links: set[str]) -> nx.Graph:
    """Collapse parallel links to the cheapest (ties: smallest id), dropping avoided parts."""
    s = nx.Graph()
    s.add_nodes_from(n for n in g.nodes if n not in avoid_devices)
    for u, v, key, data in g.edges(keys=True, data=True):
        if key in avoid_links or u in avoid_devices or v in avoid_devices or u == v:
            continue
        cand = (int(data["metric"]), str(key))
        cur = s.get_edge_data(u, v)
        if cur is None or cand < (cur["metric"], cur["link"]):
            s.add_edge(u, v, metric=cand[0], link=cand[1])
    return s


def routes(
    g: nx.MultiGraph,
    a: str,
    b: str,
    k: int,
    *,
    avoid_devices: Iterable[str] = (),
    avoid_links: Iterable[str] = (),
) -> list[Route]:
    """Up to ``k`` loop-free routes from ``a`` to ``b`` by (cost, hops, device names)."""
    avoid_d = set(avoid_devices) - {a, b}
    s = _simple(g, avoid_d, set(avoid_links))
    if a not in s or b not in s or k < 1:
        return []
    if a == b:
        return [Route((a,), (), 0)]
    found: list[Route] = []
    try:
        gen = nx.shortest_simple_paths(s, a, b, weight="metric")
        for path in itertools.islice(gen, _TIE_LIMIT):
            links = tuple(s[u][v]["link"] for u, v in itertools.pairwise(path))
            cost = sum(int(s[u][v]["metric"]) for u, v in itertools.pairwise(path))
            if len(found) >= k and cost > found[k - 1].cost:
                break  # every route tied with the k-th one is known: ties are complete
            found.append(Route(tuple(path), links, cost))
            found.sort(key=lambda r: (r.cost, len(r.devices), r.devices))
    except nx.NetworkXNoPath:
        return []
    return found[:k]


def default_root(g: nx.MultiGraph) -> str | None:
    """The device with the most links (ties: first name): a stand-in for the poller's place."""
    if g.number_of_nodes() == 0:
        return None
    return str(min(g.nodes, key=lambda n: (-g.degree(n), n)))


def _bfs(g: nx.MultiGraph, src: str) -> dict[str, int]:
    dist = {src: 0}
    todo = deque([src])
    while todo:
        u = todo.popleft()
        for v in g.adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist


def must_pass(g: nx.MultiGraph, root: str, target: str) -> list[str]:
    """Devices on every shortest (hop) path from ``root`` to ``target``, target first."""
    if root not in g or target not in g:
        return []
    from_root = _bfs(g, root)
    if target not in from_root:
        return []
    from_target = _bfs(g, target)
    total = from_root[target]
    layers: dict[int, list[str]] = {}
    for n, d in from_root.items():
        if d + from_target.get(n, total + 1) == total:
            layers.setdefault(d, []).append(n)
    return [layers[d][0] for d in sorted(layers, reverse=True) if len(layers[d]) == 1]


@dataclass(frozen=True)
class Cuts:
    """Where one failure can split a graph: its articulation points, its bridges (device
    pairs no cycle joins but their own links), and its connected parts with their smallest
    device names."""

    articulation: frozenset[str]
    bridges: frozenset[tuple[str, str]]
    parts: tuple[tuple[frozenset[str], str], ...]
    tree: _Tree | None = field(default=None, compare=False)
    """A depth-first tree of each part (:meth:`split`); None: every split is searched."""

    def splits(
        self, g: nx.MultiGraph, links: Mapping[str, Link], devices: set[str], failed: set[str]
    ) -> bool:
        """Whether losing ``devices`` and the links ``failed`` may split a connected part."""
        if len(devices) > 1 or devices & self.articulation:
            return True
        # links that do not go with the failed device (unknown ones are not in the graph)
        own = [
            lk
            for lk in map(links.get, failed)
            if lk is not None and lk.a not in devices and lk.b not in devices
        ]
        if not own:
            return False
        if devices or len(own) > 1:
            return True  # a device and a link, or two links: answered by a search
        a, b = own[0].a, own[0].b
        return (a, b) in self.bridges and all(j in failed for j in g.adj[a][b])

    def cut_off(self, devices: set[str]) -> set[str]:
        """Devices outside the largest part once ``devices`` are gone, for a failure that
        splits nothing (the ordering :func:`blast_radius` uses: size, then smallest name)."""

        def order(part: tuple[frozenset[str], str]) -> tuple[int, str]:
            p, least = part
            gone = p & devices
            rest = p - gone if least in gone else ()
            return (-(len(p) - len(gone)), min(rest) if rest else least)

        live = [x for x in self.parts if not x[0] <= devices]
        if len(live) <= 1:
            return set()
        keep = min(live, key=order)[0]
        return {n for p, _ in live if p is not keep for n in p} - devices

    def split(
        self, g: nx.MultiGraph, links: Mapping[str, Link], devices: set[str], failed: set[str]
    ) -> set[str] | None:
        """Devices outside the largest part once one device, or the links of one bridge (all
        of them), are gone: the parts from the depth-first tree, in time proportional to
        the device's links and the devices cut off, rather than a search of the graph.
        None for another failure (two devices, a device and a link, two links: a search
        answers it). The same answer as :func:`parts_without` and :func:`blast_radius`'s
        ordering (size, then smallest name)."""
        tree = self.tree
        if tree is None or len(devices) > 1:
            return None
        own = [
            lk
            for lk in map(links.get, failed)
            if lk is not None and lk.a not in devices and lk.b not in devices
        ]
        if devices:
            if own:
                return None
            (v,) = devices
            if v not in tree.disc:
                return None
            # a child's subtree is a part of its own without v unless it reaches above v
            # (v the root: every child's subtree is)
            top = tree.parent[v] is None
            low, at = tree.low, tree.disc[v]
            pieces = [
                c for c in g.adj[v] if c != v and tree.parent.get(c) == v and (top or low[c] >= at)
            ]
            gone = 1
        else:
            if len(own) != 1 or (own[0].a, own[0].b) not in self.bridges:
                return None
            a, b = own[0].a, own[0].b
            if not all(j in failed for j in g.adj[a][b]):
                return None
            v, gone = None, 0
            # a bridge is an edge of the tree: the subtree below it is one part
            below = b if tree.parent.get(b) == a else a if tree.parent.get(a) == b else None
            if below is None:
                return None
            pieces = [below]
        i = tree.part_of[v if v is not None else pieces[0]]
        return tree.cut(self.parts, i, pieces, gone, v)


@dataclass(frozen=True, eq=False)
class _Tree:
    """A depth-first tree of each connected part of a simple graph (rooted at the part's
    smallest device name): each device's preorder number (``disc``), the smallest preorder
    number its subtree reaches by one edge outside the tree (``low``), its subtree's size
    (its subtree is ``order[disc : disc + size]``), its parent, and its part."""

    order: list[str]
    disc: dict[str, int]
    low: dict[str, int]
    size: dict[str, int]
    parent: dict[str, str | None]
    part_of: dict[str, int]

    @classmethod
    def of(cls, simple: nx.Graph, parts: tuple[tuple[frozenset[str], str], ...]) -> _Tree:
        order: list[str] = []
        disc: dict[str, int] = {}
        low: dict[str, int] = {}
        size: dict[str, int] = {}
        parent: dict[str, str | None] = {}
        part_of: dict[str, int] = {}
        adj = simple.adj
        for i, (part, root) in enumerate(parts):
            part_of.update(dict.fromkeys(part, i))
            disc[root] = low[root] = len(order)
            order.append(root)
            parent[root] = None
            stack = [(root, iter(adj[root]))]
            while stack:
                u, todo = stack[-1]
                for w in todo:
                    if w not in disc:
                        parent[w] = u
                        disc[w] = low[w] = len(order)
                        order.append(w)
                        stack.append((w, iter(adj[w])))
                        break
                    if w != parent[u] and disc[w] < low[u]:
                        low[u] = disc[w]
                else:
                    stack.pop()
                    size[u] = len(order) - disc[u]
                    if stack and low[u] < low[stack[-1][0]]:
                        low[stack[-1][0]] = low[u]
        return cls(order, disc, low, size, parent, part_of)

    def cut(
        self,
        parts: tuple[tuple[frozenset[str], str], ...],
        i: int,
        pieces: list[str],
        gone: int,
        v: str | None,
    ) -> set[str]:
        """Devices outside the largest part when part ``i`` loses ``gone`` devices (``v``,
        or none) and splits into the subtrees of ``pieces`` and the rest of it."""
        order, disc, size = self.order, self.disc, self.size
        spans = [(disc[c], disc[c] + size[c]) for c in pieces]
        root = parts[i][1]
        total = size[root]
        rest = total - gone - sum(e - s for s, e in spans)
        # every part after the failure: (size, its devices or None for the rest of part i)
        cands: list[tuple[int, object]] = [(e - s, (s, e)) for s, e in spans]
        if rest > 0:
            cands.append((rest, None))
        cands += [(len(p), j) for j, (p, _) in enumerate(parts) if j != i]
        if not cands:
            return set()
        big = max(n for n, _ in cands)
        rest_of: set[str] | None = None

        def devices_of(x: object) -> AbstractSet[str] | list[str]:
            nonlocal rest_of
            if isinstance(x, tuple):
                return order[x[0] : x[1]]
            if isinstance(x, int):
                return parts[x][0]
            if rest_of is None:
                s0 = disc[root]
                rest_of = set(order[s0 : s0 + total]) - {n for s, e in spans for n in order[s:e]}
                if v is not None:
                    rest_of.discard(v)
            return rest_of

        def least(x: object) -> str:
            return parts[x][1] if isinstance(x, int) else min(devices_of(x))

        ties = [x for n, x in cands if n == big]
        keep = ties[0] if len(ties) == 1 else min(ties, key=least)
        return {n for _, x in cands if x is not keep for n in devices_of(x)}


def cuts(g: nx.MultiGraph) -> Cuts:
    """The :class:`Cuts` of ``g`` (linear in its size; compute once per topology)."""
    simple = nx.Graph(g)
    simple.remove_edges_from(nx.selfloop_edges(simple))
    bridges = set(nx.bridges(simple))
    parts = tuple((frozenset(c), min(c)) for c in nx.connected_components(simple))
    return Cuts(
        articulation=frozenset(nx.articulation_points(simple)),
        bridges=frozenset(bridges | {(v, u) for u, v in bridges}),
        parts=parts,
        tree=_Tree.of(simple, parts),
    )


def _largest_first(part: set[str]) -> tuple[int, str]:
    return (-len(part), min(part))


def parts_without(g: nx.MultiGraph, devices: set[str], links: set[str]) -> list[set[str]]:
    """The connected parts of ``g`` once ``devices`` and the links ``links`` are gone: a
    search of its adjacency that steps over a failed device, and over a neighbour whose
    every link to it failed, rather than a copy of the graph without them (a copy costs a
    networkx call per edge, for every failure that may split the graph)."""
    seen = set(devices)
    out: list[set[str]] = []
    adj = g.adj
    for start in g:
        if start in seen:
            continue
        seen.add(start)
        part, todo = {start}, [start]
        while todo:
            for v, keys in adj[todo.pop()].items():
                if v in seen or all(k in links for k in keys):
                    continue
                seen.add(v)
                part.add(v)
                todo.append(v)
        out.append(part)
    return out


def blast_radius(
    g: nx.MultiGraph,
    entity: str,
    links: Mapping[str, Link],
    services: Iterable[Service],
    *,
    failed_devices: set[str],
    failed_links: set[str],
    cuts: Cuts | None = None,
) -> BlastRadius:
    """Failed parts, devices cut off from the largest remaining part, services affected.

    With the graph's ``cuts``, a failure that splits no connected part (no articulation
    point, no bridge) is answered from the parts as they are, without searching the graph:
    the same answer, in time proportional to the failure, not to the network.
    """
    cut = None
    if cuts is not None and not cuts.splits(g, links, failed_devices, failed_links):
        cut = cuts.cut_off(failed_devices)
    elif cuts is not None:
        cut = cuts.split(g, links, failed_devices, failed_links)
    if cut is None:
        parts = sorted(parts_without(g, failed_devices, failed_links), key=_largest_first)
        cut = {n for p in parts[1:] for n in p}
    down_devices = failed_devices | cut
    hit = []
    for svc in services:
        ends = {d for lk in svc.links if lk in links for d in (links[lk].a, links[lk].b)}
        if failed_links & set(svc.links) or down_devices & (set(svc.devices) | ends):
            hit.append(svc.name)
    return BlastRadius(
        entity=entity,
        links=tuple(sorted(failed_links)),
        devices=tuple(sorted(down_devices)),
        services=tuple(sorted(hit)),
    )
