"""What the outbox costs and saves: ServiceNow ticket operations from the resolver's side.

For N incidents (open, two work notes, resolve = 4 operations each) against the emulator
with a simulated network round trip (``--rtt``), it measures in one run:

- baseline: the same operations as direct, synchronous ``servicenow-api`` calls
  (:class:`SnowClient`), as a backend without an outbox would make them on the caller's
  thread (creation with its look-up first, as idempotency requires);
- outbox: the time the caller spends in :class:`ServiceNowTickets` (what the resolver waits)
  and the time until everything reached ServiceNow (drain).

Medians over ``--repeats``. Run: ``python -m bench.bench_servicenow_outbox``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from netvigil.resolvers.tickets.emulator.server import EmulatorServer
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets
from netvigil.resolvers.tickets.snow_client import SnowClient

__all__ = ["main"]


def _client(srv: EmulatorServer) -> SnowClient:
    return SnowClient(srv.url, user="netvigil", password="netvigil", timeout_s=10)


def _direct(srv: EmulatorServer, n: int, tag: str) -> float:
    c = _client(srv)
    c.find("incident", "number=warm")  # connect first, like a warm backend
    t0 = time.perf_counter()
    for i in range(n):
        corr = f"{tag}-{i}"
        rec = c.find("incident", f"correlation_id={corr}") or [
            c.create("incident", {"short_description": "x", "correlation_id": corr})
        ]
        sys_id = rec[0]["sys_id"]
        c.patch("incident", sys_id, {"work_notes": "evidence"})
        c.patch("incident", sys_id, {"work_notes": "action"})
        c.patch("incident", sys_id, {"state": "6", "close_notes": "verified"})
    return time.perf_counter() - t0


def _outbox(srv: EmulatorServer, n: int, tag: str, db: Path) -> tuple[float, float]:
    b = ServiceNowTickets(_client(srv), db, poll_s=60.0)
    b.open(f"{tag}-warm", "warm", "", severity="minor", ts=0.0)
    b.flush(60)
    t0 = time.perf_counter()
    for i in range(n):
        t = b.open(f"{tag}-{i}", "x", "d", severity="major", ts=float(i))
        b.add_note(t, "evidence", ts=float(i))
        b.add_note(t, "action", ts=float(i))
        b.resolve(t, "verified", ts=float(i))
    caller = time.perf_counter() - t0
    b.flush(600)
    drained = time.perf_counter() - t0
    b.close()
    return caller, drained


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--incidents", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rtt", type=float, default=0.02, help="emulated server delay per request")
    args = p.parse_args(argv)
    srv = EmulatorServer().start()
    srv.faults(delay_s=args.rtt)
    direct, caller, drained = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            direct.append(_direct(srv, args.incidents, f"d{r}"))
            c, d = _outbox(srv, args.incidents, f"o{r}", Path(tmp) / f"o{r}.db")
            caller.append(c)
            drained.append(d)
    srv.stop()
    ops = 4 * args.incidents
    md, mc, mdr = (statistics.median(x) for x in (direct, caller, drained))
    print(
        f"{args.incidents} incidents x 4 ops, rtt {args.rtt * 1000:.0f} ms, "
        f"median of {args.repeats}"
    )
    print(f"baseline direct calls : {md:.3f} s  ({md / ops * 1000:.2f} ms per op on the caller)")
    print(f"outbox, caller waits  : {mc:.3f} s  ({mc / ops * 1000:.3f} ms per op)")
    print(f"outbox, all delivered : {mdr:.3f} s  ({ops / mdr:.0f} ops/s)")
    print(
        f"caller speed-up vs baseline: {md / mc:.0f}x; delivery cost vs baseline: {mdr / md:.2f}x"
    )


if __name__ == "__main__":
    main()
