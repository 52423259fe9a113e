"""NetVigil's side of the ingest benchmark: the push collectors as ``netvigil run`` builds them
from its settings, writing every event they publish to a file, as rsyslog's omfile writes
what it receives.

The collectors come from ``push_collectors`` with the ``NETVIGIL_SYSLOG__*`` and
``NETVIGIL_FLOWS__*`` settings of the environment; every event is encoded as on the bus
(compact JSON, the bytes of ``netvigil.events.encode``) and appended to ``--out``, one per
line; events are encoded a few hundred at a time (``msgspec``'s ``encode_lines``, the same
bytes as one ``encode`` per event followed by a newline), as the Kafka producer encodes a batch
and rsyslog's omfile writes a buffer. Four times
a second the counters go to ``--status`` as one JSON object (received, kernel and queue drops
from the collectors' meters, events written by type), which is how the harness
(``bench/ingest_line_rate.py``) reads them without disturbing the process. SIGTERM or SIGINT
stops the collectors, which take what they have read, and the last status is written.
``--discard`` only counts the events (rsyslog's ruleset then ``stop``s): the collectors' own cost.

    NETVIGIL_SYSLOG__UDP_PORT=5514 python -m bench.ingest_target --out events.jsonl --status s.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from collections import Counter
from pathlib import Path

import msgspec

from netvigil.collectors.push import push_collectors
from netvigil.config import load_settings
from netvigil.events import Event
from netvigil.streams.meters import EDGE

__all__ = ["main"]

FLUSH_EVENTS = 256
"""Events held before they are encoded and written (and at least every quarter second)."""
_LINES = msgspec.json.Encoder()
"""Configured as ``netvigil.events``' encoder (a plain one), so ``encode_lines`` gives its bytes."""


def status(kinds: Counter[type]) -> dict[str, object]:
    values = EDGE.values()

    def total(metric: str) -> float:
        return sum(v for (name, _), v in values.items() if name == metric)

    return {
        "received": total("netvigil_collector_received"),
        "decoded": total("netvigil_collector_decoded"),
        "dead_letters": total("netvigil_collector_dead_letters"),
        "kernel_drops": total("netvigil_collector_kernel_drops"),
        "queue_drops": total("netvigil_collector_queue_drops"),
        "rcvbuf": total("netvigil_collector_receive_buffer_bytes"),
        "written": {k.__name__: n for k, n in kinds.items()},
        "pid": os.getpid(),
    }


async def run(out: Path, status_path: Path, data_dir: Path, discard: bool = False) -> None:
    sources, _ = push_collectors(load_settings(), data_dir)
    if not sources:
        raise SystemExit(
            "no collector configured: set NETVIGIL_SYSLOG__UDP_PORT or ..._FLOWS__PORT"
        )
    kinds: Counter[type] = Counter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def report() -> None:
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status(kinds)))
        tmp.replace(status_path)

    with out.open("ab", buffering=1 << 20) as f:
        pending: list[Event] = []

        def flush() -> None:
            if pending:
                if not discard:
                    f.write(_LINES.encode_lines(pending))
                kinds.update(map(type, pending))
                pending.clear()

        async def emit(event: Event) -> None:
            pending.append(event)
            if len(pending) >= FLUSH_EVENTS:
                flush()

        async def reporter() -> None:
            while True:
                flush()
                report()
                await asyncio.sleep(0.25)

        tasks = [asyncio.create_task(s.run(emit, stop)) for s in sources]
        rep = asyncio.create_task(reporter())
        await asyncio.gather(*tasks)
        rep.cancel()
        flush()
        f.flush()
    report()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--status", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--discard", action="store_true", help="count the events, write nothing")
    a = ap.parse_args()
    asyncio.run(run(a.out, a.status, a.data_dir or a.out.parent, a.discard))


if __name__ == "__main__":
    main()
