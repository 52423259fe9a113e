"""The lab's traffic: the twin's gravity demands, sent as UDP between the routers' loopbacks.

One process for the whole lab (``python -m netvigil.lab.traffic --dir LABDIR``, started by
``lab up``): every :data:`STEP_S` it asks a fault-free :class:`~netvigil.twin.network.TwinNetwork`
of the lab's own topology (scaled capacities, same seed) for the demand of every router pair
at the current time of day (gravity model, daily shape, noise: the twin's own model, so the
twin and the lab carry the same demand), and paces datagrams to match from a socket in the
source router's namespace to the destination's loopback (port 9, discard). Every router has
a socket bound to the sink and surge ports that is never read (:func:`sinks`): the kernel
drops what it cannot queue, silently. Without them every datagram to a closed port drew an
ICMP port unreachable back (576 bytes, for most datagrams under the kernel's per-host rate
limit at the lab's rates), a third more bits on every loaded link than the demand (docs/lab.md,
"The what-if gap of 1.33"). Routing is the routers' own. A demand between two
routers is many flows, as real traffic between two sites is: each datagram leaves from the
next of :data:`FLOWS_PER_DEMAND` sockets (source ports) in turn, and the routers hash on
layer 4 (``fib_multipath_hash_policy=1``), so equal-cost paths share a demand as they share
an aggregate of flows rather than carrying it whole on one path. 64 flows, not 8: with 8 the
hash split a demand unevenly enough that the directions where the twin splits a demand were
off three times as much as the others in the what-if comparison (docs/lab.md).

Surges (``surges.json`` in the lab directory, written by ``lab fault congestion``): extra
demand pinned to one direction of a link, sent from one end straight to the other end's
link address (a connected route: it cannot take another path), on UDP port
:data:`SURGE_PORT` so that a policer can tell the surging class apart. A growth ramp in the
same file (``{"link", "from", "to", "bps", "start", "ramp_s"}``, written by ``lab fault
growth_ramp``) is a demand from router ``from`` to router ``to``'s loopback, routed by the
routers like every demand (so an IGP cost change moves it), growing linearly from nothing at
``start`` to ``bps`` at ``start + ramp_s`` (wall clock), on the surge port too. A ramp grows
to a whole link's capacity, so it is :data:`RAMP_FLOWS` flows, not :data:`FLOWS_PER_DEMAND`:
hashed over equal-cost next hops, 8 flows split lumpily (one run of the lab's prevention
case put nearly half of them on one of three next hops and filled it), 64 split within a few
per cent of equal shares, as the twin assumes. Their sockets are made for a ramp's source
router when its first ramp starts.

What it offered and what it sent (datagrams the kernel accepted), per demand and in total,
go to ``traffic.json`` in the lab directory every step (:mod:`netvigil.lab.achieved`): the
generator's achieved rate, which ``lab status --json`` and the what-if comparison report.

Rates are bounded: the twin sizes the demand so the busiest link direction peaks at 55 % of
its (scaled, a few Mbit/s) capacity, and datagrams are 1,400 bytes, so the whole lab is a few
thousand packets per second.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from netvigil.lab.achieved import TrafficCounters
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.lab.state import LabState
from netvigil.lab.system import socket_in
from netvigil.twin.network import TwinNetwork

__all__ = [
    "FLOWS_PER_DEMAND",
    "PAYLOAD",
    "RAMP_FLOWS",
    "SINK_PORT",
    "STEP_S",
    "SURGE_PORT",
    "Flow",
    "demand_flows",
    "main",
]

STEP_S = 5.0
FLOWS_PER_DEMAND = 64
RAMP_FLOWS = 64
TICK_S = 0.01
PAYLOAD = 1400
#: bits one datagram puts on a link: payload + UDP + IPv4 + Ethernet headers
WIRE_BITS = (PAYLOAD + 8 + 20 + 14) * 8
SINK_PORT = 9
SURGE_PORT = 5001


@dataclass
class Flow:
    src: str
    dst_addr: str
    port: int
    bps: float
    credit: float = 0.0
    flows: int = FLOWS_PER_DEMAND
    """Source ports the demand's datagrams leave from in turn (flows to the routers' hash)."""
    turn: int = 0
    """The socket of the source router the next datagram leaves from."""
    key: str | None = None
    """The demand's ``"src>dst"`` in the achieved-rate counters (None: a surge or ramp)."""


