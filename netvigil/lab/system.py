"""The lab's thin I/O: commands (``ip``, ``tc``, ``vtysh``), processes, namespaces, sockets.

Processes are started detached (their own session) with their output in a log file, and are
known by the PID :func:`spawn` returns; they are stopped by that PID (:func:`stop_pids`),
never by name. :func:`socket_in` opens a socket inside a router's namespace from this
process: ``setns(2)`` through ctypes, because Python 3.11's ``os`` has no ``setns`` (3.12 has);
the socket keeps its namespace after the thread switches back.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from netvigil.errors import NetVigilError

__all__ = [
    "REQUIRED",
    "LabError",
    "alive",
    "in_netns",
    "missing_requirements",
    "netns_exists",
    "netns_pids",
    "run",
    "socket_in",
    "spawn",
    "stop_pids",
]

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/var/run/netns")

#: program -> Debian package that ships it
REQUIRED: dict[str, str] = {
    "ip": "iproute2",
    "tc": "iproute2",
    "/usr/lib/frr/zebra": "frr",
    "/usr/lib/frr/ospfd": "frr",
    "/usr/lib/frr/bgpd": "frr",
    "vtysh": "frr",
    "snmpd": "snmpd",
    "lldpd": "lldpd",
    "softflowd": "softflowd",
}


class LabError(NetVigilError):
    """The lab could not be built, changed or removed; the message says what to do."""


def missing_requirements() -> list[str]:
    """What keeps the lab from running here: not root, not Linux, missing programs."""
    out = []
    if not Path("/proc/self/ns/net").exists():
        out.append("network namespaces (the lab needs Linux)")
    if os.geteuid() != 0:
        out.append("root (namespaces, veths and tc need it: run as root)")
    for prog, pkg in REQUIRED.items():
        found = Path(prog).exists() if prog.startswith("/") else shutil.which(prog)
        if not found:
            out.append(f"{prog} (apt-get install {pkg})")
    return out


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True) -> str:
    """Run a command, return its standard output; a failure raises :class:`LabError`."""
    try:
        p = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{' '.join(argv)}: {exc}") from exc
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return p.stdout


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside ``netns`` (``None``: the host's namespace)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def spawn(
    argv: Sequence[str],
    *,
    netns: str | None,
    log: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> int:
    """Start a long-running program detached, in ``netns``; returns its PID.

    ``ip netns exec`` execs the program in place, so the PID is the program's own.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(
            in_netns(netns, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            pass_fds=tuple(pass_fds),
        )
    return p.pid


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _reap(pid: int) -> None:
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_pids(pids: Sequence[int], *, grace_s: float = 3.0) -> list[int]:
    """SIGTERM each PID, SIGKILL what is left after ``grace_s``; returns PIDs still alive."""
    todo = [p for p in pids if alive(p)]
    for pid in todo:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for pid in todo:
            _reap(pid)
        todo = [p for p in todo if alive(p)]
        if not todo:
            return []
        time.sleep(0.05)
    for pid in todo:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    for pid in todo:
        _reap(pid)
    return [p for p in todo if alive(p)]


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_pids(name: str) -> list[int]:
    """Every process whose network namespace is ``name`` (what ``ip netns pids`` lists)."""
    if not netns_exists(name):
        return []
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in out.split() if x.isdigit()]


_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns failed: {os.strerror(err)} (the lab needs root)")


@contextmanager
def _entered(netns: str) -> Iterator[None]:
    with open(NETNS_DIR / netns) as target, open("/proc/self/ns/net") as home:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def socket_in(netns: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """An IPv4 socket that lives in ``netns`` (created there, used from here)."""
    with _entered(netns):
        return socket.socket(socket.AF_INET, kind)
