"""net-snmp's ``snmpd`` on a loopback UDP port, with a v2c community and a v3 authPriv user.

The agent serves the host's real MIBs (system, IF-MIB of this machine's interfaces, ...).
Callers may add configuration lines (``extra_conf``: e.g. ``pass_persist`` for LLDP-MIB data,
``trap2sink`` to send traps). The Debian packages ``snmpd`` and ``snmp`` come from
``scripts/apt-packages.txt``; Debian ships no MIB files, so everything runs with ``MIBS=``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from provision.common import Server, free_port

__all__ = ["COMMUNITY", "V3", "install", "start", "status", "stop"]

COMMUNITY = "public"
#: the v3 user every started agent has (authPriv, SHA + AES-128)
V3 = {
    "user": "netvigil",
    "auth_proto": "SHA",
    "auth_key": "netvigil-auth-key",
    "priv_proto": "AES",
    "priv_key": "netvigil-priv-key",
}
_ENV = {"MIBS": "", "MIBDIRS": ""}


def install() -> None:
    missing = [b for b in ("snmpd", "snmpget") if shutil.which(b) is None]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not found: run scripts/system-deps.sh (Debian packages "
            "snmpd and snmp from scripts/apt-packages.txt)"
        )


def _conf(port: int, extra_conf: str) -> str:
    return "\n".join(
        [
            f"agentAddress udp:127.0.0.1:{port}",
            f"rocommunity {COMMUNITY} 127.0.0.1",
            f'createUser {V3["user"]} {V3["auth_proto"]} "{V3["auth_key"]}" '
            f'{V3["priv_proto"]} "{V3["priv_key"]}"',
            f"rouser {V3['user']} priv",
            "sysLocation NetVigil test lab",
            "sysContact noc@netvigil.invalid",
            extra_conf,
            "",
        ]
    )


def _answers(port: int) -> bool:
    probe = subprocess.run(
        [
            "snmpget",
            "-v2c",
            "-c",
            COMMUNITY,
            "-t",
            "0.5",
            "-r",
            "0",
            "-On",
            f"127.0.0.1:{port}",
            "1.3.6.1.2.1.1.3.0",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **_ENV},
    )
    return probe.returncode == 0 and "1.3.6.1.2.1.1.3.0" in probe.stdout


def start(
    run_dir: Path, port: int | None = None, extra_conf: str = "", timeout: float = 30.0
) -> dict[str, object]:
    """Start an agent; returns host, port, community and the v3 user's credentials."""
    install()
    port = port or free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    persist = run_dir / "persist"
    if persist.exists():
        shutil.rmtree(persist)  # v3 users are re-created from the config on each start
    persist.mkdir()
    conf = run_dir / "snmpd.conf"
    conf.write_text(_conf(port, extra_conf))
    server = Server("snmpd", run_dir)
    proc = server.spawn(
        ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(run_dir / "snmpd.real.pid")],
        env={"SNMP_PERSISTENT_DIR": str(persist), **_ENV},
    )
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if proc.poll() is not None:
            raise RuntimeError(f"snmpd exited with {proc.returncode}:\n{server.log.read_text()}")
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"snmpd did not answer on udp 127.0.0.1:{port}")
        time.sleep(0.2)
    facts = {"host": "127.0.0.1", "port": port, "community": COMMUNITY, **V3}
    (run_dir / "facts.json").write_text(json.dumps(facts))
    return facts


def stop(run_dir: Path) -> None:
    Server("snmpd", run_dir).stop()


def status(run_dir: Path) -> dict[str, object]:
    facts_file = run_dir / "facts.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() else {}
    running = Server("snmpd", run_dir).pid() is not None
    return {"running": running and bool(facts) and _answers(int(facts["port"])), **facts}
