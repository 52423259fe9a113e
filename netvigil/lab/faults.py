"""Faults on the lab's real routers, with ground truth, and a deterministic schedule.

Each kind is what happens on real networks, made with the real tools:

=============== ====================================================== ==================
kind            what is done                                           root cause
=============== ====================================================== ==================
link_down       one end administratively down (``ip link set down``)   the link
link_loss       a share of the frames leaving both ends dropped on the   the link
                line, counted by the receiving end's agent as input
                errors (nftables egress ``numgen random``: this kernel
                has no netem; ``render.line_errors_script``)
congestion      extra demand of 1.3x the link's capacity pinned to one  the link
                direction (the traffic generator's surges file)
node_down       the router's daemons stopped, its links down            the router
routing_crash   ``ospfd`` killed; interfaces stay up                    the router
mtu_mismatch    one end's MTU lowered and its OSPF interface reset: the the link
                adjacency sticks in ExStart/Exchange, traffic moves
cost_misconfig  the link's OSPF cost raised on both ends (``vtysh``):   the link
                traffic moves and can congest another link
flapping        one end goes down for 8 s every 20 s (a flapper          the link
                process)
growth_ramp     a demand between two routers whose shortest path        the link
                crosses the link (whole, one direction), growing
                linearly from nothing to the link's capacity over the
                fault's duration (the traffic generator's surges file):
                routed by the routers, so an IGP cost change moves it
=============== ====================================================== ==================

``growth_ramp`` is not in :data:`SCHEDULED_KINDS` (what ``lab faults`` and ``bench lab``
rotate through by default): it is the lab's prevention case (a saturation that can be
predicted and steered away), run by :mod:`netvigil.eval.lab_prevention`.

Every injection and clearance is appended to ``faults.jsonl`` in the lab directory (the
ground truth), with the wall-clock times. Processes are stopped and restarted by the PIDs the
state file keeps.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from netvigil.lab.plan import LabPlan
from netvigil.lab.render import LINE_COUNTER_PREFIX, LINE_TABLE
from netvigil.lab.state import LabState, Proc, lab_dir
from netvigil.lab.system import LabError, run, spawn, stop_pids

__all__ = [
    "LAB_FAULT_KINDS",
    "RAMP_PEAK",
    "SCHEDULED_KINDS",
    "LabFault",
    "clear",
    "ground_truth",
    "inject",
    "ramp_pair",
    "run_schedule",
    "schedule",
]

#: kind -> kind of entity its root cause is
LAB_FAULT_KINDS: dict[str, str] = {
    "link_down": "link",
    "link_loss": "link",
    "congestion": "link",
    "node_down": "device",
    "routing_crash": "device",
    "mtu_mismatch": "link",
    "cost_misconfig": "link",
    "flapping": "link",
    "growth_ramp": "link",
}
#: the kinds a schedule rotates through unless told otherwise (not the growth ramp)
SCHEDULED_KINDS: tuple[str, ...] = tuple(k for k in LAB_FAULT_KINDS if k != "growth_ramp")
#: a growth ramp's demand at its end, as a share of its link's capacity (with any
#: background on the link, more than the link carries)
RAMP_PEAK = 1.0
LOSS_SHARE = 0.05
SURGE = 1.3
LOW_MTU = 1400
MISCONFIG_COST = 1000
FLAP_PERIOD_S = 20.0
FLAP_DOWN_S = 8.0


@dataclass(frozen=True)
class LabFault:
    kind: str
    target: str
    """A link id (``a--b``) or a router name: the true root cause."""
    start: float = 0.0
    duration: float = 60.0
    direction: str = ""
    """congestion, growth_ramp: the router the extra traffic leaves the link's end from."""
    to: str = ""
    """growth_ramp: the router the growing demand goes to (from ``direction``'s side); empty:
    chosen by :func:`ramp_pair`."""

    @property
    def end(self) -> float:
        return self.start + self.duration


