"""Bring the lab up, report it, take it down.

``up``: removes what an earlier lab *in the same lab directory* left (its state file, else
namespaces with that directory's prefix, ``nvl-*`` for the default one; another directory's
lab is never touched), takes a free management slot (under a host-wide lock, so two labs
starting together do not take the same one), then builds the plan: the management bridge, one
namespace per router (forwarding on, the loopback, ``mgmt0`` on the bridge), a veth pair per
link with its addresses and shaping, the daemons of every router, and the traffic generator;
it returns once every OSPF adjacency is Full and every SNMP agent answers. ``down``: stops
every process the state file records and every process left in the lab's namespaces, by PID,
then deletes the namespaces (their veths go with them) and the bridge.

Shaping per link end (``tc``): an HTB class at the link's scaled rate, with a data class (a
100-packet FIFO) and a priority class for OSPF and LLDP, so that a congested link keeps its
adjacency as a real router's control plane would. (This machine's kernel has HTB, TBF and the
u32 classifier but neither ``netem`` nor tc actions: loss is made with nftables, see
``faults.py``.)
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from netvigil.filelock import exclusive
from netvigil.graph.importers import load_topology
from netvigil.lab.achieved import read_counters
from netvigil.lab.plan import (
    MGMT_PREFIX,
    MGMT_SLOTS,
    Collectors,
    LabPlan,
    RouterPlan,
    mgmt_gateway,
    plan_lab,
)
from netvigil.lab.render import (
    IF_CACHE_TIMEOUT_OID,
    LOG_FD_ENV,
    Credentials,
    cache_community,
    frr_conf,
    line_errors_script,
    lldpd_conf,
    snmpd_conf,
    softflowd_argv,
)
from netvigil.lab.state import (
    LabState,
    Proc,
    bridge_name,
    lab_dir,
    lab_tag,
    netns_prefix,
)
from netvigil.lab.system import (
    LabError,
    alive,
    missing_requirements,
    netns_exists,
    netns_pids,
    run,
    spawn,
    stop_pids,
)

__all__ = ["down", "free_slot", "hash_seed_sysctl", "shape", "status", "up", "write_topology"]

FRR_RUN = Path("/var/run/frr")
#: held while a lab takes its management slot and puts the address on its bridge
HOST_LOCK = Path("/run/netvigil-lab.lock")
#: per-namespace Unix sockets (AgentX, lldpd's control): short paths, Unix sockets allow 108
SOCK_RUN = Path("/run/nvlab")
#: the control-plane class of each link end (OSPF, LLDP): a share of the link, borrowing all
CONTROL_SHARE = 0.05
QUEUE_PACKETS = 100


def _ensure_ready() -> None:
    missing = missing_requirements()
    if missing:
        raise LabError("the lab cannot run here; missing: " + "; ".join(missing))


def _router_dir(r: RouterPlan) -> Path:
    return lab_dir() / "routers" / r.name


def _sock_dir(r: RouterPlan) -> Path:
    d = SOCK_RUN / r.netns
    d.mkdir(parents=True, exist_ok=True)
    return d


def shape(netns: str, ifname: str, bps: float) -> None:
    """(Re)build the shaping of one link end at ``bps`` (see the module docstring)."""
    rate = f"{int(bps)}bit"
    ctl = f"{max(int(bps * CONTROL_SHARE), 64000)}bit"
    burst = f"{max(int(bps / 8 / 100), 3200)}b"  # 10 ms at the rate, at least two frames
    tc = ["tc", "-n", netns]
    dev = ["dev", ifname]
    run([*tc, "qdisc", "replace", *dev, "root", "handle", "1:", "htb", "default", "20"])
    for classid, parent, low, prio in (
        ("1:1", "1:", rate, "0"),
        ("1:10", "1:1", ctl, "0"),
        ("1:20", "1:1", rate, "1"),
    ):
        run(
            [
                *tc,
                "class",
                "replace",
                *dev,
                "parent",
                parent,
                "classid",
                classid,
                "htb",
                "rate",
                low,
                "ceil",
                rate,
                "burst",
                burst,
                "prio",
                prio,
            ]
        )
    run(
        [
            *tc,
            "qdisc",
            "replace",
            *dev,
            "parent",
            "1:20",
            "handle",
            "20:",
            "pfifo",
            "limit",
            str(QUEUE_PACKETS),
        ]
    )
    # OSPF (IP protocol 89) and LLDP (ethertype 0x88cc) go to the control class
    run(
        [
            *tc,
            "filter",
            "replace",
            *dev,
            "parent",
            "1:",
            "protocol",
            "ip",
            "prio",
            "1",
            "u32",
            "match",
            "ip",
            "protocol",
            "89",
            "0xff",
            "flowid",
            "1:10",
        ]
    )
    run(
        [
            *tc,
            "filter",
            "replace",
            *dev,
            "parent",
            "1:",
            "protocol",
            "0x88cc",
            "prio",
            "2",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "flowid",
            "1:10",
        ]
    )


def write_topology(plan: LabPlan, path: Path) -> None:
    """The lab as a YAML inventory NetVigil loads (hostnames, interfaces, scaled capacities)."""
    data = {
        "devices": [
            {"name": r.name, "role": "router", "site": r.name, "weight": r.weight}
            for r in plan.routers
        ],
        "links": [
            {
                "id": lk.id,
                "a": lk.a,
                "a_if": lk.a_if,
                "b": lk.b,
                "b_if": lk.b_if,
                "capacity": lk.capacity_bps,
                "igp_metric": lk.cost,
            }
            for lk in plan.links
        ],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# ---------------------------------------------------------------------------- down


def down(state: LabState | None = None) -> dict[str, Any]:
    """Remove the lab the state file describes, else every namespace with this lab
    directory's prefix (``nvl-*`` for the default directory)."""
    state = state or LabState.load()
    netns = list(state.netns) if state else []
    if state is None:
        netns = [n for n in _listed_netns() if n.startswith(netns_prefix())]
    pids = [p.pid for p in state.procs] if state else []
    for ns in netns:  # daemons' own children (lldpd's privilege-separated half) too
        pids += netns_pids(ns)
    pids = sorted(set(pids))
    left = stop_pids(pids)
    removed = []
    for ns in netns:
        if netns_exists(ns):
            run(["ip", "netns", "del", ns], check=False)
            removed.append(ns)
        shutil_rmtree(FRR_RUN / ns)
        shutil_rmtree(SOCK_RUN / ns)
    bridge = (state.bridge if state else "") or bridge_name()
    if Path(f"/sys/class/net/{bridge}").exists():
        run(["ip", "link", "del", bridge], check=False)
    state_file = lab_dir() / "state.json"
    if state_file.exists():
        state_file.unlink()
    return {"stopped": len(pids) - len(left), "still_running": left, "netns_removed": removed}


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _listed_netns() -> list[str]:
    out = run(["ip", "-j", "netns", "list"], check=False).strip()
    try:
        return [e["name"] for e in json.loads(out or "[]")]
    except (ValueError, KeyError, TypeError):
        return []


