"""SNMP poll fan-out: healthy targets polled per second while silent agents are present.

Starts net-snmp's snmpd (provision/servers/snmpd.py) and polls it as N healthy targets (each
a full poll: GET + multi-column GETBULK walk of IF-MIB, LLDP-MIB and CPU tables) alongside S
silent targets (UDP sockets that never answer). Baseline, same run: the same targets polled
one after the other. Reports medians over repeats of the wall time of one round and the
healthy targets polled per second.

    .venv/bin/python -m bench.snmp_fanout [--healthy 20] [--silent 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path

from netvigil.collectors.snmp import SnmpPoller, SnmpTarget
from provision.servers import snmpd


async def _round(poller: SnmpPoller, targets: list[SnmpTarget], concurrent: bool) -> float:
    t0 = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(poller.poll_once(t) for t in targets))
    else:
        for t in targets:
            await poller.poll_once(t)
    return time.perf_counter() - t0


async def _measure(port: int, silent: list[int], n: int, repeats: int) -> dict[str, object]:
    healthy = [SnmpTarget("127.0.0.1", port, device=f"h{i}") for i in range(n)]
    dead = [SnmpTarget("127.0.0.1", p, device=f"s{i}") for i, p in enumerate(silent)]
    targets = healthy + dead
    out: dict[str, object] = {"healthy": n, "silent": len(silent)}
    for mode in ("sequential", "concurrent"):
        poller = SnmpPoller(
            targets, timeout_s=2.0, request_timeout_s=1.0, retries=1, max_concurrency=64
        )
        await _round(poller, targets, True)  # warm-up: CPU source discovery, USM, caches
        times = [await _round(poller, targets, mode == "concurrent") for _ in range(repeats)]
        poller.close()
        med = statistics.median(times)
        out[mode] = {"round_s": round(med, 3), "healthy_per_s": round(n / med, 1)}
    seq = out["sequential"]["round_s"]  # type: ignore[index]
    con = out["concurrent"]["round_s"]  # type: ignore[index]
    out["speedup"] = round(seq / con, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--healthy", type=int, default=20)
    ap.add_argument("--silent", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run = Path(tempfile.mkdtemp(prefix="bench-snmpd-"))
    facts = snmpd.start(run)
    socks = []
    try:
        for _ in range(args.silent):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        ports = [s.getsockname()[1] for s in socks]
        result = asyncio.run(_measure(int(facts["port"]), ports, args.healthy, args.repeats))
        print(json.dumps(result))
    finally:
        for s in socks:
            s.close()
        snmpd.stop(run)


if __name__ == "__main__":
    main()
