"""A storm of syslog datagrams and SNMP traps against a running `netvigil run`: is every
datagram accounted for in /metrics (received + kernel drops + queue drops = sent)?

Starts the service with the syslog UDP listener, the trap receiver and the console on free
loopback ports, sends ``--syslog`` syslog datagrams and ``--traps`` copies of one real linkDown
trap (captured from net-snmp's snmptrap) at ``--rate`` datagrams/s each (0: as fast as this
process can), waits until the service's counters stop moving, and prints one JSON line per
listener from the console's /metrics: sent, received, kernel and queue drops, and the receive
buffer asked for and granted. It measures loss and its accounting, not speed: keeping up with
a rate is a scale question, and the answer here depends on the machine's load.

    python -m bench.udp_storm [--syslog 80000] [--traps 40000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from provision.common import free_port, wait_for_port

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
SYSLOG = b"<13>Jan  5 10:00:00 edge1 app: storm datagram %07d " + b"x" * 100


def capture_trap() -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as cap:
        cap.bind(("127.0.0.1", 0))
        cap.settimeout(20)
        subprocess.run(
            ["snmptrap", "-v2c", "-c", "public", f"udp:127.0.0.1:{cap.getsockname()[1]}", "",
             "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"],
            check=True,
        )  # fmt: skip
        return cap.recv(65535)


def send(port: int, payloads: list[bytes], rate: float) -> float:
    """Send at ``rate`` datagrams/s (0: no pacing); returns the seconds it took."""
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, p in enumerate(payloads):
            s.sendto(p, ("127.0.0.1", port))
            if rate and i % 100 == 99:
                ahead = start + (i + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    return time.monotonic() - start


def scrape(url: str, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def warm(port: int, probe: bytes, name: str, url: str, token: str) -> dict[str, float]:
    """Send ``probe`` until the service counts one (a datagram sent before the listener is
    bound is lost outside it); returns the counters to subtract."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(probe, ("127.0.0.1", port))
        time.sleep(0.5)
        got = counters(scrape(url, token), name)
        if got["received"]:
            return got
    raise TimeoutError(f"{name} counted nothing in 60 s")


def counters(
    got: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str
) -> dict[str, float]:
    rows = {k: v for k, v in got.items() if ("collector", name) in k[1]}

    def one(metric: str) -> float:
        return sum(v for k, v in rows.items() if k[0] == metric)

    return {
        "received": one("netvigil_collector_received_total"),
        "kernel_drops": one("netvigil_collector_kernel_drops_total"),
        "queue_drops": one("netvigil_collector_queue_drops_total"),
        "rcvbuf_requested": one("netvigil_collector_receive_buffer_requested_bytes"),
        "rcvbuf_granted": one("netvigil_collector_receive_buffer_bytes"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--syslog", type=int, default=80_000)
    ap.add_argument("--traps", type=int, default=40_000)
    ap.add_argument("--rate", type=float, default=2_000.0)
    args = ap.parse_args()
    syslog_port, trap_port, api_port = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp, Path(tmp, "service.log").open("w") as log:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
        env.update(
            NETVIGIL_SYSLOG__HOST="127.0.0.1",
            NETVIGIL_SYSLOG__UDP_PORT=str(syslog_port),
            NETVIGIL_SNMP__TRAPS="true",
            NETVIGIL_SNMP__TRAP_HOST="127.0.0.1",
            NETVIGIL_SNMP__TRAP_PORT=str(trap_port),
            NETVIGIL_API__ENABLED="true",
            NETVIGIL_API__PORT=str(api_port),
            NETVIGIL_DETECTOR__LOG_CLASSIFIER="keywords",
        )
        made = subprocess.run(
            [*NETVIGIL, "api", "token", "create", "--role", "viewer", "--data-dir", tmp, "--json"],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        token = json.loads(made.stdout)["token"]
        proc = subprocess.Popen(
            [*NETVIGIL, "run", "--data-dir", tmp],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{api_port}/metrics"
        try:
            wait_for_port(api_port, timeout=120)
            trap = capture_trap()
            base = {
                "syslog": warm(syslog_port, SYSLOG % 0, "syslog", url, token),
                "snmp-traps": warm(trap_port, trap, "snmp-traps", url, token),
            }
            took = {
                "syslog": send(syslog_port, [SYSLOG % i for i in range(args.syslog)], args.rate),
                "snmp-traps": send(trap_port, [trap] * args.traps, args.rate),
            }
            last: object = None
            while True:  # until the service has read and counted everything it will
                time.sleep(2.0)
                got = scrape(url, token)
                now = sorted((k, v) for k, v in got.items() if k[0].startswith("netvigil_coll"))
                if now == last:
                    break
                last = now
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        sent = {"syslog": args.syslog, "snmp-traps": args.traps}
        for name, n in sent.items():
            end = counters(got, name)
            row = {k: v - base[name][k] for k, v in end.items() if not k.startswith("rcvbuf")}
            row["accounted"] = sum(row.values()) == n
            print(json.dumps({"listener": name, "sent": n, "send_s": round(took[name], 1), **row,
                              "rcvbuf_requested": end["rcvbuf_requested"],
                              "rcvbuf_granted": end["rcvbuf_granted"]}))  # fmt: skip
        logged = [
            line
            for line in Path(tmp, "service.log").read_text().splitlines()
            if "lost datagrams" in line or "rmem_max" in line
        ]
        print(json.dumps({"log_lines_about_loss": len(logged), "last": logged[-2:]}))


if __name__ == "__main__":
    main()
