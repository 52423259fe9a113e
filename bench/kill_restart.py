"""Kill -9 under a trap storm, restart, repeat: do the incident store, the tickets and the audit
log agree afterwards, and did each ongoing fault stay one incident?

Starts ``netvigil run`` with the SNMP trap receiver on a loopback port and a chain of six
routers named by their loopback addresses (127.0.0.11-16, so a trap's sender is its device).
A sender thread flaps one link with real linkDown/linkUp traps (captured once from net-snmp's
``snmptrap``) at ``--rate`` traps/s; after half of the kills a second link, three hops away,
starts to flap too: a new fault, which must open a new incident. The service is killed with
SIGKILL ``--kills`` times, each after a random ``--min-up``..``--max-up`` seconds up, and
restarted over the same data directory; at the end the traps stop and it is stopped with
SIGINT. Prints one JSON object: the kills, what each store holds, every disagreement between
them (named), the faults that got more than one incident, the audit verification and the
final stop summary.

    python -m bench.kill_restart [--kills 18] [--rate 300] [--seed 1]

:func:`check_stores` reads the stores through their own classes, so it judges any version of
the service's data directory the same way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
ROUTERS = [f"127.0.0.{i}" for i in range(11, 17)]
LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
FLAPS = [(ROUTERS[0], "eth1", 2), (ROUTERS[4], "eth1", 2)]
"""(device, ifName, ifIndex) of the interfaces that flap: the first from the start, the second
(three hops from the first link) after half of the kills."""

_STATUS = {"incident.opened": "open", "incident.reopened": "open", "incident.resolved": "resolved"}


def topology(path: Path) -> Path:
    """A chain r1 - r2 - ... - r6 whose links use eth1 (towards the next) and eth0."""
    lines = ["name: kill-restart-chain", "devices:"]
    lines += [f"  - {{name: '{r}', role: core}}" for r in ROUTERS]
    lines.append("links:")
    for a, b in itertools.pairwise(ROUTERS):
        lines.append(f"  - {{a: '{a}', b: '{b}', a_if: eth1, b_if: eth0, capacity: 10G}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def capture_trap(oid: str, if_index: int, if_name: str) -> bytes:
    """One SNMPv2c trap as net-snmp's snmptrap sends it (ifIndex and ifName varbinds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as cap:
        cap.bind(("127.0.0.1", 0))
        cap.settimeout(20)
        subprocess.run(
            ["snmptrap", "-v2c", "-c", "public", f"udp:127.0.0.1:{cap.getsockname()[1]}", "",
             oid, f"1.3.6.1.2.1.2.2.1.1.{if_index}", "i", str(if_index),
             f"1.3.6.1.2.1.31.1.1.1.1.{if_index}", "s", if_name],
            check=True,
        )  # fmt: skip
        return cap.recv(65535)


