"""Flow decoding throughput per core, against the `netflow` PyPI package in the same run.

What is timed: datagram bytes in, serialized events out. For NetFlow v9 / IPFIX that is
`FlowDecoder.decode` (template cache, `struct` fast path), `flow_events` (FlowRecord events with
sampling applied) and `netvigil.events.encode` of every event. The baseline, `netflow`
(0.12.2), only parses to its Python objects (no serialization): it does strictly less work.
Time is process CPU time (`time.process_time`), so other load on the machine does not count
against either side; each figure is the median of `--repeats` runs.

Workloads: datagrams of 28 records of an 18-field template (the shape softflowd and Cisco
exporters send), with a few hundred hosts; NetFlow v5 datagrams of 30 records; sFlow v5
datagrams of 7 flow samples with Ethernet/IPv4/TCP headers (no baseline decodes sFlow).

    python -m bench.bench_flows [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import struct
import time
from collections.abc import Callable

import netflow

from netvigil.collectors.flow.decoder import FlowDecoder, flow_events
from netvigil.events import encode

FIELDS = [  # id, length: a common IPv4 flow template
    (8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (5, 1), (10, 4), (14, 4), (1, 8),
    (2, 8), (22, 4), (21, 4), (15, 4), (16, 4), (17, 4), (9, 1), (13, 1),
]  # fmt: skip
PER_PACKET = 28


def _record(rng: random.Random) -> bytes:
    """One record of FIELDS: a few hundred hosts talking to a few services."""
    return (
        socket.inet_aton(f"10.{rng.randrange(4)}.{rng.randrange(8)}.{rng.randrange(1, 40)}")
        + socket.inet_aton(f"192.0.2.{rng.randrange(1, 200)}")
        + struct.pack(
            ">HHBBBIIQQII", rng.randrange(1024, 65535), rng.choice([53, 80, 443, 22]),
            rng.choice([6, 17]), rng.randrange(256), 0, rng.randrange(1, 48),
            rng.randrange(1, 48), rng.randrange(40, 10**7), rng.randrange(1, 10**4), 1000, 2000,
        )
        + socket.inet_aton("198.51.100.1")
        + struct.pack(">IIBB", 64512, 65001, 24, 24)
    )  # fmt: skip


def v9_ipfix(version: int, n_packets: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    tpl = struct.pack(">HH", 256, len(FIELDS)) + b"".join(struct.pack(">HH", *f) for f in FIELDS)
    out = []
    for i in range(n_packets + 1):
        if i == 0:
            sets = [(0 if version == 9 else 2, tpl)]
        else:
            recs = b"".join(_record(rng) for _ in range(PER_PACKET))
            sets = [(256, recs)]
        body = b"".join(struct.pack(">HH", sid, 4 + len(b)) + b for sid, b in sets)
        if version == 9:
            head = struct.pack(">HHIIII", 9, PER_PACKET, 1000, 1_700_000_000, i, 0)
        else:
            head = struct.pack(">HHIII", 10, 16 + len(body), 1_700_000_000, i, 0)
        out.append(head + body)
    return out


def v5(n_packets: int, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n_packets):
        recs = b"".join(
            socket.inet_aton(f"10.0.{rng.randrange(8)}.{rng.randrange(1, 40)}")
            + socket.inet_aton(f"192.0.2.{rng.randrange(1, 200)}") + socket.inet_aton("10.9.9.9")
            + struct.pack(">HHIIIIHHBBBBHHBBH", 1, 2, rng.randrange(1, 100),
                          rng.randrange(99, 10**6), 1000, 2000, rng.randrange(1024, 65535), 443,
                          0, 0x18, 6, 0, 0, 0, 24, 24, 0)
            for _ in range(30)
        )  # fmt: skip
        out.append(struct.pack(">HHIIIIBBH", 5, 30, 1000, 1_700_000_000, 0, i * 30, 0, 0, 0) + recs)
    return out


def sflow(n_packets: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n_packets):
        samples = []
        for _ in range(7):
            ip = struct.pack(
                ">BBHHHBBH4s4s",
                0x45,
                0,
                1500,
                7,
                0,
                64,
                6,
                0,
                socket.inet_aton(f"10.0.0.{rng.randrange(1, 40)}"),
                socket.inet_aton(f"192.0.2.{rng.randrange(1, 200)}"),
            )
            tcp = struct.pack(
                ">HHIIBBHHH", rng.randrange(1024, 65535), 443, 0, 0, 0x50, 0x10, 0, 0, 0
            )
            frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp
            header = (
                struct.pack(">IIII", 1, 1518, 4, len(frame)) + frame + b"\0" * (-len(frame) % 4)
            )
            record = struct.pack(">II", 1, len(header)) + header
            body = struct.pack(">IIIIIIII", i, 5, 1024, 1024 * i, 0, 3, 4, 1) + record
            samples.append(struct.pack(">II", 1, len(body)) + body)
        head = struct.pack(">II4sIIII", 5, 1, socket.inet_aton("192.0.2.254"), 0, i, 1000, 7)
        out.append(head + b"".join(samples))
    return out  # fmt: skip


def ours(packets: list[bytes]) -> int:
    decoder = FlowDecoder()
    n = 0
    for data in packets:
        result = decoder.decode(data, "192.0.2.254")
        events = flow_events(result, 0.0)
        for event in events:
            encode(event)
        n += len(events) - len(result.templates)  # the flow records
    return n


def baseline(packets: list[bytes]) -> int:
    templates: dict[str, dict[int, object]] = {"netflow": {}, "ipfix": {}}
    n = 0
    for data in packets:
        pkt = netflow.parse_packet(data, templates)
        n += len(pkt.flows)
    return n


def rate(fn: Callable[[list[bytes]], int], packets: list[bytes], repeats: int) -> tuple[float, int]:
    runs, count = [], 0
    for _ in range(repeats):
        t = time.process_time()
        count = fn(packets)
        runs.append(count / (time.process_time() - t))
    return statistics.median(runs), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--packets", type=int, default=600)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    report = {}
    for name, packets, base in (
        ("netflow_v9", v9_ipfix(9, a.packets), True),
        ("ipfix", v9_ipfix(10, a.packets), True),
        ("netflow_v5", v5(a.packets), True),
        ("sflow_v5", sflow(a.packets), False),
    ):
        mine, n = rate(ours, packets, a.repeats)
        row = {"records": n, "netvigil_per_s": round(mine)}
        if base:
            theirs, m = rate(baseline, packets, a.repeats)
            row.update(
                baseline_records=m, baseline_per_s=round(theirs), ratio=round(mine / theirs, 2)
            )
        report[name] = row
    if a.json:
        print(json.dumps(report))
        return
    for name, row in report.items():
        print(f"{name:11} " + "  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