def schedule(
    plan: LabPlan,
    *,
    kinds: Sequence[str],
    count: int,
    first: float,
    interval: float,
    duration: float,
    seed: int,
) -> list[LabFault]:
    """``count`` faults rotating through ``kinds``, one every ``interval`` from ``first``.

    Targets are drawn with ``seed`` without reuse until every candidate was used; device
    faults avoid routers whose loss would cut the lab in two (their traffic could not move).
    """
    unknown = set(kinds) - set(LAB_FAULT_KINDS)
    if unknown:
        raise ValueError(
            f"unknown lab fault kinds {sorted(unknown)}; known: {list(LAB_FAULT_KINDS)}"
        )
    rng = random.Random(seed)
    links = sorted(lk.id for lk in plan.links)
    devices = sorted(r.name for r in plan.routers if not _cut(plan, r.name))
    pools: dict[str, list[str]] = {}
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        candidates = links if LAB_FAULT_KINDS[kind] == "link" else devices
        if not candidates:
            raise ValueError(f"no candidate target for {kind} in this lab")
        pool = pools.get(kind)
        if not pool:
            pool = pools[kind] = rng.sample(candidates, len(candidates))
        target = pool.pop()
        direction = ""
        if kind in ("congestion", "growth_ramp"):
            lk = plan.link(target)
            direction = rng.choice((lk.a, lk.b))
        out.append(LabFault(kind, target, first + i * interval, duration, direction))
    return out


def ramp_pair(plan: LabPlan, link_id: str, direction: str = "") -> tuple[str, str]:
    """(source, destination) routers of a growth ramp on ``link_id`` leaving ``direction``
    (default: its ``a`` end): a pair whose shortest paths all cross that link direction
    (the lab's OSPF costs, the twin's equal-cost split), and which has a path without the
    link (else no cost change could move it). The pair of the link's own ends comes first,
    then the others by name.

    Raises :class:`LabError` when no pair qualifies (a link whose loss cuts the lab in two,
    or one no shortest path crosses whole)."""
    import networkx as nx

    from netvigil.lab.plan import lab_topology
    from netvigil.twin.network import TwinNetwork

    lk = plan.link(link_id)
    src = direction or lk.a
    if src not in (lk.a, lk.b):
        raise LabError(f"{src} is not an end of {link_id}")
    g = nx.MultiGraph()
    g.add_nodes_from(r.name for r in plan.routers)
    g.add_edges_from((x.a, x.b) for x in plan.links if x.id != link_id)
    net = TwinNetwork(lab_topology(plan), seed=0)
    whole = {(s, d) for s, d, share, _ in net.crossing(link_id, src, 0.0) if share >= 0.999}
    other = lk.b if src == lk.a else lk.a
    for s, d in [(src, other), *sorted(whole - {(src, other)})]:
        if (s, d) in whole and nx.has_path(g, s, d):
            return s, d
    raise LabError(
        f"no demand crosses {link_id} (from {src}) whole with another way round; "
        "choose a link on a cycle"
    )


def _cut(plan: LabPlan, name: str) -> bool:
    """Whether removing router ``name`` disconnects the others."""
    rest = {r.name for r in plan.routers} - {name}
    if not rest:
        return True
    adj: dict[str, set[str]] = {n: set() for n in rest}
    for lk in plan.links:
        if lk.a in rest and lk.b in rest:
            adj[lk.a].add(lk.b)
            adj[lk.b].add(lk.a)
    start = next(iter(rest))
    seen = {start}
    todo = [start]
    while todo:
        for nb in adj[todo.pop()] - seen:
            seen.add(nb)
            todo.append(nb)
    return seen != rest


# ---------------------------------------------------------------------------- actions


def _end(plan: LabPlan, link_id: str, router: str = "") -> tuple[str, str]:
    """(namespace, interface) of one end of a link: ``router``'s, else the ``a`` end."""
    lk = plan.link(link_id)
    name, ifname = (lk.b, lk.b_if) if router == lk.b else (lk.a, lk.a_if)
    return plan.router(name).netns, ifname


def _vtysh(netns: str, *commands: str) -> str:
    argv = ["vtysh", "-N", netns]
    for c in commands:
        argv += ["-c", c]
    return run(argv)


def set_cost(plan: LabPlan, link_id: str, cost: int) -> None:
    """The OSPF cost of both ends of a link (``vtysh``)."""
    lk = plan.link(link_id)
    for router, ifname in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
        _vtysh(
            plan.router(router).netns,
            "configure terminal",
            f"interface {ifname}",
            f"ip ospf cost {cost}",
        )


