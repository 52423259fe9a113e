"""A storm of new log text over real syslog: every message ingested, raised as one anomaly.

10,000 valid RFC 5424 messages of random words go over TCP (LF framing) at 1,000 messages/s
to the real syslog listener, through the embedded runtime, into the log processor with the
MiniLM classifier. Before the novelty bound every new template ran the classifier on the hot
path (~23 messages/s, thousands of anomalies); now the classifier runs for at most the
storm's first templates, the storm is one anomaly, and the templates kept stay under the cap.
The rate itself is measured in ``bench/log_storm.py``, not here.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from netvigil.analytics.semantic import MiniLMEmbedder, TemplateClassifier
from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.events import Anomaly, Event
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.streams.logs import LogProcessor

pytestmark = pytest.mark.integration

N, RATE = 10_000, 1_000.0


def _send(port: int, lines: list[bytes]) -> None:
    """Send ``lines`` at ``RATE`` per second over one TCP connection (paced every 10 ms)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        t0 = time.monotonic()
        for i in range(0, len(lines), 10):
            s.sendall(b"".join(lines[i : i + 10]))
            delay = t0 + (i + 10) / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def _storm(rng: random.Random) -> list[bytes]:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for _ in range(N):
        words = " ".join(
            "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 9)))
            for _ in range(rng.randint(4, 12))
        )
        out.append(f"<13>1 {stamp} r9 storm - - - {words}\n".encode())
    return out


async def test_a_novelty_storm_over_syslog_is_ingested_and_raised_once() -> None:
    proc = LogProcessor(
        TemplateClassifier(MiniLMEmbedder()), warmup=100, max_templates=2_000, storm_new=50
    )
    collector = SyslogCollector(SyslogListen(udp=0, tcp=0))
    runtime = EmbeddedRuntime([proc], [collector])
    anomalies: list[Event] = []
    runtime.listen("netvigil.anomalies", lambda _t, e: anomalies.append(e))
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        await asyncio.wait_for(collector.ready.wait(), 10)
        lines = _storm(random.Random(21))
        sender = threading.Thread(target=_send, args=(collector.listen.bound["tcp"], lines))
        sender.start()
        await asyncio.to_thread(sender.join)
        async with asyncio.timeout(300):  # a liveness bound, not a speed check
            while runtime.processed["log-analytics"] < N:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    storms = [a for a in anomalies if isinstance(a, Anomaly) and a.kind == "novelty_storm"]
    assert [a.state for a in storms] == ["active"]
    new = [a for a in anomalies if isinstance(a, Anomaly) and a.kind == "new_template"]
    assert len(new) < 2 * 50  # the storm's first templates, opened and cleared, then no more
    stats = proc.stats()
    assert stats["templates"] <= 2_000 and stats["evicted"] > 0 and stats["storms"] == 1
    assert stats["classified"] <= 2 * 50  # the hot path no longer classifies every new template
