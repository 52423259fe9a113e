"""Ingest at line rate: real UDP traffic on loopback into NetVigil's collectors and, for
syslog, into rsyslog on the same traffic in the same run. Loss, and messages per CPU second.

Each receiver is its own process, found by its PID: NetVigil's collectors as ``netvigil run``
builds them, writing every event to a file (``bench/ingest_target.py``), and rsyslog
(Debian's ``rsyslogd``) with its own configuration: ``imudp`` on a loopback port with the same
receive buffer asked for as NetVigil's (``rcvbufSize``), and ``omfile`` writing every
message to a file. Senders are separate processes (``bench/udp_send.py``) pinned to one CPU,
sending every message to both receivers in turn. A phase sends at one rate for
``--seconds``; then the harness waits until both receivers stop moving, and reads:

- CPU seconds of each receiver, ``utime + stime`` from ``/proc/PID/stat`` of the process (all
  its threads) and of its live child processes, over the phase including the drain (with
  ``--workers`` > 1, ``collector_cpu_s`` is NetVigil's collector process alone, without the
  UDP worker processes it started);
- what each handled: NetVigil's own counters (received, kernel and queue drops: the meters
  the console exports) and the events it wrote; rsyslog's lines written, and the kernel's
  drop count of its socket (``/proc/net/udp``);
- the 1-minute load average at the start and end of the phase, since the machine is shared.

With ``--discard`` neither writes anything (rsyslog's ruleset ``stop``s, NetVigil's events only
counted; rsyslog's count is then imudp's ``submitted`` from ``impstats``): the cost of
receiving and parsing alone. Loss is 1 - handled / sent. Phases go round the rates
``--repeats`` times (rates in turn, not one rate's repeats in a row, so that a change of
load falls on every rate); the table gives each rate's median. ``flows`` replays real
NetFlow v9 exporters (see ``bench/udp_send.py``) into NetVigil alone and counts flow records.

    nice -n 10 python -m bench.ingest_line_rate syslog --rates 25000,50000,100000 --repeats 3
    nice -n 10 python -m bench.ingest_line_rate flows --rates 100000 --repeats 3
    nice -n 10 python -m bench.ingest_line_rate flows --rates 100000,200000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provision.common import free_port

__all__ = ["cpu_seconds", "main"]

TICK = os.sysconf("SC_CLK_TCK")
RSYSLOG_CONF = """global(workDirectory="{dir}")
{stats}
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}" rcvbufSize="{rcvbuf}" ruleset="bench")
ruleset(name="bench") {{
  {action}
}}
ruleset(name="unused") {{
  action(type="omfile" file="/dev/null")
}}
"""
# "unused": rsyslogd refuses to start without an action, and with --discard the bench ruleset
# has none (``stop``: parsed, counted by impstats, dropped; this build has no omdiscard)


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """utime + stime of a process (every thread) and of its live descendants."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{p}/task").iterdir() if descendants else ():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def udp_drops(port: int) -> int:
    """The kernel's drop count summed over the UDP sockets bound to ``port``."""
    total = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(path).read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port:
                total += int(cols[12])
    return total


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class Rsyslog:
    def __init__(self, tmp: Path, rcvbuf: int, discard: bool = False) -> None:
        self.port = free_port()
        self.out = tmp / "rsyslog.out"
        self.discard = discard
        conf = tmp / "rsyslog.conf"
        action = "stop" if discard else f'action(type="omfile" file="{self.out}")'
        self.stats = tmp / "rsyslog.stats"
        stats = (  # with nothing written, rsyslog's own count of what imudp took in
            f'module(load="impstats" interval="1" format="json" log.syslog="off" '
            f'log.file="{self.stats}")'
            if discard
            else ""
        )
        conf.write_text(
            RSYSLOG_CONF.format(dir=tmp, port=self.port, rcvbuf=rcvbuf, action=action, stats=stats)
        )
        exe = shutil.which("rsyslogd", path="/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
        if exe is None:
            raise SystemExit("rsyslogd is not installed (scripts/apt-packages.txt)")
        self.proc = subprocess.Popen(
            [exe, "-n", "-f", str(conf), "-i", str(tmp / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "rsyslog.err").open("w"),
        )
        self._lines = self._offset = 0

    def handled(self) -> int:
        """Lines rsyslog wrote so far (with ``--discard``: what imudp submitted)."""
        if self.discard:
            return self._submitted()
        if self.out.exists():
            with self.out.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # a line being written is counted when complete
            self._lines += chunk.count(b"\n", 0, end)
            self._offset += end
        return self._lines

    def _submitted(self) -> int:
        if self.stats.exists():
            for line in reversed(self.stats.read_text().splitlines()):
                if '"origin": "imudp"' in line and '"submitted"' in line:  # the input's line
                    return int(json.loads(line[line.index("{") :])["submitted"])
        return 0

    def quiet(self) -> None:
        """Empty the file while nothing is sent (rsyslog appends: it writes on at offset 0)."""
        self.handled()
        if self.out.exists():
            with self.out.open("r+b") as f:
                f.truncate(0)
            self._offset = 0

    def counters(self) -> dict[str, float]:
        return {"handled": self.handled(), "kernel_drops": udp_drops(self.port)}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class NetVigil:
    def __init__(self, tmp: Path, kind: str, env: dict[str, str], discard: bool = False) -> None:
        self.port = free_port()
        self.out, self.status = tmp / "netvigil.out", tmp / "netvigil.status"
        self.err = tmp / "netvigil.err"
        full = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
        key = "NETVIGIL_SYSLOG__UDP_PORT" if kind == "syslog" else "NETVIGIL_FLOWS__PORT"
        host = "NETVIGIL_SYSLOG__HOST" if kind == "syslog" else "NETVIGIL_FLOWS__HOST"
        full.update({key: str(self.port), host: "127.0.0.1", **env})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ingest_target", "--out", str(self.out),
             "--status", str(self.status), "--data-dir", str(tmp),
             *(["--discard"] if discard else [])],
            env=full, cwd=Path(__file__).resolve().parents[1],
            stderr=self.err.open("w"),
        )  # fmt: skip
        self.record = "LogRecord" if kind == "syslog" else "FlowRecord"

    def counters(self) -> dict[str, float]:
        for _ in range(600):  # the first one comes once it has started: on a loaded machine
            try:  # its imports alone took over 5 s
                got = json.loads(self.status.read_text())
                break
            except (FileNotFoundError, json.JSONDecodeError):
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"NetVigil exited ({self.proc.returncode}): {self.err.read_text()}"
                    ) from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"no status from NetVigil in 60 s: {self.status}")
        return {
            "handled": got["received"],
            "records": got["written"].get(self.record, 0),
            "kernel_drops": got["kernel_drops"],
            "queue_drops": got["queue_drops"],
            "rcvbuf": got["rcvbuf"],
        }

    def quiet(self) -> None:
        """Empty the events file while nothing is sent (the target appends)."""
        if self.out.exists():
            with self.out.open("r+b") as f:
                f.truncate(0)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def settle(reads: list[Callable[[], dict[str, float]]], quiet_s: float = 2.5) -> None:
    """Wait until no receiver's counters moved for ``quiet_s`` (at most 120 s)."""
    last: list[dict[str, float]] = []
    still = time.monotonic()
    deadline = still + 120
    while time.monotonic() < deadline:
        now = [r() for r in reads]
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still >= quiet_s:
            return
        time.sleep(0.25)


