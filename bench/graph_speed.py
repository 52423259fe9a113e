"""Graph speed: RCA ranking on a 1,000-node topology, and importing Topology Zoo's Kdl.

``python -m bench.graph_speed [--samples 300] [--repeats 3] [--no-neo4j]``

RCA ranking: the correlator's work for one incident update, i.e. fetch the neighbourhood of
the anomalies (their devices and incident links) from the store, then rank (hypotheses +
personalized PageRank). Inputs
are faults drawn on a deterministic internet-like 1,000-node graph (networkx
``random_internet_as_graph``): node down, link down, linecard, congestion, each with the
symptoms the twin would produce plus three weak deviations nearby. Reported: p50/p99 per
store; the baseline in the same run is one trivial round trip to each store (``device()`` of
a known name), which is what any store-backed ranking pays at least.

Import: Kdl (754 nodes) into each store, median of ``--repeats`` runs (store cleared first);
the baseline is parsing the GraphML file alone with networkx.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx

from netvigil.eval.rankspeed import faults, pct, rank_once
from netvigil.events import AnomalyRef
from netvigil.graph.base import Device, Link, TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NETVIGIL_SHARED_DATA", REPO.parent / "shared" / "data"))


def synthetic(n: int = 1000, seed: int = 1) -> tuple[list[Device], list[Link]]:
    g = nx.random_internet_as_graph(n, seed=seed)
    devices = [Device(f"r{v}", role=str(g.nodes[v].get("type", ""))) for v in g.nodes]
    links = []
    port: dict[int, int] = {}
    for u, v in sorted(g.edges):
        pu, pv = port.get(u, 0), port.get(v, 0)
        port[u], port[v] = pu + 1, pv + 1
        a, b = sorted((f"r{u}", f"r{v}"))
        ia, ib = (f"r{u}:e{pu}", f"r{v}:e{pv}") if a == f"r{u}" else (f"r{v}:e{pv}", f"r{u}:e{pu}")
        links.append(Link(f"{a}--{b}", a, ia, b, ib))
    return devices, links


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_rank(
    store: TopologyStore, cases: list[list[AnomalyRef]], repeats: int
) -> dict[str, float]:
    """p50/p99 of one pass over the cases, median over ``repeats`` passes (and the baseline)."""
    for refs in cases[:10]:
        rank_once(store, refs)  # warm caches and connections
    runs: dict[str, list[float]] = {k: [] for k in ("p50", "p99", "b50", "b99")}
    for _ in range(repeats):
        ms = []
        for refs in cases:
            t0 = time.perf_counter()
            rank_once(store, refs)
            ms.append((time.perf_counter() - t0) * 1000)
        base = timed(lambda: store.device("r0"), len(cases))
        runs["p50"].append(pct(ms, 0.5))
        runs["p99"].append(pct(ms, 0.99))
        runs["b50"].append(pct(base, 0.5))
        runs["b99"].append(pct(base, 0.99))
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    return {
        "rank_p50_ms": med["p50"],
        "rank_p99_ms": med["p99"],
        "roundtrip_p50_ms": med["b50"],
        "roundtrip_p99_ms": med["b99"],
    }


def bench_import(store: TopologyStore, path: Path, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        store.clear()
        t0 = time.perf_counter()
        load_topology(path, store)
        runs.append(time.perf_counter() - t0)
    parse = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        nx.read_graphml(path)
        parse.append(time.perf_counter() - t0)
    return {
        "import_median_s": round(statistics.median(runs), 3),
        "parse_only_median_s": round(statistics.median(parse), 3),
        "devices": len(store.devices()),
        "links": len(store.links()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-neo4j", action="store_true")
    args = ap.parse_args()
    devices, links = synthetic()
    mem = MemoryTopology()
    mem.load(devices=devices, links=links)
    cases = faults(mem, args.samples)
    kdl = DATA / "topologies" / "Kdl.graphml"
    report: dict[str, object] = {
        "topology": {"devices": len(devices), "links": len(links)},
        "embedded": {
            **bench_rank(mem, cases, args.repeats),
            **bench_import(MemoryTopology(), kdl, args.repeats),
        },
    }
    if not args.no_neo4j:
        from netvigil.graph.neo4j import Neo4jTopology
        from provision.servers import neo4j as server

        with tempfile.TemporaryDirectory(prefix="nv-bench-neo4j-") as tmp:
            facts = server.start(Path(tmp))
            try:
                neo = Neo4jTopology(str(facts["url"]))
                imp = bench_import(neo, kdl, args.repeats)
                neo.clear()
                neo.load(devices=devices, links=links)
                report["neo4j"] = {**bench_rank(neo, cases, args.repeats), **imp}
                neo.close()
            finally:
                server.stop(Path(tmp))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