def demand_flows(net: TwinNetwork, plan: LabPlan, t: float) -> list[Flow]:
    """The twin's demands at ``t`` (one step, with its noise) as flows between loopbacks."""
    net.step(t)
    loop = {r.name: r.loopback for r in plan.routers}
    return [
        Flow(s, loop[d], SINK_PORT, bps, key=f"{s}>{d}")
        for s, d, bps in net.last_demands
        if bps > 0
    ]


def surge_flows(plan: LabPlan, path: Path, now: float) -> list[Flow]:
    """Extra demand of the surges file at wall-clock ``now``: surges ``{"link", "from",
    "bps"}`` and growth ramps ``{"link", "from", "to", "bps", "start", "ramp_s"}``."""
    try:
        items = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    out = []
    for s in items:
        src = s["from"]
        if "ramp_s" in s:
            grown = min(max((now - s["start"]) / max(s["ramp_s"], 1e-9), 0.0), 1.0)
            dst_addr = plan.router(s["to"]).loopback.partition("/")[0]
            out.append(Flow(src, dst_addr, SURGE_PORT, float(s["bps"]) * grown, flows=RAMP_FLOWS))
            continue
        lk = plan.link(s["link"])
        dst_addr = (lk.b_addr if src == lk.a else lk.a_addr).partition("/")[0]
        out.append(Flow(src, dst_addr, SURGE_PORT, float(s["bps"])))
    return out


SINK_RCVBUF = 4096
"""Receive buffer of a sink socket: a few datagrams; the kernel drops the rest."""


def sinks(plan: LabPlan) -> list[socket.socket]:
    """A socket on the sink and surge ports in every router, never read: the lab's traffic
    ends there without an ICMP answer (a closed port answers each datagram)."""
    out = []
    for r in plan.routers:
        for port in (SINK_PORT, SURGE_PORT):
            s = socket_in(r.netns)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SINK_RCVBUF)
            s.bind(("0.0.0.0", port))
            out.append(s)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m netvigil.lab.traffic")
    ap.add_argument("--dir", required=True)
    args = ap.parse_args(argv)
    lab = Path(args.dir)
    os.environ["NETVIGIL_LAB_DIR"] = str(lab)
    state = LabState.load()
    if state is None:
        raise SystemExit(f"no lab state in {lab}")
    plan = state.plan
    net = TwinNetwork(lab_topology(plan), seed=state.seed)
    socks: dict[str, list[socket.socket]] = {r.name: [] for r in plan.routers}

    def sockets(router: str, n: int) -> list[socket.socket]:
        """The first ``n`` sockets of ``router`` (made on first use)."""
        own = socks[router]
        while len(own) < n:
            s = socket_in(plan.router(router).netns)
            s.setblocking(False)
            s.bind(("0.0.0.0", 0))  # a source port of its own
            own.append(s)
        return own[:n]

    for r in plan.routers:
        sockets(r.name, FLOWS_PER_DEMAND)
    ends = sinks(plan)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    payload = bytes(PAYLOAD)
    counters = TrafficCounters(started=time.time())
    previous: TrafficCounters | None = None
    flows: list[Flow] = []
    next_step = 0.0
    last = time.monotonic()
    while not stopping:
        now = time.monotonic()
        if now >= next_step:
            counters.write(lab, time.time(), previous)
            previous = counters.snapshot()
            kept = {(f.src, f.dst_addr, f.port): (f.credit, f.turn) for f in flows}
            wall = time.time()
            flows = demand_flows(net, plan, wall) + surge_flows(plan, lab / "surges.json", wall)
            for f in flows:
                f.credit, f.turn = kept.get((f.src, f.dst_addr, f.port), (0.0, 0))
            next_step = now + STEP_S
        dt, last = now - last, now
        for f in flows:
            f.credit = min(f.credit + f.bps * dt, f.bps * 0.1 + WIRE_BITS)
            n = math.floor(f.credit / WIRE_BITS)
            if n <= 0:
                counters.add(f.key, f.bps * dt, 0.0)
                continue
            f.credit -= n * WIRE_BITS
            own = sockets(f.src, f.flows)
            sent = 0
            for _ in range(n):
                f.turn = (f.turn + 1) % len(own)
                try:
                    own[f.turn].sendto(payload, (f.dst_addr, f.port))
                except OSError:  # no route (a fault), a full buffer: the datagram is lost
                    continue
                sent += 1
            counters.add(f.key, f.bps * dt, sent * WIRE_BITS)
        time.sleep(TICK_S)
    for s in ends + [s for own in socks.values() for s in own]:
        s.close()


if __name__ == "__main__":
    main()