def warm(port: int, read: Callable[[], dict[str, float]], probe: bytes) -> None:
    """Send ``probe`` until the receiver counts it (it has no readiness signal for UDP)."""
    base = read()["handled"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(120):
            s.sendto(probe, ("127.0.0.1", port))
            time.sleep(0.5)
            if read()["handled"] > base:
                return
    raise TimeoutError(f"nothing counted on port {port} in 60 s")


def senders(
    kind: str, ports: list[int], rate: float, seconds: float, n: int, cpu: int | None
) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.udp_send", kind, "--rate", str(rate / n),
           "--seconds", str(seconds)]  # fmt: skip
    cmd += [x for p in ports for x in ("--port", str(p))]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=root) for _ in range(n)]
    outs = []
    for p in procs:
        out = p.communicate()[0]
        if p.returncode != 0:  # its own message (e.g. no shared data) is on stderr already
            raise SystemExit(f"bench.udp_send failed (rc {p.returncode})")
        outs.append(json.loads(out))
    return {
        "datagrams": sum(o["datagrams_per_port"] + o["warmup_datagrams"] for o in outs),
        "records": sum(o["records_per_port"] for o in outs),
        "seconds": max(o["seconds"] for o in outs),
        "cpu_s": sum(o["cpu_s"] for o in outs),
    }


