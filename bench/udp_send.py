"""Real UDP senders for the ingest benchmarks: syslog messages or flow datagrams on loopback.

Sends at a paced rate (messages/s for syslog, records/s for flows) from ``--sources`` sockets,
every payload to every ``--port`` in turn (the same traffic to each receiver, interleaved).
Pacing: every half millisecond the sender sends what is due by then, so a sender that the
scheduler held back catches up in a burst, as a router's export after a pause does.

- ``syslog``: the corpus of ``bench.bench_syslog`` (Loghub OpenSSH and Linux lines as RFC 3164
  and RFC 5424 with structured data, and vendor messages), one message per datagram, from
  ``--sources`` sockets on 127.0.0.1 (distinct source ports: distinct senders to the kernel).
- ``flows``: NetFlow v9 datagrams of real exporters from ``../shared/data/vectors/netflow``
  (Cisco 1941, ASR 9000, WLC and ASA, a MAC-address template, Fortigate: the captures whose
  data datagrams carry 14 to 29 records), each exporter from its own loopback address
  (127.0.0.10, .11, ...), its templates first and then its data datagrams in turn.

Prints one JSON line: datagrams and records sent per port, seconds, the sender's CPU seconds.

    python -m bench.udp_send syslog --port 5514 --rate 50000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_syslog import DATA, SHARED, corpus
from netvigil.collectors.flow.decoder import FlowDecoder

__all__ = ["Traffic", "flow_traffic", "main", "send", "syslog_traffic"]

VECTORS = DATA / "vectors" / "netflow"
FLOW_CASES = (
    "logstash-netflow-9-cisco-1941-k9-release-15-1",
    "logstash-netflow-9-cisco-asr-9000-series-template-260",
    "logstash-netflow-9-cisco-wlc",
    "logstash-netflow-9-cisco-asa",
    "logstash-netflow-9-macaddress",
    "logstash-netflow-9-fortigate-fortios-54x-appid",
)


@dataclass
class Traffic:
    """What to send: a warm-up (templates) once, then ``cycle`` over and over; each payload
    with the index of the socket it leaves from and the records it carries (1 for syslog)."""

    sources: list[str]
    warmup: list[tuple[int, bytes]]
    cycle: list[tuple[int, bytes, int]]


def syslog_traffic(sources: int, messages: int = 20_000) -> Traffic:
    if not (SHARED / "OpenSSH").is_dir():
        raise SystemExit(f"no Loghub samples in {SHARED}: set NETVIGIL_SHARED_DATA")
    msgs = corpus(messages)
    return Traffic(["127.0.0.1"] * sources, [], [(i % sources, m, 1) for i, m in enumerate(msgs)])


def flow_traffic(vectors: Path = VECTORS) -> Traffic:
    if not (vectors / "cases.json").is_file():
        raise SystemExit(f"no flow captures in {vectors}: set NETVIGIL_SHARED_DATA")
    cases = {c["id"]: c for c in json.loads((vectors / "cases.json").read_text())}
    sources, warmup, data = [], [], []
    for n, name in enumerate(FLOW_CASES):
        decoder = FlowDecoder()
        sources.append(f"127.0.0.{10 + n}")
        for path in cases[name]["packets"]:
            payload = (vectors / path).read_bytes()
            result = decoder.decode(payload, sources[-1], 0.0)
            records = sum(len(s.records) for s in result.sets)
            if records:
                data.append((n, payload, records))
            else:
                warmup.append((n, payload))
    # interleave the exporters: one data datagram of each in turn
    per = [[d for d in data if d[0] == n] for n in range(len(sources))]
    cycle = [per[n][k % len(per[n])] for k in range(max(map(len, per))) for n in range(len(per))]
    return Traffic(sources, warmup, cycle)


def send(traffic: Traffic, ports: list[int], rate: float, seconds: float) -> dict[str, object]:
    """Send ``rate`` records/s for ``seconds`` to every port; what was sent."""
    socks = []
    for host in traffic.sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, 0))
        socks.append(s)
    dests = [("127.0.0.1", p) for p in ports]
    for i, payload in traffic.warmup:
        for d in dests:
            socks[i].sendto(payload, d)
    cpu0, start = time.process_time(), time.monotonic()
    total = int(rate * seconds)
    cycle, n_cycle = traffic.cycle, len(traffic.cycle)
    datagrams = records = k = 0
    while records < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while records < due:
            i, payload, count = cycle[k % n_cycle]
            sock = socks[i]
            for d in dests:
                sock.sendto(payload, d)
            k += 1
            datagrams += 1
            records += count
        time.sleep(0.0005)
    took = time.monotonic() - start
    for s in socks:
        s.close()
    return {
        "datagrams_per_port": datagrams,
        "records_per_port": records,
        "warmup_datagrams": len(traffic.warmup),
        "seconds": round(took, 3),
        "cpu_s": round(time.process_time() - cpu0, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["syslog", "flows"])
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--rate", type=float, required=True, help="messages (records) per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sources", type=int, default=16, help="syslog: sending sockets")
    ap.add_argument("--cpu", type=int, default=None, help="pin the sender to this CPU")
    a = ap.parse_args()
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    traffic = syslog_traffic(a.sources) if a.kind == "syslog" else flow_traffic()
    print(json.dumps(send(traffic, a.port, a.rate, a.seconds)), flush=True)


if __name__ == "__main__":
    main()