# ---------------------------------------------------------------------------- up


def up(
    topology: str,
    *,
    max_routers: int | None = None,
    seed: int = 7,
    collectors: Collectors | None = None,
    traffic: bool = True,
    timeout_s: float = 90.0,
    log: Any = None,
) -> LabState:
    """Build the lab for ``topology`` and wait until it routes (see the module docstring)."""
    _ensure_ready()
    say = log or (lambda msg: None)
    t0 = time.monotonic()
    old = LabState.load()
    if old is not None or any(n.startswith(netns_prefix()) for n in _listed_netns()):
        res = down(old)
        say(
            f"removed an earlier lab: {res['stopped']} processes, "
            f"{len(res['netns_removed'])} namespaces"
        )
    _check_readable_by_frr(lab_dir())
    topo = load_topology(topology)
    state: LabState | None = None
    try:
        with exclusive(HOST_LOCK):
            slot = free_slot(_host_addresses(), _preferred_slot())
            plan = plan_lab(
                topo,
                max_routers=max_routers,
                collectors=collectors,
                netns_prefix=netns_prefix(),
                slot=slot,
            )
            state = LabState(plan=plan, topology=str(topology), seed=seed, started=time.time())
            lab_dir().mkdir(parents=True, exist_ok=True)
            write_topology(plan, lab_dir() / "topology.yaml")
            state.netns = [r.netns for r in plan.routers]
            state.bridge = bridge_name()
            state.save()
            _make_bridge(plan, state.bridge)
        _build_network(plan, state.bridge)
        say(
            f"{len(plan.routers)} namespaces, {len(plan.links)} links shaped "
            f"(capacity x {plan.scale:g})"
        )
        if not HASH_SEED_SYSCTL.exists():
            say(
                "this kernel has no net.ipv4.fib_multipath_hash_seed (Linux 6.11+): every "
                "router hashes a flow alike, so traffic split over equal-cost paths stays "
                "on one branch at the next split (docs/lab.md, 'Equal-cost splits')"
            )
        _start_daemons(state)
        if traffic:
            _start_traffic(state)
        _wait_ready(state, timeout_s)
    except BaseException:
        if state is not None:
            state.save()
            down(state)  # nothing half-built stays; the logs stay in the lab directory
        raise
    state.ready_s = round(time.monotonic() - t0, 2)
    state.save()
    return state