def phase(
    kind: str,
    rate: float,
    a: argparse.Namespace,
    nv: NetVigil,
    rs: Rsyslog | None,
) -> dict[str, Any]:
    parts: dict[str, Any] = {"netvigil": nv}
    if rs is not None:
        parts["rsyslog"] = rs
    for p in parts.values():
        p.quiet()
    before = {k: (p.counters(), cpu_seconds(p.proc.pid)) for k, p in parts.items()}
    own0 = cpu_seconds(nv.proc.pid, descendants=False)
    load0 = load1()
    sent = senders(kind, [p.port for p in parts.values()], rate, a.seconds, a.senders, a.cpu)
    settle([p.counters for p in parts.values()])
    row: dict[str, Any] = {"rate": rate, "sent": sent, "load_start": load0, "load_end": load1()}
    for k, p in parts.items():
        after, cpu1 = p.counters(), cpu_seconds(p.proc.pid)
        c0, cpu0 = before[k]
        d = {x: after[x] - c0[x] for x in after if x != "rcvbuf"}
        cpu = cpu1 - cpu0
        if kind == "flows":
            handled, offered = d["records"], sent["records"]
        else:
            handled, offered = d["handled"], sent["datagrams"]
        d.update(
            cpu_s=round(cpu, 2),
            loss_pct=round(100 * (1 - handled / offered), 3),
            per_cpu_s=round(handled / cpu) if cpu else None,
        )
        if k == "netvigil":  # the collector process alone, without its UDP workers
            d["collector_cpu_s"] = round(cpu_seconds(nv.proc.pid, descendants=False) - own0, 2)
            d["accounted"] = (
                d["handled"] + d["kernel_drops"] + d["queue_drops"] == sent["datagrams"]
            )
        row[k] = d
    return row


def summary(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    out = []
    for rate in sorted({r["rate"] for r in rows}):
        at = [r for r in rows if r["rate"] == rate]
        med = statistics.median
        s: dict[str, Any] = {
            "rate": rate,
            "runs": len(at),
            "sent_per_s": round(med(r["sent"]["records"] / r["sent"]["seconds"] for r in at)),
            "load": f"{min(r['load_start'] for r in at):.1f}-{max(r['load_end'] for r in at):.1f}",
        }
        for k in ("netvigil", "rsyslog"):
            if k in at[0]:
                s[f"{k}_loss_pct"] = med(r[k]["loss_pct"] for r in at)
                s[f"{k}_per_cpu_s"] = med(r[k]["per_cpu_s"] or 0 for r in at)
        if "rsyslog" in at[0]:
            s["cpu_per_msg_ratio"] = round(
                med(r["netvigil"]["cpu_s"] / r["rsyslog"]["cpu_s"] * r["rsyslog"]["handled"]
                    / max(r["netvigil"]["handled"], 1) for r in at), 3,
            )  # fmt: skip
        s["netvigil_collector_cpu_share"] = round(
            med(r["netvigil"]["collector_cpu_s"] / max(r["netvigil"]["cpu_s"], 0.01) for r in at), 3
        )
        s["accounted"] = all(r["netvigil"]["accounted"] for r in at)
        out.append(s)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["syslog", "flows"])
    ap.add_argument("--rates", default="25000,50000,100000", help="messages (records) per s")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--senders", type=int, default=1, help="sender processes sharing the rate")
    ap.add_argument("--cpu", type=int, default=1, help="CPU the senders are pinned to")
    ap.add_argument("--workers", type=int, default=1, help="NetVigil UDP workers (udp_workers)")
    ap.add_argument("--no-rsyslog", action="store_true")
    ap.add_argument(
        "--discard", action="store_true", help="write nothing (rsyslog: stop): receive+parse"
    )
    ap.add_argument("--json", action="store_true", help="every phase as JSON lines too")
    a = ap.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    rcvbuf = 8 << 20
    section = "SYSLOG" if a.kind == "syslog" else "FLOWS"
    env = {f"NETVIGIL_{section}__UDP_WORKERS": str(a.workers)} if a.workers > 1 else {}
    with tempfile.TemporaryDirectory(prefix="ingest-") as d:
        tmp = Path(d)
        nv = NetVigil(tmp, a.kind, env, a.discard)
        rs = Rsyslog(tmp, rcvbuf, a.discard) if a.kind == "syslog" and not a.no_rsyslog else None
        rows = []
        try:
            probe = b"<13>Jan  5 10:00:00 bench warm: up"
            if a.kind == "syslog":
                warm(nv.port, nv.counters, probe)
            else:  # any datagram counts as received, a dead letter included
                warm(nv.port, nv.counters, b"warm-up")
            if rs is not None:
                warm(rs.port, rs.counters, probe)
            for _ in range(a.repeats):
                for rate in rates:
                    row = phase(a.kind, rate, a, nv, rs)
                    rows.append(row)
                    if a.json:
                        print(json.dumps(row), flush=True)
        finally:
            nv.stop()
            if rs is not None:
                rs.stop()
    for s in summary(rows, a.kind):
        print(json.dumps(s) if a.json else "  ".join(f"{k}={v}" for k, v in s.items()))


if __name__ == "__main__":
    main()
