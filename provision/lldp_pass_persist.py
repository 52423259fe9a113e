"""LLDP-MIB data for net-snmp's snmpd, as a ``pass_persist`` handler (stdlib only).

net-snmp does not implement LLDP-MIB itself (lldpd does, for real ports only), so tests give
snmpd the neighbour table of a simulated device through snmpd's documented ``pass_persist``
protocol: ``pass_persist .1.0.8802.1.1.2 python3 lldp_pass_persist.py TABLE.json`` in
snmpd.conf. TABLE.json is re-read whenever it changes, so a test can make links appear and
disappear while the agent runs::

    {"sysname": "r1", "ports": [{"num": 1, "name": "eth0"}],
     "remotes": [{"port": 1, "index": 1, "sysname": "r2", "port_id": "eth3"}]}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BASE = (1, 0, 8802, 1, 1, 2)
LOC_SYSNAME = (*BASE, 1, 3, 3, 0)
LOC_PORT = (*BASE, 1, 3, 7, 1)
REM = (*BASE, 1, 4, 1, 1)

Oid = tuple[int, ...]


def table(data: dict) -> list[tuple[Oid, str, str]]:
    rows: list[tuple[Oid, str, str]] = [(LOC_SYSNAME, "string", str(data.get("sysname", "")))]
    for p in data.get("ports", []):
        n = int(p["num"])
        rows += [
            ((*LOC_PORT, 2, n), "integer", "5"),  # interfaceName
            ((*LOC_PORT, 3, n), "string", str(p["name"])),
            ((*LOC_PORT, 4, n), "string", str(p.get("desc", p["name"]))),
        ]
    for r in data.get("remotes", []):
        idx = (0, int(r["port"]), int(r.get("index", 1)))  # timemark, local port, index
        rows += [
            ((*REM, 4, *idx), "integer", "7"),  # chassis id subtype: local
            ((*REM, 5, *idx), "string", str(r.get("chassis", r["sysname"]))),
            ((*REM, 6, *idx), "integer", str(r.get("port_subtype", 5))),
            ((*REM, 7, *idx), "string", str(r["port_id"])),
            ((*REM, 8, *idx), "string", str(r.get("port_desc", r["port_id"]))),
            ((*REM, 9, *idx), "string", str(r["sysname"])),
        ]
    return sorted(rows)


def _oid(text: str) -> Oid:
    return tuple(int(x) for x in text.strip().strip(".").split(".") if x)


def main(path: Path) -> None:
    mtime = -1.0
    rows: list[tuple[Oid, str, str]] = []
    out = sys.stdout
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "PING":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            req = _oid(sys.stdin.readline())
            m = path.stat().st_mtime if path.exists() else 0.0
            if m != mtime:
                mtime = m
                rows = table(json.loads(path.read_text())) if path.exists() else []
            hit = None
            for oid, typ, val in rows:
                if (cmd == "get" and oid == req) or (cmd == "getnext" and oid > req):
                    hit = (oid, typ, val)
                    break
            if hit is None:
                out.write("NONE\n")
            else:
                out.write("." + ".".join(map(str, hit[0])) + f"\n{hit[1]}\n{hit[2]}\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        elif not cmd:
            break
        out.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