class Flapper(threading.Thread):
    """Sends linkDown, linkUp, linkDown, ... for each active interface, ``rate`` traps/s in
    all, from the interface's device address."""

    def __init__(self, port: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.rate = port, rate
        self.active: list[tuple[socket.socket, bytes, bytes]] = []
        self.sent = 0
        self.stop = threading.Event()

    def flap(self, device: str, if_name: str, if_index: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((device, 0))
        down = capture_trap(LINK_DOWN, if_index, if_name)
        up = capture_trap(LINK_UP, if_index, if_name)
        self.active = [*self.active, (s, down, up)]

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            for s, down, up in self.active:
                s.sendto(down if (self.sent // len(self.active)) % 2 == 0 else up,
                         ("127.0.0.1", self.port))  # fmt: skip
                self.sent += 1
            ahead = start + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def check_stores(data_dir: Path) -> dict[str, Any]:
    """Every incident's status against its ticket's state and its last audit record, and the
    other way round; incidents per faulty interface; the audit chain."""
    from netvigil.resolvers.audit import AuditLog
    from netvigil.resolvers.incidents import IncidentStore
    from netvigil.resolvers.tickets.local import LocalTickets

    store = IncidentStore(data_dir / "incidents.db")
    tickets = LocalTickets(data_dir / "tickets.db")
    audit = AuditLog(data_dir / "audit.db")
    try:
        incidents = store.list()
        by_fp = {inc.fingerprint: (inc, number) for inc, number in incidents}
        all_tickets = {t.correlation_id: t for t in tickets.all()}
        records = audit.records()
        verification = audit.verify()
    finally:
        store.close()
        tickets.close()
        audit.close()
    last_audit: dict[str, str] = {}
    for r in records:
        if r.action in _STATUS:
            last_audit[r.subject] = _STATUS[r.action]
    problems = []
    by_entity: dict[str, list[str]] = defaultdict(list)
    for fp, (inc, number) in by_fp.items():
        for entity in sorted({a.entity for a in inc.anomalies}):
            by_entity[entity].append(fp)
        ticket = all_tickets.get(fp)
        if ticket is None:
            problems.append(f"incident {fp} ({inc.status}) has no ticket")
        elif ticket.state != inc.status:
            problems.append(f"incident {fp} is {inc.status}, its ticket {ticket.number} is "
                            f"{ticket.state}")  # fmt: skip
        elif number != ticket.number:
            problems.append(f"incident {fp} names ticket {number}, its ticket is {ticket.number}")
        if last_audit.get(fp) != inc.status:
            problems.append(f"incident {fp} is {inc.status}, its last audit record says "
                            f"{last_audit.get(fp)}")  # fmt: skip
    for fp, t in all_tickets.items():
        if fp not in by_fp:
            problems.append(f"ticket {t.number} ({t.state}) has no incident")
    for fp in last_audit:
        if fp not in by_fp:
            problems.append(f"audit records of {fp} have no incident")
    return {
        "incidents": len(by_fp),
        "tickets": len(all_tickets),
        "audit_records": len(records),
        "audit_ok": verification.ok,
        "audit_problems": verification.problems[:5],
        "disagreements": problems,
        "incidents_by_entity": {e: len(fps) for e, fps in sorted(by_entity.items())},
    }


def _start(data: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:  # cwd: ``python -m`` puts it first on the path
        return subprocess.Popen(
            [*NETVIGIL, "run", "--data-dir", str(data)],
            env=env,
            stdout=f,
            stderr=f,
            cwd=env.get("PYTHONPATH") or None,
        )


def _wait_running(proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    size = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"netvigil run exited with {proc.returncode}: see {log}")
        with log.open("rb") as f:
            f.seek(size)
            if b" running (" in f.read():
                return
        time.sleep(0.1)
    raise TimeoutError(f"netvigil run did not start in {timeout} s: see {log}")


def kill_loop(
    data: Path,
    *,
    kills: int,
    rate: float,
    min_up: float,
    max_up: float,
    seed: int,
    python_path: str = "",
) -> dict[str, Any]:
    """The whole experiment over ``data``; returns what :func:`check_stores` found, plus the
    kills, the traps sent and the final stop summary."""
    from provision.common import free_port

    rng = random.Random(seed)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
    env.update(
        NETVIGIL_SNMP__TRAPS="true",
        NETVIGIL_SNMP__TRAP_HOST="127.0.0.1",
        NETVIGIL_SNMP__TRAP_PORT=str(port),
        NETVIGIL_GRAPH__TOPOLOGY=str(topology(data.parent / "chain.yaml")),
        NETVIGIL_DETECTOR__LOG_CLASSIFIER="keywords",
    )
    if python_path:  # run another version of the service (the baseline)
        env["PYTHONPATH"] = python_path
    log = data.parent / "service.log"
    flapper = Flapper(port, rate)
    flapper.flap(*FLAPS[0])
    flapper.start()
    ups = []
    try:
        for i in range(kills):
            if i == kills // 2:
                flapper.flap(*FLAPS[1])
            proc = _start(data, env, log)
            _wait_running(proc, log)
            up = rng.uniform(min_up, max_up)
            ups.append(round(up, 2))
            time.sleep(up)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        proc = _start(data, env, log)
        _wait_running(proc, log)
        time.sleep(max_up)
    finally:
        flapper.stop.set()
        flapper.join(10)
    mark = log.stat().st_size
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=600)
    with log.open("rb") as f:
        f.seek(mark)
        summary = [ln for ln in f.read().decode(errors="replace").splitlines() if "stopped" in ln]
    found = check_stores(data)
    return {
        "kills": kills,
        "up_s": ups,
        "traps_sent": flapper.sent,
        "rate": rate,
        "final_exit": proc.returncode,
        "summary": summary[-1:] if summary else [],
        **found,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=18)
    ap.add_argument("--rate", type=float, default=300.0, help="traps/s in all")
    ap.add_argument("--min-up", type=float, default=1.0, help="seconds up before a kill, least")
    ap.add_argument("--max-up", type=float, default=6.0, help="seconds up before a kill, most")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python-path", default="", help="PYTHONPATH of the service (a baseline)")
    ap.add_argument("--keep", default="", help="keep the data directory here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nv-kill-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        (root / "data").mkdir(parents=True, exist_ok=True)
        result = kill_loop(
            root / "data",
            kills=args.kills,
            rate=args.rate,
            min_up=args.min_up,
            max_up=args.max_up,
            seed=args.seed,
            python_path=args.python_path,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
