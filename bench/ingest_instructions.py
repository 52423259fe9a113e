"""The syslog collector's UDP path in one process, for counting instructions per message.

What ``bench/ingest_target.py`` does with each received batch, without the socket and the
event loop's waiting: the benchmark corpus (``bench.bench_syslog.corpus``: Loghub lines as RFC
3164 and RFC 5424 with structured data, a fifth vendor lines) in batches of 64 as ``recvmmsg``
hands them over, ``batch_events``, one ``await emit`` per event, and the events encoded 256 at
a time with ``encode_lines`` (``--parse``: ``batch_events`` alone). ``passes`` times over the
corpus, so that under ``valgrind --tool=callgrind`` one pass subtracted from several leaves the
instructions of the passes alone (start-up, imports and the corpus out):

    valgrind --tool=callgrind --callgrind-out-file=cg.1 python -m bench.ingest_instructions 1
    valgrind --tool=callgrind --callgrind-out-file=cg.4 python -m bench.ingest_instructions 4
    (Ir of cg.4 - Ir of cg.1) / (3 * 20,000) = instructions per message

Load-independent, unlike the line-rate benchmark (``bench/ingest_line_rate.py``) on a shared
machine; it says nothing of receiving, scheduling or writing.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import msgspec

from bench.bench_syslog import corpus
from netvigil.collectors.base import CollectorCounters
from netvigil.collectors.syslog.batch import batch_events
from netvigil.events import Event

__all__ = ["main", "run"]

MESSAGES = 20_000
BATCH = 64
FLUSH_EVENTS = 256


async def run(passes: int, parse_only: bool = False, received: float = 1.7e9) -> int:
    """The events made over ``passes`` passes of the corpus."""
    msgs = corpus(MESSAGES)
    datagrams = [(m, "127.0.0.1") for m in msgs]
    batches = [datagrams[i : i + BATCH] for i in range(0, len(datagrams), BATCH)]
    encoder = msgspec.json.Encoder()
    counters = CollectorCounters()
    pending: list[Event] = []
    made = 0

    async def emit(event: Event) -> None:
        pending.append(event)
        if len(pending) >= FLUSH_EVENTS:
            encoder.encode_lines(pending)
            pending.clear()

    for _ in range(passes):
        for batch in batches:
            events = batch_events(batch, received, counters)
            made += len(events)
            if not parse_only:
                for event in events:
                    await emit(event)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("passes", type=int)
    ap.add_argument("--parse", action="store_true", help="batch_events alone, no emit or encode")
    a = ap.parse_args()
    t = time.process_time()
    made = asyncio.run(run(a.passes, a.parse))
    cpu = time.process_time() - t
    print(f"{a.passes * MESSAGES} messages, {made} events, {cpu:.2f} CPU s")


if __name__ == "__main__":
    main()
