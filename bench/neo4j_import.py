"""Neo4j import of the carrier network: this tree against a baseline tree, in the same run.

``python -m bench.neo4j_import --baseline-src DIR [--devices 10000] [--repeat 3]
[--neo4j-url URL --neo4j-pid PID] [--json]``

``DIR`` holds the baseline's ``netvigil`` package (e.g. ``git archive main netvigil | tar -x
-C DIR``). One carrier inventory (``netvigil.twin.carrier``, seed 1) is written once; each
repeat empties the store and imports it with the baseline's ``load_topology``, then empties it
and imports it with this tree's, then imports it again with this tree's (the re-import, which
must write nothing). Each import runs in its own Python process (the tree on ``PYTHONPATH``),
so neither's caches help the other, and is measured as the wall clock, the client's CPU
(``time.process_time`` of that process; the part spent reading the inventory into the
embedded store is measured apart, ``parse_cpu_s``) and the server's CPU (``/proc/PID/stat``
of the Neo4j process, before and after). Reported: medians per tree and the ratios
baseline / this tree, the topology generation's change on the re-import, and the load
average at the start and the end. Neo4j is the one the project's ``provision`` starts for the
run (1 GB heap, 64 MB page cache), or ``--neo4j-url`` with its ``--neo4j-pid``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _child(url: str, inventory: str) -> None:
    """One import into the store at ``url`` by whichever ``netvigil`` is on the path."""
    import netvigil
    from netvigil.graph.importers import load_topology
    from netvigil.graph.neo4j import Neo4jTopology

    store = Neo4jTopology(url)
    gen0 = store.generation()
    t0, c0 = time.perf_counter(), time.process_time()
    load_topology(inventory, store)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    c0 = time.process_time()
    load_topology(inventory)  # the reading alone
    parse = time.process_time() - c0
    out = {
        "src": str(Path(netvigil.__file__).parent),
        "wall_s": wall,
        "client_cpu_s": cpu,
        "parse_cpu_s": parse,
        "generation_delta": store.generation() - gen0,
        "devices": len(store.devices()),
    }
    store.close()
    print(json.dumps(out))


def _server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _import(src: Path, url: str, inventory: Path, pid: int) -> dict[str, Any]:
    # run as a script, not ``-m``: the working directory must not come before ``src`` on the path
    env = {**os.environ, "PYTHONPATH": str(src)}
    s0 = _server_cpu_s(pid)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(inventory)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    process_s = time.perf_counter() - t0
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(row["src"]) != src / "netvigil":
        raise RuntimeError(f"the import ran {row['src']}, not {src / 'netvigil'}")
    row["server_cpu_s"] = _server_cpu_s(pid) - s0
    row["process_s"] = process_s
    return row


def _clear(url: str) -> None:
    from netvigil.graph.neo4j import Neo4jTopology

    store = Neo4jTopology(url)
    store.clear()
    store.close()


@contextlib.contextmanager
def _neo4j(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, int]]:
    if args.neo4j_url:
        yield args.neo4j_url, args.neo4j_pid
        return
    from provision.servers import neo4j as server

    facts = server.start(workdir / "neo4j")
    try:
        yield str(facts["url"]), int(str(facts["pid"]))
    finally:
        server.stop(workdir / "neo4j")


def _medians(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("wall_s", "client_cpu_s", "parse_cpu_s", "server_cpu_s")
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in keys}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-src", type=Path, required=True)
    p.add_argument("--devices", type=int, default=10000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--neo4j-url")
    p.add_argument("--neo4j-pid", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.neo4j_url and not args.neo4j_pid:
        p.error("--neo4j-url needs --neo4j-pid (the server's CPU is read from /proc)")
    import yaml

    from netvigil.twin.carrier import CarrierSpec, generate

    load0 = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": [], "again": []}
    with tempfile.TemporaryDirectory(prefix="netvigil-neo4j-import-") as tmp:
        inventory = Path(tmp) / "carrier.yaml"
        net = generate(CarrierSpec(devices=args.devices, seed=1))
        inventory.write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
        with _neo4j(args, Path(tmp)) as (url, pid):
            for i in range(args.repeat):
                for name, src in (("baseline", args.baseline_src), ("this", REPO)):
                    _clear(url)
                    runs[name].append(_import(src.resolve(), url, inventory, pid))
                    print(f"repeat {i + 1} {name}: {runs[name][-1]}", file=sys.stderr)
                runs["again"].append(_import(REPO, url, inventory, pid))
                print(f"repeat {i + 1} again: {runs['again'][-1]}", file=sys.stderr)
    med = {k: _medians(v) for k, v in runs.items()}
    report = {
        "devices": args.devices,
        "repeat": args.repeat,
        "load_average_start": [round(x, 1) for x in load0],
        "load_average_end": [round(x, 1) for x in os.getloadavg()],
        "baseline": med["baseline"],
        "this": med["this"],
        "again": med["again"],
        "again_generation_delta": [r["generation_delta"] for r in runs["again"]],
        "ratio_baseline_over_this": {
            k: round(med["baseline"][k] / med["this"][k], 2) if med["this"][k] else None
            for k in med["this"]
        },
        "runs": runs,
    }
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
