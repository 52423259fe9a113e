"""A novelty storm through the log processor: messages per CPU second and memory held.

10,000 (``--lines``) messages of random words, one new template each, go through
:class:`~netvigil.streams.logs.LogProcessor` with the MiniLM classifier (the service's
default), as one key's events in order. Baseline in the same run: the same processor on as many
Loghub bodies of ../shared/data/loghub-dev (mostly known templates). Reported: messages per CPU
second (median of ``--repeats``), the ratio storm / baseline, anomalies raised, templates kept
and evicted, and the memory the processor's state holds after the storm (tracemalloc, a
separate pass). The storm arrives at 1,000 messages/s of event time.

    python -m bench.log_storm [--lines 10000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import tracemalloc
from typing import Any

from bench.loghub_eval import DEFAULT as LOGHUB
from bench.loghub_eval import load
from netvigil.analytics.semantic import MiniLMEmbedder, TemplateClassifier
from netvigil.events import Anomaly, LogRecord
from netvigil.streams.logs import LogProcessor


def storm(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
            for _ in range(rng.randint(4, 12))
        )
        for _ in range(n)
    ]


async def _feed(proc: LogProcessor, messages: list[str]) -> tuple[float, dict[str, Any]]:
    state = proc.new_state()
    kinds: dict[str, int] = {}
    t0 = time.process_time()
    for i, m in enumerate(messages):
        for a in await proc.process(LogRecord(ts=i / 1000, device="r1", message=m), state):
            if isinstance(a, Anomaly) and a.state == "active":
                kinds[a.kind] = kinds.get(a.kind, 0) + 1
    cpu = time.process_time() - t0
    return len(messages) / cpu, {"anomalies": kinds, **proc.stats()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    clf = TemplateClassifier(MiniLMEmbedder())
    noisy = storm(args.lines)
    known = [m for d in sorted(LOGHUB.iterdir()) if d.is_dir() for m in load(d)[0]]
    known = (known * (args.lines // len(known) + 1))[: args.lines]

    def proc() -> LogProcessor:
        return LogProcessor(clf, warmup=1000)

    runs_s, runs_b = [], []
    info: dict[str, Any] = {}
    for _ in range(args.repeats):
        clf.cache.clear()
        rate, info = asyncio.run(_feed(proc(), noisy))
        runs_s.append(rate)
        clf.cache.clear()
        runs_b.append(asyncio.run(_feed(proc(), known))[0])
    tracemalloc.start()
    p = proc()
    before = tracemalloc.get_traced_memory()[0]
    asyncio.run(_feed(p, noisy))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    report = {
        "storm_lines_per_cpu_s": round(statistics.median(runs_s)),
        "baseline_loghub_lines_per_cpu_s": round(statistics.median(runs_b)),
        "ratio": round(statistics.median(runs_s) / statistics.median(runs_b), 2),
        "storm": info,
        "state_mb_after_storm": round(held / 2**20, 1),
        "lines": args.lines,
        "repeats": args.repeats,
        "load_average_1m": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
