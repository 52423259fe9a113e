"""Ways of receiving UDP in Python, measured against each other: CPU per datagram and loss.

Each way runs in its own receiver process that only reads and counts (no decoding), while a
sender process (``bench/udp_send.py``, pinned to one CPU) sends the syslog corpus at
``--rate``; the receiver's CPU seconds are read from ``/proc`` as in
``bench/ingest_line_rate.py``. The ways:

- ``asyncio``: asyncio's datagram transport, ``datagram_received`` per datagram (what the
  collectors used before: one turn of the event loop per datagram);
- ``recvfrom``: the loop's reader callback calls ``recvfrom`` until the socket is empty;
- ``thread``: a thread blocks in ``recvfrom`` and hands datagrams to the loop through a deque
  (it needs the interpreter lock back after every datagram);
- ``recvmmsg``: the reader callback reads batches with the C receiver (``_udp.c``);
- ``recvfrom+holdoff`` and ``recvmmsg+holdoff``: the same, leaving the socket alone for 1 ms
  after a read so that the next one finds a batch (``listen.UdpListener``'s way).

    nice -n 10 python -m bench.udp_receive [--rate 50000] [--seconds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.ingest_line_rate import cpu_seconds, load1
from netvigil.collectors.udprecv import receiver
from provision.common import free_port

__all__ = ["METHODS", "main"]

METHODS = ("asyncio", "recvfrom", "thread", "recvmmsg", "recvfrom+holdoff", "recvmmsg+holdoff")


def serve(method: str, port: int, status: Path) -> None:
    """Receive on ``port`` the given way, writing the count to ``status`` until SIGTERM."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    count = [0]

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        fd = sock.fileno()
        tasks: list[asyncio.Task[None]] = []
        if method == "asyncio":

            class Counting(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
                    str(addr[0])
                    count[0] += 1

            await loop.create_datagram_endpoint(Counting, sock=sock)
        elif method == "thread":
            sock.setblocking(True)
            handed: collections.deque[tuple[bytes, str]] = collections.deque()

            def reading() -> None:
                while True:
                    data, addr = sock.recvfrom(65536)
                    handed.append((data, str(addr[0])))

            threading.Thread(target=reading, daemon=True).start()

            async def taking() -> None:
                while True:
                    await asyncio.sleep(0.001)
                    while handed:
                        handed.popleft()
                        count[0] += 1

            tasks.append(loop.create_task(taking()))
        else:
            recv = receiver(sock, native=method.startswith("recvmmsg"))
            hold = method.endswith("+holdoff")

            def readable() -> None:
                got = 0
                while True:
                    batch = recv.recv()
                    got += len(batch)
                    if len(batch) < recv.batch:
                        break
                count[0] += got
                if hold and got:
                    loop.remove_reader(fd)
                    loop.call_later(0.001, loop.add_reader, fd, readable)

            loop.add_reader(fd, readable)
        while not stop.is_set():
            status.write_text(str(count[0]))
            await asyncio.sleep(0.25)
        status.write_text(str(count[0]))

    asyncio.run(run())


def measure(
    method: str, rate: float, seconds: float, cpu: int | None, tmp: Path
) -> dict[str, object]:
    port, status = free_port(), tmp / f"{method}.count"
    status.unlink(missing_ok=True)
    root = Path(__file__).resolve().parents[1]
    rx = subprocess.Popen(
        [sys.executable, "-m", "bench.udp_receive", "--serve", method, "--port", str(port),
         "--status", str(status)], cwd=root,
    )  # fmt: skip
    try:
        while not status.exists():
            time.sleep(0.1)
        cpu0, load0 = cpu_seconds(rx.pid), load1()
        cmd = [sys.executable, "-m", "bench.udp_send", "syslog", "--port", str(port),
               "--rate", str(rate), "--seconds", str(seconds)]  # fmt: skip
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        sent = json.loads(subprocess.run(cmd, capture_output=True, text=True, cwd=root).stdout)
        last, still = -1, time.monotonic()
        while time.monotonic() - still < 1.0:
            time.sleep(0.25)
            now = int(status.read_text() or 0)
            if now != last:
                last, still = now, time.monotonic()
        used = cpu_seconds(rx.pid) - cpu0
    finally:
        rx.send_signal(signal.SIGTERM)
        rx.wait(timeout=30)
    n = sent["datagrams_per_port"]
    return {
        "method": method,
        "sent": n,
        "received": last,
        "loss_pct": round(100 * (1 - last / n), 2),
        "cpu_us_per_datagram": round(used / max(last, 1) * 1e6, 2),
        "load": f"{load0:.1f}-{load1():.1f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1, help="CPU the sender is pinned to")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--serve", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--status", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.port, a.status)
        return
    runs: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="udprecv-") as d:
        for _ in range(a.repeats):
            for m in a.methods.split(","):
                row = measure(m, a.rate, a.seconds, a.cpu, Path(d))
                runs[m].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    for m, rows in runs.items():
        med = statistics.median
        print(
            f"{m:18} loss {med(r['loss_pct'] for r in rows):6.2f} %  "
            f"{med(r['cpu_us_per_datagram'] for r in rows):6.2f} us CPU/datagram  "
            f"load {rows[0]['load']}..{rows[-1]['load']}  ({len(rows)} runs)"
        )


if __name__ == "__main__":
    main()
