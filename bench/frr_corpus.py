"""A labelled router-log corpus written by FRRouting itself, in namespaces this module creates.

FRRouting 8.4 prefixes each log message with a unique id, ``[XXXXX-XXXXX]`` (``log
unique-id``, on by default; the id is derived from the source file, the format string before
it is filled in, and the severity), so every line carries its call site: a ground truth the
program writes, not a labeller. :func:`generate` builds ``routers`` routers on a ring, each in
its own network namespace (``nvfrr-<tag>-rN``, veth pairs between them, addresses only inside
them), runs zebra, staticd, bfdd, ospfd and bgpd in each with their own pathspace (``-N``),
logging to a file at debugging level with several ``debug`` categories on, and then drives
seeded events through ``ip`` and ``vtysh``: links down and up, OSPF cost, hello and MTU
changes, daemons killed and restarted, BGP sessions cleared and shut, prefixes announced and
withdrawn, static routes added and removed. The event sequence is reproducible from the seed;
the lines are not byte-identical between runs (timers, packet order).

Everything created is removed in a ``finally`` (and on SIGTERM): daemons stopped by their PID,
namespaces deleted, run directories removed. The corpus (one line per FRR log line, prefixed
with the router's name) is written under ``out_dir``, never in the repository: it is output
of a GPL program, and this module regenerates it.

Namespaces, processes and commands go through :mod:`netvigil.lab.system` (the lab's thin I/O),
not a second copy of it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from netvigil.lab.system import missing_requirements, run, spawn, stop_pids

__all__ = ["DAEMONS", "LINE", "Router", "generate", "missing", "read_corpus"]

FRR_RUN = Path("/var/run/frr")
#: started in this order: staticd, bfdd, ospfd and bgpd connect to zebra's socket
DAEMONS = ("zebra", "staticd", "bfdd", "ospfd", "bgpd")
#: ``YYYY/MM/DD HH:MM:SS.mmm DAEMON: [XXXXX-XXXXX]`` then an optional ``[EC n]``, then the body
LINE = re.compile(
    r"^(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (?P<daemon>[A-Z0-9]+): "
    r"\[(?P<uid>[0-9A-Z]{5}-[0-9A-Z]{5})\](?:\[EC \d+\])? (?P<body>.*)$"
)
DEBUGS = {
    "zebra": ["zebra events", "zebra kernel", "zebra rib", "zebra nht", "zebra dplane"],
    "staticd": ["static events", "static route"],
    "bfdd": ["bfd peer", "bfd zebra", "bfd network"],
    "ospfd": [
        "ospf event",
        "ospf ism",
        "ospf nsm",
        "ospf lsa",
        "ospf zebra",
        "ospf packet hello",
        "ospf packet dd",
    ],
    "bgpd": ["bgp neighbor-events", "bgp updates", "bgp zebra", "bgp nht", "bgp keepalives"],
}


def missing() -> list[str]:
    """What keeps generation from running here (root, namespaces, FRR's daemons)."""
    out = missing_requirements()
    out = [m for m in out if not m.startswith(("snmpd", "lldpd", "softflowd"))]
    for d in ("staticd", "bfdd"):
        if not Path(f"/usr/lib/frr/{d}").exists():
            out.append(f"/usr/lib/frr/{d} (apt-get install frr)")
    return out


@dataclass
class Router:
    n: int
    tag: str
    links: list[tuple[str, str, str]] = field(default_factory=list)  # ifname, addr/30, peer
    asn: int = 0
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"r{self.n}"

    @property
    def ns(self) -> str:
        return f"nvfrr-{self.tag}-{self.name}"

    @property
    def rundir(self) -> Path:
        """The pathspace's run directory: sockets, pid files, configuration and logs."""
        return FRR_RUN / self.ns

    @property
    def loopback(self) -> str:
        return f"10.255.0.{self.n}"


def _ring(count: int, tag: str) -> list[Router]:
    routers = [Router(n, tag, asn=65000 + n) for n in range(1, count + 1)]
    pairs = [(i, (i + 1) % count) for i in range(count)] if count > 2 else [(0, 1)]
    for k, (a, b) in enumerate(pairs, start=1):
        ra, rb = routers[a], routers[b]
        ra.links.append((f"eth{len(ra.links)}", f"10.0.{k}.1", f"10.0.{k}.2"))
        rb.links.append((f"eth{len(rb.links)}", f"10.0.{k}.2", f"10.0.{k}.1"))
    return routers


def _asn_of(routers: list[Router], addr: str) -> int:
    return next(r.asn for r in routers for _, a, _ in r.links if a == addr)


def _conf(r: Router, daemon: str, routers: list[Router]) -> str:
    lines = [
        "frr defaults traditional",
        f"hostname {r.name}",
        f"log file {r.rundir / f'{daemon}.log'} debugging",
        "log timestamp precision 3",
        "log unique-id",
    ]
    lines += [f"debug {d}" for d in DEBUGS[daemon]]
    if daemon == "zebra":
        lines += ["interface lo", f" ip address {r.loopback}/32", "exit"]
        for ifname, addr, _ in r.links:
            lines += ["interface " + ifname, f" ip address {addr}/30", "exit"]
    elif daemon == "staticd":
        lines += [f"ip route 192.168.{r.n}.0/24 Null0"]
    elif daemon == "bfdd":
        lines += ["bfd", *(f" peer {p}" for _, _, p in r.links), "exit"]
    elif daemon == "ospfd":
        for ifname, _, _ in r.links:
            lines += [
                "interface " + ifname,
                " ip ospf network point-to-point",
                " ip ospf hello-interval 1",
                " ip ospf dead-interval 4",
                "exit",
            ]
        lines += [
            "router ospf",
            f" ospf router-id {r.loopback}",
            " network 10.0.0.0/16 area 0",
            " network 10.255.0.0/24 area 0",
            " passive-interface lo",
            " redistribute static",
            "exit",
        ]
    elif daemon == "bgpd":
        lines += [f"router bgp {r.asn}", f" bgp router-id {r.loopback}"]
        lines += [" no bgp ebgp-requires-policy", " timers bgp 3 9"]
        for _, _, peer in r.links:
            lines += [f" neighbor {peer} remote-as {_asn_of(routers, peer)}"]
            lines += [f" neighbor {peer} bfd"]
        lines += [" address-family ipv4 unicast", f"  network 172.16.{r.n}.0/24"]
        lines += ["  redistribute static", " exit-address-family", "exit"]
    return "\n".join([*lines, ""])


def _start(r: Router, daemon: str) -> None:
    d = r.rundir
    argv = [
        "nice",
        "-n",
        "10",
        f"/usr/lib/frr/{daemon}",
        "-N",
        r.ns,
        "-f",
        str(d / f"{daemon}.conf"),
        "-i",
        str(d / f"{daemon}.pid"),
    ]
    argv += ["-P", "0"]  # no vty TCP port: vtysh uses the pathspace's Unix sockets
    r.pids[daemon] = spawn(argv, netns=r.ns, log=d / f"{daemon}.stdout")
    if daemon == "zebra":
        _wait(lambda: (d / "zserv.api").exists(), 15.0, f"{r.ns} zebra")


def _wait(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout_s:.0f} s")
        time.sleep(0.1)


def _vtysh(r: Router, *cmds: str) -> None:
    argv = ["vtysh", "-N", r.ns]
    for c in cmds:
        argv += ["-c", c]
    run(argv, check=False)


def _build(routers: list[Router]) -> None:
    for r in routers:
        run(["ip", "netns", "add", r.ns])
        run(["ip", "-n", r.ns, "link", "set", "lo", "up"])
        run(["ip", "netns", "exec", r.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    done: set[str] = set()
    for r in routers:
        for ifname, addr, peer in r.links:
            if addr in done:
                continue
            other = next(o for o in routers for _, a, _ in o.links if a == peer)
            oif = next(i for i, a, _ in other.links if a == peer)
            veth = ["type", "veth", "peer", "name", oif, "netns", other.ns]
            run(["ip", "-n", r.ns, "link", "add", ifname, *veth])
            run(["ip", "-n", r.ns, "link", "set", ifname, "up"])
            run(["ip", "-n", other.ns, "link", "set", oif, "up"])
            done |= {addr, peer}
    for r in routers:
        d = r.rundir  # FRR's daemons run as user frr: their directory is theirs
        d.mkdir(parents=True)
        for daemon in DAEMONS:
            (d / f"{daemon}.conf").write_text(_conf(r, daemon, routers))
        for p in (d, *d.iterdir()):
            shutil.chown(p, "frr", "frr")
    for r in routers:
        for daemon in DAEMONS:
            _start(r, daemon)


def _events(rng: random.Random, routers: list[Router]) -> Iterator[str]:
    """One event at a time (a generator, so the caller paces them); yields its description."""
    announced: dict[str, set[int]] = {r.name: set() for r in routers}
    while True:
        r = rng.choice(routers)
        ifname, _, peer = rng.choice(r.links)
        kind = rng.choice(
            [
                "link",
                "cost",
                "mtu",
                "hello",
                "kill",
                "clear",
                "shut",
                "announce",
                "static",
                "bfd",
            ]
        )
        if kind == "link":
            run(["ip", "-n", r.ns, "link", "set", ifname, "down"])
            yield f"{r.name} {ifname} down"
            run(["ip", "-n", r.ns, "link", "set", ifname, "up"])
            yield f"{r.name} {ifname} up"
        elif kind == "cost":
            cost = rng.choice([5, 10, 20, 50, 100])
            _vtysh(r, "configure terminal", f"interface {ifname}", f"ip ospf cost {cost}")
            yield f"{r.name} {ifname} ospf cost {cost}"
        elif kind == "mtu":
            run(["ip", "-n", r.ns, "link", "set", ifname, "mtu", "1400"])
            yield f"{r.name} {ifname} mtu 1400"
            run(["ip", "-n", r.ns, "link", "set", ifname, "mtu", "1500"])
            yield f"{r.name} {ifname} mtu 1500"
        elif kind == "hello":
            _vtysh(r, "configure terminal", f"interface {ifname}", "ip ospf hello-interval 2")
            yield f"{r.name} {ifname} hello 2 (mismatch)"
            _vtysh(r, "configure terminal", f"interface {ifname}", "ip ospf hello-interval 1")
            yield f"{r.name} {ifname} hello 1"
        elif kind == "kill":
            daemon = rng.choice(["ospfd", "bgpd", "bfdd", "staticd"])
            with suppress(ProcessLookupError):  # it may have died on its own
                os.kill(r.pids[daemon], signal.SIGKILL)
            stop_pids([r.pids[daemon]], grace_s=2.0)
            yield f"{r.name} {daemon} killed"
            _start(r, daemon)
            yield f"{r.name} {daemon} restarted"
        elif kind == "clear":
            target = rng.choice([peer, "*"])
            _vtysh(r, f"clear ip bgp {target}")
            yield f"{r.name} clear ip bgp {target}"
        elif kind == "shut":
            bgp = f"router bgp {r.asn}"
            _vtysh(r, "configure terminal", bgp, f"neighbor {peer} shutdown")
            yield f"{r.name} neighbor {peer} shutdown"
            _vtysh(r, "configure terminal", bgp, f"no neighbor {peer} shutdown")
            yield f"{r.name} neighbor {peer} no shutdown"
        elif kind == "announce":
            net = rng.randint(1, 40)
            prefix = f"172.{16 + r.n}.{net}.0/24"
            verb = "no network" if net in announced[r.name] else "network"
            announced[r.name] ^= {net}
            _vtysh(
                r,
                "configure terminal",
                f"router bgp {r.asn}",
                "address-family ipv4 unicast",
                f"{verb} {prefix}",
            )
            yield f"{r.name} bgp {verb} {prefix}"
        elif kind == "static":
            prefix = f"192.168.{100 + rng.randint(0, 50)}.0/24"
            _vtysh(r, "configure terminal", f"ip route {prefix} {peer}")
            yield f"{r.name} static {prefix} via {peer}"
            _vtysh(r, "configure terminal", f"no ip route {prefix} {peer}")
            yield f"{r.name} static {prefix} removed"
        else:
            mult = rng.choice([3, 5])
            _vtysh(r, "configure terminal", "bfd", f"peer {peer}", f"detect-multiplier {mult}")
            yield f"{r.name} bfd peer {peer} detect-multiplier {mult}"


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises SystemExit here, so the ``finally`` that removes the lab still runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _stop(routers: list[Router]) -> list[int]:
    """Stop every daemon by its PID and delete the namespaces; returns PIDs still alive."""
    left = stop_pids([p for r in routers for p in r.pids.values()], grace_s=8.0)
    for r in routers:
        if (Path("/var/run/netns") / r.ns).exists():
            run(["ip", "netns", "del", r.ns], check=False)
    return left


def _merge(routers: list[Router], corpus: Path) -> int:
    """All routers' daemon logs, in time order, each line prefixed with its router's name.

    A line that does not start a new message (no timestamp) continues the previous one and
    is kept on it, so one corpus line is one FRR message."""
    rows: list[tuple[str, str, int, str]] = []
    for r in routers:
        for daemon in DAEMONS:
            path = r.rundir / f"{daemon}.log"
            if not path.exists():
                continue
            for k, raw in enumerate(path.read_text(errors="replace").splitlines()):
                if re.match(r"\d{4}/\d\d/\d\d ", raw) or not rows:
                    rows.append((raw[:23], r.name, k, raw))
                else:
                    ts, name, kk, prev = rows[-1]
                    rows[-1] = (ts, name, kk, prev + " " + raw.strip())
    rows.sort(key=lambda t: (t[0], t[1], t[2]))
    with corpus.open("w") as f:
        for _, name, _, raw in rows:
            f.write(f"{name} {raw}\n")
    return len(rows)


def generate(
    out_dir: Path,
    *,
    seed: int = 1,
    duration_s: float = 180.0,
    routers: int = 4,
    gap_s: tuple[float, float] = (1.0, 4.0),
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> Path:
    """Run the routers, drive seeded events for ``duration_s``, return the corpus file."""
    problems = missing()
    if problems:
        raise RuntimeError("cannot generate the FRR corpus here: " + "; ".join(problems))
    if not 2 <= routers <= 5:
        raise ValueError("routers: 2 to 5 (keep the machine's load small)")
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / f"frr-corpus-seed{seed}.log"
    rng = random.Random(seed)
    ring = _ring(routers, f"{os.getpid() % 100000}")
    with _sigterm_unwinds():
        try:
            progress(f"building {routers} routers (namespaces {ring[0].ns[:-3]}-r*)")
            _build(ring)
            settle = min(15.0, duration_s / 4)
            progress(f"converging for {settle:.0f} s")
            time.sleep(settle)
            end = time.monotonic() + duration_s - settle
            for count, what in enumerate(_events(rng, ring), start=1):
                progress(f"event {count}: {what}")
                if time.monotonic() >= end:
                    break
                time.sleep(rng.uniform(*gap_s))
            time.sleep(min(5.0, duration_s / 10))
        finally:
            left = _stop(ring)
            if left:
                progress(f"teardown: PIDs still running after SIGKILL: {left}")
            try:
                n = _merge(ring, corpus)
            finally:
                for r in ring:
                    shutil.rmtree(r.rundir, ignore_errors=True)
    progress(f"{n} lines -> {corpus}")
    return corpus


def read_corpus(path: Path) -> tuple[list[dict[str, str]], int]:
    """Parsed lines (router, ts, daemon, uid, body) and the count of lines without an id."""
    rows, unparsed = [], 0
    with path.open(errors="replace") as f:
        for raw in f:
            router, _, rest = raw.rstrip("\n").partition(" ")
            m = LINE.match(rest)
            if m is None:
                unparsed += 1
                continue
            rows.append({"router": router, **m.groupdict()})
    return rows, unparsed
