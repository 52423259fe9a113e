"""The part of the topology around an entity, with a layout for the console's SVG picture.

The layout is networkx's spring layout with a fixed seed: the same subgraph is always drawn
the same way, so operators can compare pictures. Positions are scaled to [0, 1] so the page
only multiplies by its drawing size.
"""

from __future__ import annotations

import networkx as nx

from netvigil.api.base import NotFound
from netvigil.api.schemas import TopoEdge, TopologyOut, TopoNode
from netvigil.errors import NetVigilError
from netvigil.graph.base import TopologyStore, entity_devices

__all__ = ["MAX_NODES", "subgraph"]

MAX_NODES = 60
"""A picture beyond this many devices is unreadable; the nearest ones are kept."""


def _marked_devices(marked: set[str]) -> set[str]:
    out: set[str] = set()
    for e in marked:
        if "--" not in e:
            out.update(entity_devices(e))
    return out


def subgraph(topo: TopologyStore, entity: str, hops: int, marked: set[str]) -> TopologyOut:
    """Devices within ``hops`` of ``entity`` and the links between them; ``marked`` entities
    (devices, interfaces, links) are flagged as affected, ``entity`` itself as the root."""
    try:
        if not topo.has(entity):
            raise NotFound(f"no device, interface or link {entity!r} in the topology")
        centre = set(entity_devices(entity))
        near = topo.k_hop(centre, hops)
    except NetVigilError as exc:
        raise NotFound(str(exc)) from None
    if len(near) > MAX_NODES:
        ranked = sorted(near, key=lambda d: (min(topo.hops(c, d) or 99 for c in centre), d))
        near = set(ranked[:MAX_NODES])
    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(sorted(near))
    links = [lk for lk in topo.links() if lk.a in near and lk.b in near]
    for lk in links:
        graph.add_edge(lk.a, lk.b)
    pos = nx.spring_layout(graph, seed=7) if len(graph) > 1 else {n: (0.0, 0.0) for n in graph}
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    hot_devices = _marked_devices(marked)
    hot_links = {e.partition("#")[0] for e in marked if "--" in e}
    root_link = entity.partition("#")[0] if "--" in entity else None
    root_devices = set() if root_link else set(entity_devices(entity))
    nodes = [
        TopoNode(
            id=n,
            role=topo.device(n).role,
            x=round((float(pos[n][0]) - min(xs)) / span_x, 4),
            y=round((float(pos[n][1]) - min(ys)) / span_y, 4),
            affected=n in hot_devices,
            root=n in root_devices,
        )
        for n in sorted(graph)
    ]
    edges = [
        TopoEdge(
            id=lk.id,
            a=lk.a,
            b=lk.b,
            affected=lk.id.partition("#")[0] in hot_links,
            root=lk.id.partition("#")[0] == root_link,
        )
        for lk in sorted(links, key=lambda lk: lk.id)
    ]
    return TopologyOut(center=entity, hops=hops, nodes=nodes, edges=edges)
