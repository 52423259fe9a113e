"""A carrier-sized topology generator: core, aggregation and access tiers, sites, dual-homing,
and services over them, in the project's topology model, seeded.

Shape (what holds for every generated network):

- **Core**: ``core_sites`` sites, each with two core routers joined to each other; the sites
  form a ring (both routers of a site to both of the next) with chords across it, so no
  single core link or router cuts the core. The sites are spread over ``regions``.
- **Aggregation**: points of presence (POPs), each with a pair of aggregation routers joined
  to each other and dual-homed: the first to core router A, the second to core router B of
  the POP's core site, each uplink a bundle of ``agg_members`` parallel links.
- **Access**: each POP's access devices are dual-homed, one bundle of ``access_members``
  links to each aggregation router of the POP, and chained to the next access device of
  the POP (a metro ring left open). Every device has at least two uplinks, so no access
  device hangs off a single aggregation router.
- **Services**: VPNs between two access devices of different POPs; each takes the path up
  its tiers, along the core ring the short way, and down again (its links and end devices).

Counts: exactly ``devices`` devices; with the defaults a 10,000-device network has about
100,000 interfaces (every interface sits on a link; bundles are parallel links, ``#n`` ids).
Written here rather than taken from a library: the graph generators of networkx
(``random_internet_as_graph``, Waxman, Barabási-Albert) give AS-level or random graphs with
no tiers, sites, dual-homing or bundles, which is what makes a carrier's failures look as
they do (an aggregation router down cuts nothing off; a POP's pair down cuts off the POP).
The seed chooses vendors and the POPs services join; the same arguments give the same
network.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from netvigil.events import interface_id, link_id
from netvigil.graph.base import Device, Link, Service, Site, TopologyStore

__all__ = ["Carrier", "CarrierSpec", "generate"]

_VENDORS = {
    "core": ("cisco", "juniper"),
    "aggregation": ("juniper", "nokia"),
    "access": ("arista", "cisco", "nokia"),
}
_IFNAME = {"cisco": "HundredGigE0/0/{n}", "juniper": "et-0/0/{n}", "nokia": "1/1/c{n}"}
_IFNAME_DEFAULT = "Ethernet{n}"
_CAPACITY = {"core": 400e9, "aggregation": 100e9, "access": 10e9}


@dataclass(frozen=True)
class CarrierSpec:
    """What to generate (see the module docstring)."""

    devices: int = 10_000
    core_sites: int = 10
    regions: int = 5
    access_per_pop: int = 23
    agg_members: int = 2
    access_members: int = 2
    services: int = 500
    seed: int = 1

    def __post_init__(self) -> None:
        smallest = 2 * self.core_sites + 2 + 2
        if self.core_sites < 3 or self.devices < smallest or self.access_per_pop < 1:
            raise ValueError(
                f"a carrier needs core_sites >= 3, access_per_pop >= 1 and at least "
                f"{smallest} devices (got {self.devices})"
            )
        if min(self.regions, self.agg_members, self.access_members) < 1 or self.services < 0:
            raise ValueError("regions and bundle sizes must be >= 1, services >= 0")


@dataclass
class Carrier:
    """A generated network: the model's sites, devices, links and services."""

    sites: list[Site] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    def load_into(self, store: TopologyStore) -> TopologyStore:
        store.load(sites=self.sites, devices=self.devices, links=self.links, services=self.services)
        return store

    def to_yaml(self) -> dict[str, Any]:
        """The network as a YAML inventory (``netvigil graph import`` and the twin read it)."""
        return {
            "name": "carrier",
            "sites": [{"name": s.name, "region": s.region} for s in self.sites],
            "devices": [
                {
                    "name": d.name,
                    "role": d.role,
                    "vendor": d.vendor,
                    "site": d.site,
                    "weight": d.weight,
                }
                for d in self.devices
            ],
            "links": [
                {
                    "id": lk.id,
                    "a": lk.a,
                    "a_if": lk.a_if.partition(":")[2],
                    "b": lk.b,
                    "b_if": lk.b_if.partition(":")[2],
                    "capacity": lk.capacity_bps,
                    "igp_metric": lk.igp_metric,
                }
                for lk in self.links
            ],
            "services": [
                {"name": s.name, "kind": s.kind, "links": list(s.links), "devices": list(s.devices)}
                for s in self.services
            ],
        }


