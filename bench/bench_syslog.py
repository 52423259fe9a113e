"""Syslog parsing throughput per core, against a straightforward regex parser in the same run.

What is timed: raw message bytes in, serialized events out, as the collector does it:
`events_of` (the lane for the common shapes — its C scanner, else its regular expressions —
else `parse_syslog`, strict RFC 5424 and RFC 3164 with vendor deviations, and `to_events`),
the vendor mnemonic table (LogRecord, plus a DeviceEvent when the mnemonic means a state
change) and `netvigil.events.encode`. The general
path alone (`parse_syslog` then `to_events` for every message) is reported too. The
baseline is the parser people write first: one regex per RFC to a dict of strings, no
validation, no structured-data parsing, no serialization, so it does less work.
Time is process CPU time; each figure is the median of `--repeats` runs.

The corpus: Loghub's OpenSSH and Linux samples (../shared/data/loghub-dev, real BSD syslog
bodies) sent as RFC 3164 and as RFC 5424 with structured data, and vendor messages (Cisco
IOS/NX-OS, Arista, Junos) about interfaces and BGP neighbours.

    python -m bench.bench_syslog [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from netvigil.collectors.syslog.records import events_of, to_events
from netvigil.collectors.syslog.rfc3164 import parse_syslog
from netvigil.events import encode

DATA = Path(
    os.environ.get("NETVIGIL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SHARED = DATA / "loghub-dev"
VENDOR = [
    "<189>{n}: *Mar  1 18:48:50.483 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/{i}, "
    "changed state to down",
    "<189>{n}: router{i}: Mar  1 18:48:51.001 UTC: %LINEPROTO-5-UPDOWN: Line protocol on "
    "Interface GigabitEthernet0/{i}, changed state to up",
    "<187>2024 Jan 10 12:00:00 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/{i} "
    "is down (Link failure)",
    "<189>Jan 10 12:00:00 spine{i} Bgp: %BGP-5-ADJCHANGE: peer 10.0.0.{i} (VRF default AS "
    "65001) old state Established event Stop new state Idle",
    "<28>Mar 10 12:00:00 mx{i} mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex 5{i}, ifAdminStatus "
    "up(1), ifOperStatus down(2), ifName ge-0/0/{i}",
    "<30>Mar 10 12:00:00 mx{i} rpd[99]: BGP_NEIGHBOR_STATE_CHANGED: BGP peer 192.0.2.{i} "
    "(External AS 65002) changed state from Established to Idle (event RecvNotify)",
]


def corpus(n: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    lines: list[str] = []
    for name in ("OpenSSH", "Linux"):
        for p in sorted((SHARED / name).glob("*.log")):
            lines += [x for x in p.read_text(errors="replace").splitlines() if x.strip()]
    if not lines:
        lines = ["Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"]
    out = []
    for k in range(n):
        kind = k % 5
        if kind in (0, 1):  # RFC 3164 as Loghub has it
            out.append(b"<38>" + rng.choice(lines).encode())
        elif kind in (2, 3):  # RFC 5424 with structured data
            body = rng.choice(lines).split(": ", 1)[-1]
            out.append(
                f"<38>1 2024-03-01T10:{k % 60:02d}:00.{k % 1000:03d}Z LabSZ sshd {k % 30000} - "
                f'[origin@32473 ip="10.0.0.{k % 250}" seq="{k}"] {body}'.encode()
            )
        else:
            out.append(rng.choice(VENDOR).format(n=k, i=k % 48).encode())
    return out


_R5424 = re.compile(
    r"<(\d{1,3})>(\d{1,3}) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[.*?\])+) ?(.*)", re.S
)
_R3164 = re.compile(
    r"<(\d{1,3})>(\w{3} +\d+ \d\d:\d\d:\d\d) (\S+) ([^:\[\s]+)(?:\[(\d+)\])?: (.*)", re.S
)


def baseline(msgs: list[bytes]) -> int:
    n = 0
    for raw in msgs:
        s = raw.decode("utf-8", "replace")
        m = _R5424.match(s)
        if m:
            pri, ver, ts, host, app, proc, msgid, sd, msg = m.groups()
            rec = {
                "pri": int(pri), "version": int(ver), "timestamp": ts, "hostname": host,
                "app_name": app, "procid": proc, "msgid": msgid, "sd": sd, "message": msg,
            }  # fmt: skip
        else:
            m = _R3164.match(s)
            names = ("pri", "timestamp", "hostname", "tag", "pid", "message")
            rec = {"raw": s} if m is None else dict(zip(names, m.groups(), strict=True))
        n += bool(rec)
    return n


def ours(msgs: list[bytes]) -> int:
    n = 0
    for raw in msgs:
        for event in events_of(raw, "192.0.2.1", 1.7e9):
            encode(event)
        n += 1
    return n


def general(msgs: list[bytes]) -> int:
    n = 0
    for raw in msgs:
        for event in to_events(parse_syslog(raw, now=1.7e9), "192.0.2.1", 1.7e9):
            encode(event)
        n += 1
    return n


def rate(fn: Callable[[list[bytes]], int], msgs: list[bytes], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t = time.process_time()
        count = fn(msgs)
        runs.append(count / (time.process_time() - t))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    msgs = corpus(a.messages)
    mine, theirs = rate(ours, msgs, a.repeats), rate(baseline, msgs, a.repeats)
    report = {
        "messages": len(msgs),
        "netvigil_per_s": round(mine),
        "general_path_per_s": round(rate(general, msgs, a.repeats)),
        "baseline_per_s": round(theirs),
        "ratio": round(mine / theirs, 2),
    }
    print(json.dumps(report) if a.json else "  ".join(f"{k}={v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
