"""Topology input: a YAML inventory or a GraphML file (e.g. the Internet Topology Zoo).

Interface names, when a file gives none, follow each vendor's naming style (a data table),
numbered per device in the order links appear.

Inventories are read with ``yaml-rs`` (a YAML 1.2 reader in Rust that builds the Python
objects itself): a 10,000-device inventory (8 MB) reads in ~0.4 CPU s, where PyYAML, even
with libyaml scanning, takes ~8 (it builds every node in Python). YAML 1.2's core schema is
what it reads: ``yes``/``no``/``on``/``off`` are strings, ``010`` is ten, ``1e10`` a number,
dates stay text; a key given twice in one mapping is an error (PyYAML kept the last).
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import yaml_rs

from netvigil.errors import TopologyError
from netvigil.events import interface_id, link_id
from netvigil.graph.base import Device, Link, Service, Site, TopologyStore
from netvigil.graph.memory import MemoryTopology

__all__ = ["BUILTIN_TOPOLOGY", "load_topology", "parse_capacity"]

BUILTIN_TOPOLOGY = "builtin:demo-backbone"

#: interface naming style per vendor: a format with ``{n}``, the interface index on the device
IFNAME_STYLE: dict[str, str] = {
    "cisco": "GigabitEthernet0/0/{n}",
    "juniper": "ge-0/0/{n}",
    "arista": "Ethernet{n}",
    "nokia": "1/1/{n}",
    "": "eth{n}",
}

_UNITS = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_CAP = re.compile(r"^\s*([0-9.]+)\s*([KMGT]?)(?:bps|b/s|b)?\s*$", re.IGNORECASE)


def parse_capacity(value: Any) -> float:
    """``100G``, ``10 Gbps``, ``2.5e9`` or a number of bits per second, to bits per second."""
    if isinstance(value, int | float):
        return float(value)
    m = _CAP.match(str(value))
    if not m:
        raise TopologyError(f"capacity {value!r} is not like 10G, 100Mbps or 1e9")
    return float(m.group(1)) * _UNITS[m.group(2).upper()]


def load_topology(source: str | Path | None, store: TopologyStore | None = None) -> TopologyStore:
    """Load a topology file (``.yaml``/``.yml``/``.graphml``) or the built-in demo backbone."""
    store = store if store is not None else MemoryTopology()
    if source is None or str(source) == BUILTIN_TOPOLOGY:
        text = resources.files("netvigil.twin").joinpath("topologies/demo-backbone.yaml")
        where = "built-in demo backbone"
        _load_yaml(_read_yaml(text.read_text(), where), store, where)
        return store
    path = Path(source)
    if not path.exists():
        raise TopologyError(f"topology file {path} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        _load_yaml(_read_yaml(path.read_text(), str(path)), store, str(path))
    elif path.suffix.lower() == ".graphml":
        _load_graphml(path, store)
    else:
        raise TopologyError(f"{path}: unknown topology format; use .yaml or .graphml")
    return store


def _read_yaml(text: str, where: str) -> Any:
    try:
        return yaml_rs.loads(text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as exc:
        raise TopologyError(f"{where}: not valid YAML: {exc}") from exc


class _Namer:
    """Hands out interface names per device in its vendor's style."""

    def __init__(self) -> None:
        self._next: Counter[str] = Counter()

    def __call__(self, device: Device) -> str:
        style = IFNAME_STYLE.get(device.vendor.lower(), IFNAME_STYLE[""])
        n = self._next[device.name]
        self._next[device.name] += 1
        return interface_id(device.name, style.format(n=n))


def _unique_link_id(a: str, b: str, seen: Counter[str]) -> str:
    base = link_id(a, b)
    seen[base] += 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TopologyError(f"{where}: props must be a mapping")
    return {str(k): str(v) for k, v in raw.items()}