class _Builder:
    def __init__(self, spec: CarrierSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.net = Carrier()
        self.vendor: dict[str, str] = {}
        self.ports: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()

    def device(self, name: str, role: str, site: str) -> str:
        vendor = self.rng.choice(_VENDORS[role])
        self.vendor[name] = vendor
        weight = {"core": 0.5, "aggregation": 1.0, "access": 1.0}[role]
        self.net.devices.append(Device(name, role, vendor, site, weight))
        return name

    def _port(self, device: str) -> str:
        n = self.ports[device]
        self.ports[device] += 1
        style = _IFNAME.get(self.vendor[device], _IFNAME_DEFAULT)
        return interface_id(device, style.format(n=n))

    def link(self, a: str, b: str, tier: str, metric: int) -> str:
        base = link_id(a, b)
        self.seen[base] += 1
        lid = base if self.seen[base] == 1 else f"{base}#{self.seen[base]}"
        self.net.links.append(
            Link(lid, a, self._port(a), b, self._port(b), _CAPACITY[tier], metric, source="yaml")
        )
        return lid

    def bundle(self, a: str, b: str, tier: str, metric: int, members: int) -> str:
        """``members`` parallel links; returns the first (what a path names)."""
        first = self.link(a, b, tier, metric)
        for _ in range(members - 1):
            self.link(a, b, tier, metric)
        return first


def generate(spec: CarrierSpec | None = None) -> Carrier:
    """A carrier network as ``spec`` asks (see the module docstring)."""
    spec = spec or CarrierSpec()
    b = _Builder(spec)
    cs = spec.core_sites
    cores: list[tuple[str, str]] = []
    for i in range(cs):
        site = f"cs{i:02d}"
        b.net.sites.append(Site(site, f"region{i * spec.regions // cs}"))
        pair = (b.device(f"{site}-cr1", "core", site), b.device(f"{site}-cr2", "core", site))
        b.link(*pair, "core", 5)
        cores.append(pair)
    for i in range(cs):
        j = (i + 1) % cs
        for x in (0, 1):
            b.link(cores[i][x], cores[j][x], "core", 10)
        b.link(cores[i][0], cores[j][1], "core", 15)
        b.link(cores[i][1], cores[j][0], "core", 15)
    for i in range(cs // 2):  # chords across the ring
        b.link(cores[i][0], cores[i + cs // 2][1], "core", 40)
    # POPs: 2 aggregation routers and their access devices, blocks of POPs per core site
    left = spec.devices - 2 * cs
    per_pop = spec.access_per_pop + 2
    pops = max(1, left // per_pop)
    access_counts = [spec.access_per_pop] * pops
    for k in range(left - pops * per_pop):  # the remainder, spread over the POPs
        access_counts[k % pops] += 1
    pop_site: list[int] = []
    pop_access: list[list[str]] = []
    pop_uplinks: list[tuple[str, str, str, str]] = []
    for p in range(pops):
        s = p * cs // pops
        site = f"pop{p:04d}"
        b.net.sites.append(Site(site, f"region{s * spec.regions // cs}"))
        agg = (
            b.device(f"{site}-ag1", "aggregation", site),
            b.device(f"{site}-ag2", "aggregation", site),
        )
        b.link(*agg, "aggregation", 5)
        up1 = b.bundle(agg[0], cores[s][0], "aggregation", 10, spec.agg_members)
        up2 = b.bundle(agg[1], cores[s][1], "aggregation", 10, spec.agg_members)
        access: list[str] = []
        for k in range(access_counts[p]):
            acc = b.device(f"{site}-ac{k:03d}", "access", site)
            b.bundle(acc, agg[0], "access", 10, spec.access_members)
            b.bundle(acc, agg[1], "access", 20, spec.access_members)
            if access:
                b.link(access[-1], acc, "access", 50)
            access.append(acc)
        pop_site.append(s)
        pop_access.append(access)
        pop_uplinks.append((agg[0], up1, agg[1], up2))
    ring = {(i, (i + 1) % cs): link_id(cores[i][0], cores[(i + 1) % cs][0]) for i in range(cs)}
    for n in range(spec.services if pops > 1 else 0):
        p1, p2 = b.rng.sample(range(pops), 2)
        a1, a2 = b.rng.choice(pop_access[p1]), b.rng.choice(pop_access[p2])
        g1, up1 = pop_uplinks[p1][0], pop_uplinks[p1][1]
        g2, up2 = pop_uplinks[p2][0], pop_uplinks[p2][1]
        s1, s2 = pop_site[p1], pop_site[p2]
        path = [link_id(a1, g1), up1]
        fwd = (s2 - s1) % cs
        step = 1 if fwd <= cs - fwd else -1
        i = s1
        while i != s2:
            j = (i + step) % cs
            path.append(ring[(i, j)] if step == 1 else ring[(j, i)])
            i = j
        path += [up2, link_id(a2, g2)]
        b.net.services.append(Service(f"vpn{n:04d}", "l3vpn", tuple(path), (a1, a2)))
    return b.net