def _surges(change: Any = None) -> list[dict[str, Any]]:
    path = lab_dir() / "surges.json"
    try:
        items: list[dict[str, Any]] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        items = []
    if change is not None:
        items = change(items)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(items))
        tmp.replace(path)
    return items


def _loss(netns: str, ifname: str, share: float | None) -> None:
    """Start (``share``) or stop (None) dropping frames leaving ``ifname``; the drops are
    counted in the interface's named counter, which stays (the receiver's agent reports it
    as its input errors: :func:`netvigil.lab.render.line_errors_script`)."""
    chain = f"netdev {LINE_TABLE} out_{ifname}"
    if share is None:
        run(["ip", "netns", "exec", netns, "nft", "flush", "chain", *chain.split()], check=False)
        return
    run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=_loss_rule(ifname, share))


def _loss_rule(ifname: str, share: float) -> str:
    """nftables commands dropping ``share`` of the frames leaving ``ifname`` on its egress hook
    (after the IP layer, before the wire), counted in ``lost_<ifname>`` (``add`` leaves what
    exists: the counter keeps counting across faults)."""
    counter = f"{LINE_COUNTER_PREFIX}{ifname}"
    return (
        f"add table netdev {LINE_TABLE}\n"
        f"add counter netdev {LINE_TABLE} {counter}\n"
        f"add chain netdev {LINE_TABLE} out_{ifname}"
        f' {{ type filter hook egress device "{ifname}" priority 0; }}\n'
        f"flush chain netdev {LINE_TABLE} out_{ifname}\n"
        f"add rule netdev {LINE_TABLE} out_{ifname}"
        f' numgen random mod 1000 < {round(share * 1000)} counter name "{counter}" drop\n'
    )


def _router_procs(state: LabState, router: str, whats: Sequence[str] | None = None) -> list[Proc]:
    return [
        p
        for p in state.procs
        if p.router == router and (whats is None or p.what.split(":")[0] in whats)
    ]


def _stop(state: LabState, procs: list[Proc]) -> None:
    stop_pids([p.pid for p in procs])
    state.procs = [p for p in state.procs if p not in procs]
    state.save()


def _links_of(plan: LabPlan, router: str) -> list[tuple[str, str]]:
    r = plan.router(router)
    return [(r.netns, i.name) for i in r.interfaces]


def inject(state: LabState, f: LabFault) -> None:
    """Make fault ``f`` on the lab now, and log it as ground truth."""
    plan = state.plan
    k = f.kind
    if k not in LAB_FAULT_KINDS:
        raise LabError(f"unknown fault kind {k!r}; choose one of {', '.join(LAB_FAULT_KINDS)}")
    if LAB_FAULT_KINDS[k] == "link":
        plan.link(f.target)
    else:
        plan.router(f.target)
    if k == "link_down":
        ns, ifname = _end(plan, f.target)
        run(["ip", "-n", ns, "link", "set", ifname, "down"])
    elif k == "link_loss":
        lk = plan.link(f.target)
        for router, ifname in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            _loss(plan.router(router).netns, ifname, LOSS_SHARE)
    elif k == "congestion":
        lk = plan.link(f.target)
        src = f.direction or lk.a
        _surges(
            lambda items: [*items, {"link": lk.id, "from": src, "bps": SURGE * lk.capacity_bps}]
        )
    elif k == "growth_ramp":
        lk = plan.link(f.target)
        src, dst = (f.direction or lk.a, f.to) if f.to else ramp_pair(plan, f.target, f.direction)
        f = replace(f, direction=f.direction or lk.a, to=dst)
        ramp = {
            "link": lk.id,
            "from": src,
            "to": dst,
            "bps": RAMP_PEAK * lk.capacity_bps,
            "start": time.time(),
            "ramp_s": f.duration,
        }
        _surges(lambda items: [*items, ramp])
    elif k == "node_down":
        _stop(state, _router_procs(state, f.target))
        for ns, ifname in _links_of(plan, f.target):
            run(["ip", "-n", ns, "link", "set", ifname, "down"])
    elif k == "routing_crash":
        _stop(state, _router_procs(state, f.target, ["ospfd"]))
    elif k == "mtu_mismatch":
        ns, ifname = _end(plan, f.target)
        run(["ip", "-n", ns, "link", "set", ifname, "mtu", str(LOW_MTU)])
        _vtysh(ns, f"clear ip ospf interface {ifname}")
    elif k == "cost_misconfig":
        set_cost(plan, f.target, MISCONFIG_COST)
    elif k == "flapping":
        ns, ifname = _end(plan, f.target)
        pid = spawn(
            [
                sys.executable,
                "-m",
                "netvigil.lab.flap",
                ns,
                ifname,
                str(FLAP_PERIOD_S),
                str(FLAP_DOWN_S),
            ],
            netns=None,
            log=lab_dir() / "flap.log",
        )
        state.procs.append(Proc(pid, f"flap:{f.target}"))
        state.save()
    _log("injected", f)