def _load_yaml(data: Any, store: TopologyStore, where: str) -> None:
    """Sites, devices, links and services of a YAML inventory, loaded in one batch."""
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list):
        raise TopologyError(f"{where}: expected a mapping with a 'devices' list and a 'links' list")
    sites = []
    for i, s in enumerate(data.get("sites") or []):
        if not isinstance(s, dict) or "name" not in s:
            raise TopologyError(f"{where}: sites[{i}] needs a name")
        sites.append(
            Site(str(s["name"]), str(s.get("region", "")), _str_map(s.get("props"), where))
        )
    devices: dict[str, Device] = {}
    for i, d in enumerate(data["devices"]):
        if not isinstance(d, dict) or "name" not in d:
            raise TopologyError(f"{where}: devices[{i}] needs a name")
        name = str(d["name"])
        if ":" in name or "--" in name or not name:
            raise TopologyError(f"{where}: device name {name!r} may not contain ':' or '--'")
        devices[name] = Device(
            name=name,
            role=str(d.get("role", "")),
            vendor=str(d.get("vendor", "")),
            site=str(d.get("site", "")),
            weight=float(d.get("weight", 1.0)),
            props=_str_map(d.get("props"), where),
        )
    namer = _Namer()
    seen: Counter[str] = Counter()
    links = []
    for i, raw in enumerate(data.get("links") or []):
        if not isinstance(raw, dict) or "a" not in raw or "b" not in raw:
            raise TopologyError(f"{where}: links[{i}] needs 'a' and 'b'")
        a, b = str(raw["a"]), str(raw["b"])
        for end in (a, b):
            if end not in devices:
                raise TopologyError(f"{where}: links[{i}]: unknown device {end!r}")
        a_if = interface_id(a, str(raw["a_if"])) if raw.get("a_if") else namer(devices[a])
        b_if = interface_id(b, str(raw["b_if"])) if raw.get("b_if") else namer(devices[b])
        links.append(
            Link(
                id=str(raw.get("id") or _unique_link_id(a, b, seen)),
                a=a,
                a_if=a_if,
                b=b,
                b_if=b_if,
                capacity_bps=parse_capacity(raw.get("capacity", 10e9)),
                igp_metric=int(raw.get("igp_metric", 10)),
                props=_str_map(raw.get("props"), where),
                source="yaml",
            )
        )
    services = []
    for i, s in enumerate(data.get("services") or []):
        if not isinstance(s, dict) or "name" not in s:
            raise TopologyError(f"{where}: services[{i}] needs a name")
        services.append(
            Service(
                name=str(s["name"]),
                kind=str(s.get("kind", "")),
                links=tuple(str(x) for x in s.get("links") or ()),
                devices=tuple(str(x) for x in s.get("devices") or ()),
                props=_str_map(s.get("props"), where),
            )
        )
    store.load(sites=sites, devices=devices.values(), links=links, services=services)


def _clean(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace(":", "_").replace("--", "-")).strip()


def _load_graphml(path: Path, store: TopologyStore) -> None:
    """A Topology Zoo GraphML file: nodes become devices, edges links, in one batch."""
    try:
        g = nx.read_graphml(path)
    except Exception as exc:  # networkx raises several XML and key errors
        raise TopologyError(f"{path}: not a readable GraphML file: {exc}") from exc
    names: dict[str, str] = {}
    devices: dict[str, Device] = {}
    used: Counter[str] = Counter()
    for node, attrs in g.nodes(data=True):
        label = _clean(str(attrs.get("label") or node)) or f"node{node}"
        used[label] += 1
        name = label if used[label] == 1 else f"{label} {used[label]}"
        names[node] = name
        props = {k: str(attrs[k]) for k in ("Country", "Latitude", "Longitude") if k in attrs}
        devices[name] = Device(name=name, role=str(attrs.get("type", "")), site=name, props=props)
    namer = _Namer()
    seen: Counter[str] = Counter()
    links = []
    for u, v, attrs in g.edges(data=True):
        if u == v:
            continue  # self-loops in a few Zoo files carry no topology
        a, b = names[u], names[v]
        speed = attrs.get("LinkSpeedRaw")
        links.append(
            Link(
                id=_unique_link_id(a, b, seen),
                a=a,
                a_if=namer(devices[a]),
                b=b,
                b_if=namer(devices[b]),
                capacity_bps=float(speed) if speed else 10e9,
                igp_metric=10,
                source="graphml",
            )
        )
    store.load(devices=devices.values(), links=links)
