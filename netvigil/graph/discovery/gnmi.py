"""LLDP neighbours over gNMI (openconfig-lldp): a pygnmi Get, and its pure parser.

``Get /lldp/interfaces`` returns, per local interface, the neighbours' ``state/system-name``
and ``state/port-id`` leaves (pygnmi flattens them to ``path``/``val`` pairs).
:func:`parse_openconfig_lldp` (pure, fuzzed) groups the leaves by interface and neighbour id.
Only ``port-id`` values of type interface name (or local) are taken as the remote interface;
other types fall back to ``port-description`` when present.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from netvigil.errors import DecodeError
from netvigil.graph.discovery.lldp import Neighbor

__all__ = ["LLDP_PATH", "get_lldp", "parse_openconfig_lldp"]

LLDP_PATH = "/lldp/interfaces"
_LEAF = re.compile(
    r"^/?(?:openconfig-lldp:)?lldp/interfaces/interface\[name=(?P<ifname>[^\]]+)\]"
    r"/neighbors/neighbor\[id=(?P<nid>[^\]]*)\]/state/(?P<leaf>[a-z-]+)$"
)
_NAMED = {"INTERFACE_NAME", "LOCAL", "openconfig-lldp-types:INTERFACE_NAME"}


def parse_openconfig_lldp(response: Mapping[str, Any]) -> list[Neighbor]:
    """Neighbour rows from a pygnmi Get response of ``/lldp/interfaces``.

    Raises :class:`DecodeError` (``bad_response``) when the response is not shaped like one.
    """
    notes = response.get("notification")
    if not isinstance(notes, list):
        raise DecodeError("bad_response", "a gNMI Get response needs a 'notification' list")
    found: dict[tuple[str, str], dict[str, str]] = {}
    for note in notes:
        if not isinstance(note, Mapping):
            raise DecodeError("bad_response", "a notification must be a mapping")
        prefix = str(note.get("prefix") or "").strip("/")
        updates = note.get("update") or []
        if not isinstance(updates, list):
            raise DecodeError("bad_response", "'update' must be a list")
        for upd in updates:
            if not isinstance(upd, Mapping) or "path" not in upd:
                raise DecodeError("bad_response", "an update needs a path")
            path = str(upd["path"])
            full = f"{prefix}/{path.strip('/')}" if prefix else path
            m = _LEAF.match(full)
            if m is None:
                continue
            found.setdefault((m["ifname"], m["nid"]), {})[m["leaf"]] = str(upd.get("val", ""))
    rows = []
    for (ifname, _), leaves in sorted(found.items()):
        system = leaves.get("system-name", "").strip()
        port = leaves.get("port-id", "").strip()
        if leaves.get("port-id-type") not in (None, *_NAMED):
            port = leaves.get("port-description", "").strip()
        if system and port and ":" not in system and "--" not in system:
            rows.append(Neighbor(local_port=ifname, remote_system=system, remote_port=port))
    return rows


def _get(host: str, port: int, insecure: bool, timeout: float) -> dict[str, Any]:
    from pygnmi.client import gNMIclient

    with gNMIclient(target=(host, port), insecure=insecure, gnmi_timeout=timeout) as gc:
        result: dict[str, Any] = gc.get(path=[LLDP_PATH], encoding="json_ietf")
    return result


async def get_lldp(
    host: str, port: int, *, insecure: bool = True, timeout: float = 5.0
) -> list[Neighbor]:
    """Get the openconfig-lldp neighbours of one target (pygnmi is blocking: in a thread)."""
    return parse_openconfig_lldp(await asyncio.to_thread(_get, host, port, insecure, timeout))
