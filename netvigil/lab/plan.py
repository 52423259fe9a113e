"""The lab's plan, a pure function of a topology: routers, links, addresses, scaled capacities.

Addressing (all in RFC 2544's benchmarking block 198.18.0.0/15, which no real network uses,
so a lab route can never shadow a real one; the addresses exist only inside the lab):

- link ``k`` (in the topology's link order) is ``198.18.<k // 128>.<2 (k % 128)>/31``, the
  first address on the lower-sorted end (``a``), the second on ``b``;
- router ``i``'s loopback (OSPF router id, traffic sink) is ``198.18.255.<i + 1>/32``;
- the management network is one bridge in the host's namespace, in the lab's *slot* ``s``
  (0-15) of 198.19.0.0/16: ``198.19.<16 s>.1/20``; router ``i`` has ``mgmt0`` at
  ``198.19.<16 s + 1 + i // 250>.<1 + i % 250>``: its SNMP agent listens there, and its flow
  exporter and traps reach the collectors at the bridge's address. The first lab is slot 0
  (``198.19.0.1``, routers at ``198.19.1.x``); a second lab on the same host takes a free
  slot, so two labs never share a management network (``runner.up`` picks it).

Names: a router's hostname is its topology name with anything but letters, digits, ``-``,
``_`` and ``.`` replaced by ``-`` (FRRouting and syslog take one word), made unique; its
namespace is ``<prefix><i>`` (``nvl-<i>`` for the default lab directory; a lab in another
directory has a prefix of its own, see ``state.netns_prefix``); its interfaces are the ones
the topology names (``eth0``...).

Capacities are scaled by a power of ten so that the fastest link becomes at most
:data:`MAX_LINK_BPS` (10 Gbit/s -> 10 Mbit/s): real traffic at those rates costs little CPU.
A link that would fall below :data:`MIN_LINK_BPS` is raised to it, and the plan says which.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from netvigil.events import interface_id
from netvigil.graph.base import Device, Link, TopologyStore
from netvigil.graph.memory import MemoryTopology

__all__ = [
    "MAX_LINK_BPS",
    "MGMT_GATEWAY",
    "MGMT_PREFIX",
    "MGMT_SLOTS",
    "MIN_LINK_BPS",
    "Collectors",
    "IfacePlan",
    "LabPlan",
    "LinkPlan",
    "RouterPlan",
    "hostname",
    "lab_topology",
    "mgmt_gateway",
    "plan_lab",
    "scale_of",
    "select_routers",
]

MAX_LINK_BPS = 10e6
MIN_LINK_BPS = 0.5e6
MGMT_GATEWAY = "198.19.0.1"
MGMT_PREFIX = 20
#: management networks a host can hold side by side (198.19.0.0/16 in /20 slots)
MGMT_SLOTS = 16
NETNS_PREFIX = "nvl-"
#: at most this many routers get BGP (iBGP full mesh between the least-connected routers)
BGP_ROUTERS = 3
BGP_ASN = 64512
MAX_ROUTERS = 250
MAX_LINKS = 128 * 255


@dataclass(frozen=True)
class Collectors:
    """Where the lab's routers send what they export (addresses in the host's namespace)."""

    syslog: str = f"{MGMT_GATEWAY}:5514"
    flows: str = f"{MGMT_GATEWAY}:2055"
    traps: str = f"{MGMT_GATEWAY}:1162"

    @classmethod
    def at(cls, gateway: str) -> Collectors:
        """The default ports at ``gateway`` (the bridge address of the lab's slot)."""
        d = cls()
        return cls(
            *(f"{gateway}:{addr.rpartition(':')[2]}" for addr in (d.syslog, d.flows, d.traps))
        )


@dataclass(frozen=True)
class IfacePlan:
    name: str
    address: str
    """CIDR, e.g. ``198.18.0.0/31``."""
    peer: str
    peer_interface: str
    link: str
    capacity_bps: float
    cost: int


@dataclass(frozen=True)
class RouterPlan:
    name: str
    """The name in the topology (and NetVigil's device name): the hostname."""
    index: int
    netns: str
    loopback: str
    mgmt: str
    interfaces: tuple[IfacePlan, ...]
    bgp: bool = False
    weight: float = 1.0
    """Traffic weight (the gravity model's) from the topology."""

    @property
    def host_veth(self) -> str:
        """The host's end of the router's management veth (``nvl-3`` -> ``nvm-3``)."""
        return "nvm" + self.netns[3:]


@dataclass(frozen=True)
class LinkPlan:
    id: str
    a: str
    a_if: str
    a_addr: str
    b: str
    b_if: str
    b_addr: str
    capacity_bps: float
    """Scaled capacity the link is shaped to."""
    original_bps: float
    cost: int
    raised: bool = False
    """The scaled capacity was below :data:`MIN_LINK_BPS` and was raised to it."""


@dataclass(frozen=True)
class LabPlan:
    routers: tuple[RouterPlan, ...]
    links: tuple[LinkPlan, ...]
    scale: float
    """Lab capacity = topology capacity x scale."""
    collectors: Collectors = field(default_factory=Collectors)
    mgmt_gateway: str = MGMT_GATEWAY

    def router(self, name: str) -> RouterPlan:
        for r in self.routers:
            if r.name == name:
                return r
        raise KeyError(f"no router {name!r} in the lab; routers: {[r.name for r in self.routers]}")

    def link(self, link_id: str) -> LinkPlan:
        for lk in self.links:
            if lk.id == link_id:
                return lk
        raise KeyError(f"no link {link_id!r} in the lab")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabPlan:
        routers = tuple(
            RouterPlan(**{**r, "interfaces": tuple(IfacePlan(**i) for i in r["interfaces"])})
            for r in d["routers"]
        )
        links = tuple(LinkPlan(**lk) for lk in d["links"])
        return cls(
            routers,
            links,
            float(d["scale"]),
            Collectors(**d.get("collectors", {})),
            d.get("mgmt_gateway", MGMT_GATEWAY),
        )


_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def hostname(name: str) -> str:
    """A topology name as one word a router's hostname can be."""
    return _BAD.sub("-", name).strip("-.") or "router"


def scale_of(capacities: list[float]) -> float:
    """The power of ten that brings the fastest capacity to at most :data:`MAX_LINK_BPS`."""
    top = max(capacities, default=MAX_LINK_BPS)
    if top <= MAX_LINK_BPS:
        return 1.0
    return 10.0 ** math.floor(math.log10(MAX_LINK_BPS / top))


def select_routers(topo: TopologyStore, max_routers: int | None) -> list[str]:
    """Devices to build: all, or a connected ``max_routers`` grown breadth-first from the
    best-connected device (ties by name), so the lab stays one routed network."""
    names = sorted(d.name for d in topo.devices())
    if max_routers is None or max_routers >= len(names):
        return names
    if max_routers < 2:
        raise ValueError("a lab needs at least 2 routers")
    start = max(names, key=lambda n: (len(topo.neighbors(n)), [-ord(c) for c in n]))
    seen = [start]
    queue = deque([start])
    while queue and len(seen) < max_routers:
        cur = queue.popleft()
        for nb in sorted(topo.neighbors(cur)):
            if nb not in seen and len(seen) < max_routers:
                seen.append(nb)
                queue.append(nb)
    return sorted(seen)


def _link_addrs(k: int) -> tuple[str, str]:
    third, fourth = divmod(k, 128)
    return f"198.18.{third}.{2 * fourth}/31", f"198.18.{third}.{2 * fourth + 1}/31"


def mgmt_gateway(slot: int) -> str:
    """The bridge address of management slot ``slot`` (see the module docstring)."""
    if not 0 <= slot < MGMT_SLOTS:
        raise ValueError(f"management slot {slot} is outside 0-{MGMT_SLOTS - 1}")
    return f"198.19.{16 * slot}.1"


def plan_lab(
    topo: TopologyStore,
    *,
    max_routers: int | None = None,
    collectors: Collectors | None = None,
    netns_prefix: str = NETNS_PREFIX,
    slot: int = 0,
) -> LabPlan:
    """The lab for ``topo`` (see the module docstring for every rule)."""
    if not re.fullmatch(r"nvl[0-9a-f]*-", netns_prefix):
        raise ValueError(f"namespace prefix {netns_prefix!r} is not nvl<hex>-")
    gateway = mgmt_gateway(slot)
    chosen = set(select_routers(topo, max_routers))
    if len(chosen) > MAX_ROUTERS:
        raise ValueError(f"the lab holds at most {MAX_ROUTERS} routers; pass --max-routers")
    order = sorted(chosen)
    hosts: dict[str, str] = {}
    used: set[str] = set()
    for name in order:
        h = hostname(name)
        base, n = h, 2
        while h in used:
            h, n = f"{base}-{n}", n + 1
        used.add(h)
        hosts[name] = h
    topo_links = [lk for lk in topo.links() if lk.a in chosen and lk.b in chosen and lk.a != lk.b]
    if len(topo_links) > MAX_LINKS:
        raise ValueError(f"the lab holds at most {MAX_LINKS} links")
    scale = scale_of([lk.capacity_bps for lk in topo_links])
    links: list[LinkPlan] = []
    ifaces: dict[str, list[IfacePlan]] = {n: [] for n in order}
    for k, lk in enumerate(sorted(topo_links, key=lambda x: x.id)):
        a_addr, b_addr = _link_addrs(k)
        cap = lk.capacity_bps * scale
        raised = cap < MIN_LINK_BPS
        cap = max(cap, MIN_LINK_BPS)
        a, b = hosts[lk.a], hosts[lk.b]
        a_if, b_if = lk.a_if.partition(":")[2], lk.b_if.partition(":")[2]
        for name in (a_if, b_if):
            if len(name) > 15 or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ValueError(f"interface name {name!r} cannot be a Linux interface name")
        link_name = "--".join(sorted((a, b))) + (lk.id[lk.id.find("#") :] if "#" in lk.id else "")
        links.append(
            LinkPlan(
                link_name,
                a,
                a_if,
                a_addr,
                b,
                b_if,
                b_addr,
                cap,
                lk.capacity_bps,
                lk.igp_metric,
                raised,
            )
        )
        ifaces[lk.a].append(IfacePlan(a_if, a_addr, b, b_if, link_name, cap, lk.igp_metric))
        ifaces[lk.b].append(IfacePlan(b_if, b_addr, a, a_if, link_name, cap, lk.igp_metric))
    by_degree = sorted(order, key=lambda n: (len(ifaces[n]), n))
    bgp = set(by_degree[: min(BGP_ROUTERS, len(order))]) if len(order) >= 3 else set()
    routers = tuple(
        RouterPlan(
            name=hosts[name],
            index=i,
            netns=f"{netns_prefix}{i}",
            loopback=f"198.18.255.{i + 1}",
            mgmt=f"198.19.{16 * slot + 1 + i // 250}.{1 + i % 250}",
            interfaces=tuple(sorted(ifaces[name], key=lambda x: x.name)),
            bgp=name in bgp,
            weight=topo.device(name).weight,
        )
        for i, name in enumerate(order)
    )
    return LabPlan(routers, tuple(links), scale, collectors or Collectors.at(gateway), gateway)


def lab_topology(plan: LabPlan) -> MemoryTopology:
    """The lab as NetVigil's topology: its hostnames, interfaces, scaled capacities, costs."""
    store = MemoryTopology()
    store.load(
        devices=[Device(r.name, role="router", site=r.name, weight=r.weight) for r in plan.routers],
        links=[
            Link(
                id=lk.id,
                a=lk.a,
                a_if=interface_id(lk.a, lk.a_if),
                b=lk.b,
                b_if=interface_id(lk.b, lk.b_if),
                capacity_bps=lk.capacity_bps,
                igp_metric=lk.cost,
                source="lab",
            )
            for lk in plan.links
        ],
    )
    return store