def clear(state: LabState, f: LabFault) -> None:
    """Undo fault ``f`` and log it."""
    from netvigil.lab import runner

    plan = state.plan
    k = f.kind
    if k == "link_down":
        ns, ifname = _end(plan, f.target)
        run(["ip", "-n", ns, "link", "set", ifname, "up"])
    elif k == "link_loss":
        lk = plan.link(f.target)
        for router, ifname in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            _loss(plan.router(router).netns, ifname, None)
    elif k in ("congestion", "growth_ramp"):
        ramp = k == "growth_ramp"
        _surges(
            lambda items: [s for s in items if s["link"] != f.target or ("ramp_s" in s) != ramp]
        )
    elif k == "node_down":
        r = plan.router(f.target)
        for ns, ifname in _links_of(plan, f.target):
            run(["ip", "-n", ns, "link", "set", ifname, "up"])
        runner.start_frr(state, r, ("zebra", "ospfd", *(("bgpd",) if r.bgp else ())))
        runner.start_router_services(state, r)
        deadline = time.monotonic() + 10.0
        while not runner.fresh_counters(r, state.credentials) and time.monotonic() < deadline:
            time.sleep(0.5)
    elif k == "routing_crash":
        runner.start_frr(state, plan.router(f.target), ("ospfd",))
    elif k == "mtu_mismatch":
        ns, ifname = _end(plan, f.target)
        run(["ip", "-n", ns, "link", "set", ifname, "mtu", "1500"])
        _vtysh(ns, f"clear ip ospf interface {ifname}")
    elif k == "cost_misconfig":
        set_cost(plan, f.target, plan.link(f.target).cost)
    elif k == "flapping":
        _stop(state, [p for p in state.procs if p.what == f"flap:{f.target}"])
        ns, ifname = _end(plan, f.target)
        run(["ip", "-n", ns, "link", "set", ifname, "up"])
    _log("cleared", f)


def _log(what: str, f: LabFault) -> None:
    rec = {
        "event": what,
        "ts": round(time.time(), 3),
        **asdict(f),
        "root_cause": f.target,
        "entity": LAB_FAULT_KINDS[f.kind],
    }
    with open(lab_dir() / "faults.jsonl", "a") as out:
        out.write(json.dumps(rec) + "\n")


def ground_truth(path: Path | None = None) -> list[dict[str, Any]]:
    """The injections and clearances logged so far."""
    path = path or lab_dir() / "faults.jsonl"
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def run_schedule(faults: Sequence[LabFault], say: Any = None) -> list[LabFault]:
    """Inject and clear ``faults`` at their times (wall clock), one at a time; each lasts its
    duration from the moment its injection began. Returns the faults as made (``start`` is
    that moment); ``say(what, fault)`` hears each injection and clearance as it happens."""
    say = say or (lambda what, f: None)
    made = []
    for f in sorted(faults, key=lambda x: x.start):
        time.sleep(max(f.start - time.time(), 0.0))
        state = LabState.load()
        if state is None:
            raise LabError("the lab went away during the schedule")
        f = replace(f, start=time.time())
        inject(state, f)
        made.append(f)
        say("injected", f)
        try:
            time.sleep(max(f.end - time.time(), 0.0))
        finally:
            clear(LabState.load() or state, f)
            say("cleared", f)
    return made