def _check_readable_by_frr(path: Path) -> None:
    """FRRouting's daemons run as user ``frr`` and read their configuration from the lab
    directory: every folder above it must let others through."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    for p in [path, *path.parents]:
        if not p.stat().st_mode & 0o001:
            raise LabError(
                f"{p} is closed to other users, so FRRouting (user frr) cannot read the lab's "
                "configuration; set NETVIGIL_LAB_DIR to a folder under /run or /var/tmp"
            )


def free_slot(taken: set[str], preferred: int = 0) -> int:
    """The first management slot from ``preferred`` on (round the 16) whose bridge address
    ``taken`` (the host's IPv4 addresses) does not hold."""
    for k in range(MGMT_SLOTS):
        slot = (preferred + k) % MGMT_SLOTS
        if mgmt_gateway(slot) not in taken:
            return slot
    raise LabError(
        f"all {MGMT_SLOTS} management networks of 198.19.0.0/16 are in use on this host: "
        "take a lab down first (`netvigil lab down` with its NETVIGIL_LAB_DIR)"
    )


def _preferred_slot() -> int:
    """Slot 0 for the default lab directory; another directory starts elsewhere, so labs
    in different directories rarely even look at the same slot."""
    tag = lab_tag()
    return 1 + int(tag, 16) % (MGMT_SLOTS - 1) if tag else 0


def _host_addresses() -> set[str]:
    out = run(["ip", "-j", "-4", "addr", "show"], check=False).strip()
    try:
        return {a["local"] for link in json.loads(out or "[]") for a in link.get("addr_info", [])}
    except (ValueError, KeyError, TypeError):
        return set()


def _make_bridge(plan: LabPlan, bridge: str) -> None:
    run(["ip", "link", "add", bridge, "type", "bridge"])
    run(["ip", "addr", "add", f"{plan.mgmt_gateway}/{MGMT_PREFIX}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


HASH_SEED_SYSCTL = Path("/proc/sys/net/ipv4/fib_multipath_hash_seed")


def hash_seed_sysctl(index: int) -> list[str]:
    """The setting that gives router ``index`` a multipath hash of its own.

    Every namespace shares one kernel, and with it the secret its flow hash is keyed with:
    left alone, every router hashes a flow to the same value, so the flows one router sends
    to its first equal-cost next hop all take the first next hop again at the next router
    that splits (polarization; measured, docs/lab.md "Equal-cost splits"). Separate routers
    hash independently, and the twin splits as they do. Linux 6.11 and later key the hash
    per namespace with ``fib_multipath_hash_seed`` (0 keeps the shared secret, so router
    ``index`` gets ``index + 1``); an older kernel has no such setting (nothing to set:
    :func:`up` says so)."""
    return [f"net.ipv4.fib_multipath_hash_seed={index + 1}"] if HASH_SEED_SYSCTL.exists() else []


def _build_network(plan: LabPlan, bridge: str) -> None:
    for r in plan.routers:
        ns = r.netns
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{r.loopback}/32", "dev", "lo"])
        run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
                # equal-cost paths share traffic flow by flow (ports included), see traffic.py
                "net.ipv4.fib_multipath_hash_policy=1",
                *hash_seed_sysctl(r.index),
            ]
        )
        host_end = r.host_veth
        run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", "mgmt0", "netns", ns])
        run(["ip", "link", "set", host_end, "master", bridge, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{r.mgmt}/{MGMT_PREFIX}", "dev", "mgmt0"])
        run(["ip", "-n", ns, "link", "set", "mgmt0", "up"])
    ns_of = {r.name: r.netns for r in plan.routers}
    for lk in plan.links:
        a_ns, b_ns = ns_of[lk.a], ns_of[lk.b]
        run(
            [
                "ip",
                "link",
                "add",
                lk.a_if,
                "netns",
                a_ns,
                "type",
                "veth",
                "peer",
                "name",
                lk.b_if,
                "netns",
                b_ns,
            ]
        )
        for ns, ifname, addr in ((a_ns, lk.a_if, lk.a_addr), (b_ns, lk.b_if, lk.b_addr)):
            run(["ip", "-n", ns, "addr", "add", addr, "dev", ifname])
            run(["ip", "-n", ns, "link", "set", ifname, "up"])
            shape(ns, ifname, lk.capacity_bps)


def _ifindexes(netns: str) -> dict[str, int]:
    data = json.loads(run(["ip", "-n", netns, "-j", "link", "show"]) or "[]")
    return {d["ifname"]: int(d["ifindex"]) for d in data}


def log_socket(plan: LabPlan) -> socket.socket:
    """A UDP socket connected to the syslog collector, for one router's FRRouting daemons."""
    host, _, port = plan.collectors.syslog.rpartition(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    return s


def frr_argv(daemon: str, r: RouterPlan, conf: Path) -> list[str]:
    return [
        f"/usr/lib/frr/{daemon}",
        "-N",
        r.netns,
        "-f",
        str(conf),
        "-i",
        str(FRR_RUN / r.netns / f"{daemon}.pid"),
        "-P",
        "0",
    ]


def start_frr(state: LabState, r: RouterPlan, daemons: tuple[str, ...]) -> None:
    """Start FRRouting ``daemons`` of router ``r`` (its syslog socket passed to each)."""
    d = _router_dir(r)
    conf = d / "frr.conf"
    sock = log_socket(state.plan)
    try:
        for daemon in daemons:
            pid = spawn(
                frr_argv(daemon, r, conf),
                netns=r.netns,
                log=d / f"{daemon}.log",
                env={LOG_FD_ENV: str(sock.fileno())},
                pass_fds=(sock.fileno(),),
            )
            state.procs.append(Proc(pid, daemon, r.name))
            state.save()
            if daemon == "zebra":  # ospfd and bgpd connect to zebra's socket
                _wait_path(FRR_RUN / r.netns / "zserv.api", 10.0)
    finally:
        sock.close()


def _wait_path(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise LabError(f"{path} did not appear within {timeout_s:.0f} s")
        time.sleep(0.05)


def start_router_services(state: LabState, r: RouterPlan) -> None:
    """snmpd, lldpd and the flow exporters of one router."""
    d = _router_dir(r)
    agentx = str(_sock_dir(r) / "agentx.sock")
    pid = spawn(
        ["snmpd", "-f", "-Lo", "-C", "-c", str(d / "snmpd.conf"), "-p", str(d / "snmpd.pid")],
        netns=r.netns,
        log=d / "snmpd.log",
        env={"SNMP_PERSISTENT_DIR": str(d / "snmp"), "MIBS": ""},
    )
    state.procs.append(Proc(pid, "snmpd", r.name))
    _wait_path(Path(agentx), 10.0)
    names = ",".join(i.name for i in r.interfaces)
    pid = spawn(
        [
            "lldpd",
            "-d",
            "-x",
            "-X",
            agentx,
            "-u",
            str(_sock_dir(r) / "lldpd.sock"),
            "-I",
            names,
            "-O",
            str(d / "lldpd.conf"),
            "-k",
        ],
        netns=r.netns,
        log=d / "lldpd.log",
    )
    state.procs.append(Proc(pid, "lldpd", r.name))
    idx = _ifindexes(r.netns)
    for i in r.interfaces:
        argv = softflowd_argv(
            idx[i.name],
            i.name,
            state.plan.collectors.flows,
            str(_sock_dir(r) / f"softflowd-{i.name}.pid"),
            str(_sock_dir(r) / f"softflowd-{i.name}.ctl"),
        )
        pid = spawn(argv, netns=r.netns, log=d / f"softflowd-{i.name}.log")
        state.procs.append(Proc(pid, f"softflowd:{i.name}", r.name))
    state.save()


def _start_daemons(state: LabState) -> None:
    plan = state.plan
    for r in plan.routers:
        d = _router_dir(r)
        d.mkdir(parents=True, exist_ok=True)
        (d / "snmp").mkdir(exist_ok=True)
        (d / "frr.conf").write_text(frr_conf(r, plan))
        (d / "line-errors.sh").write_text(line_errors_script(r, plan))
        (d / "snmpd.conf").write_text(
            snmpd_conf(
                r,
                plan,
                state.credentials,
                str(_sock_dir(r) / "agentx.sock"),
                str(d / "line-errors.sh"),
            )
        )
        (d / "lldpd.conf").write_text(lldpd_conf(r))
        for p in (d, d / "frr.conf"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        run_dir = FRR_RUN / r.netns
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil_chown(run_dir)
    for r in plan.routers:
        start_frr(state, r, ("zebra", "ospfd", *(("bgpd",) if r.bgp else ())))
    for r in plan.routers:
        start_router_services(state, r)


def shutil_chown(path: Path) -> None:
    import shutil

    shutil.chown(FRR_RUN, "frr", "frr")
    shutil.chown(path, "frr", "frr")


def _start_traffic(state: LabState) -> None:
    pid = spawn(
        [sys.executable, "-m", "netvigil.lab.traffic", "--dir", str(lab_dir())],
        netns=None,
        log=lab_dir() / "traffic.log",
    )
    state.procs.append(Proc(pid, "traffic"))
    state.save()


# ---------------------------------------------------------------------------- readiness


def ospf_full(r: RouterPlan) -> int:
    """How many of ``r``'s OSPF neighbours are Full."""
    out = run(["vtysh", "-N", r.netns, "-c", "show ip ospf neighbor json"], check=False)
    try:
        data = json.loads(out[out.find("{") :] or "{}")
    except ValueError:
        return 0
    full = 0
    for entries in data.get("neighbors", {}).values():
        for e in entries if isinstance(entries, list) else [entries]:
            state = str(e.get("nbrState") or e.get("state") or "")
            full += state.startswith("Full")
    return full


def ospf_routes(r: RouterPlan) -> int:
    """How many loopback routes OSPF installed in ``r``'s kernel table."""
    out = run(["ip", "-n", r.netns, "-j", "route", "show", "proto", "ospf"], check=False)
    try:
        routes = json.loads(out or "[]")
    except ValueError:
        return 0
    return sum(1 for e in routes if str(e.get("dst", "")).startswith("198.18.255."))


def fresh_counters(r: RouterPlan, creds: Credentials) -> bool:
    """Turn the agent's interface cache off (see ``render``); False if it does not answer."""
    out = run(
        [
            "snmpset",
            "-v2c",
            "-c",
            cache_community(creds),
            "-t",
            "1",
            "-r",
            "0",
            "-Oqv",
            r.mgmt,
            IF_CACHE_TIMEOUT_OID,
            "i",
            "0",
        ],
        check=False,
    )
    return out.strip() == "0"


def _wait_ready(state: LabState, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = {r.name for r in state.plan.routers}
    snmp_pending = set(pending)
    while pending or snmp_pending:
        for r in state.plan.routers:
            others = len(state.plan.routers) - 1
            if r.name in pending and ospf_full(r) >= len(r.interfaces) and ospf_routes(r) >= others:
                pending.discard(r.name)
            if r.name in snmp_pending and fresh_counters(r, state.credentials):
                snmp_pending.discard(r.name)
        dead = [p for p in state.procs if not alive(p.pid)]
        if dead:
            p = dead[0]
            raise LabError(
                f"{p.what} of {p.router or 'the lab'} exited at start; see "
                f"{_router_dir(state.plan.router(p.router)) if p.router else lab_dir()}"
            )
        if not (pending or snmp_pending):
            break
        if time.monotonic() > deadline:
            raise LabError(
                f"not ready after {timeout_s:.0f} s: OSPF not converged on {sorted(pending)}, "
                f"SNMP silent on {sorted(snmp_pending)}; `netvigil lab down` removes it"
            )
        time.sleep(0.5)


# ---------------------------------------------------------------------------- status


def status(state: LabState | None = None) -> dict[str, Any]:
    """Every router (namespace, interfaces and peers, SNMP agent) and the collectors."""
    state = state or LabState.load()
    if state is None:
        return {"running": False}
    plan = state.plan
    procs = {p.pid: p for p in state.procs}
    running = {pid for pid in procs if alive(pid)}
    c = state.credentials
    routers = []
    for r in plan.routers:
        mine = [p for p in state.procs if p.router == r.name]
        routers.append(
            {
                "name": r.name,
                "netns": r.netns,
                "loopback": r.loopback,
                "bgp": r.bgp,
                "snmp": {"host": r.mgmt, "port": 161, "credentials": c.name},
                "interfaces": [
                    {
                        "name": i.name,
                        "address": i.address,
                        "peer": i.peer,
                        "peer_interface": i.peer_interface,
                        "link": i.link,
                        "capacity_bps": i.capacity_bps,
                        "cost": i.cost,
                    }
                    for i in r.interfaces
                ],
                "processes": {p.what: p.pid for p in mine if p.pid in running},
            }
        )
    return {
        "running": True,
        "topology": state.topology,
        "lab_topology": str(lab_dir() / "topology.yaml"),
        "scale": plan.scale,
        "capacity_note": (
            f"link capacities x {plan.scale:g} "
            f"(e.g. {1e9 * plan.scale / 1e6:g} Mbit/s for 1 Gbit/s)"
        ),
        "ready_s": state.ready_s,
        "routers": routers,
        "links": [
            {
                "id": lk.id,
                "a": f"{lk.a}:{lk.a_if}",
                "b": f"{lk.b}:{lk.b_if}",
                "capacity_bps": lk.capacity_bps,
                "original_bps": lk.original_bps,
                "cost": lk.cost,
                "raised": lk.raised,
            }
            for lk in plan.links
        ],
        "collectors": {
            "syslog": {"udp": plan.collectors.syslog},
            "flows": {"udp": plan.collectors.flows, "format": "ipfix"},
            "traps": {"udp": plan.collectors.traps},
        },
        "credentials": {
            c.name: {
                "v2c_community": c.community,
                "v3_user": c.user,
                "v3_auth": "SHA",
                "v3_auth_key": c.auth_key,
                "v3_priv": "AES",
                "v3_priv_key": c.priv_key,
            }
        },
        "processes": {"recorded": len(procs), "running": len(running)},
        "traffic": next(
            (p.pid for p in state.procs if p.what == "traffic" and p.pid in running), None
        ),
        "traffic_rates": _traffic_rates(),
    }


def _traffic_rates() -> dict[str, Any] | None:
    """The generator's offered and sent rates: its last step, and since it started."""
    c = read_counters(lab_dir())
    if c is None:
        return None
    offered = sum(o for o, _ in c.pairs.values())
    sent = sum(s for _, s in c.pairs.values())
    return {
        "last_step": c.last_step,
        "since_start": {
            "seconds": round(c.ts - c.started, 1),
            "offered_bps": round(offered / max(c.ts - c.started, 1e-9), 1),
            "sent_bps": round(sent / max(c.ts - c.started, 1e-9), 1),
            "achieved_share": round(sent / offered, 4) if offered > 0 else None,
        },
    }
