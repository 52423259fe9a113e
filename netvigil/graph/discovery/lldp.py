"""LLDP discovery, the pure core: neighbour tables in, graph changes out.

Each poll of a device gives its whole LLDP remote table (local port, remote system name,
remote port). :class:`LldpDiscovery` keeps, per link (a pair of interfaces), when it was last
reported and by whom, and plans the changes that bring the store up to date:

- ``added``: a link reported that the store does not have (a device named only by a remote
  system name is added too, marked ``discovered``);
- ``seen``: a known link confirmed again: its ``last_seen`` moves on (inventory links keep
  their source; discovery never deletes what an inventory declared);
- ``removed``: a discovered link that no side has reported for ``max_age_s`` (LLDP's own
  hold time), or that *both* ends' latest polls no longer list.

Adapters (``snmp.py``, ``gnmi.py``) only fetch tables; :func:`apply` writes the plan and keeps
what a store could not take (an unreachable Neo4j) for the next round, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from netvigil.errors import GraphUnavailable
from netvigil.events import interface_id, link_id
from netvigil.graph.base import Device, Link, TopologyStore

__all__ = ["Change", "LldpDiscovery", "Neighbor", "apply"]

Pair = frozenset[str]


@dataclass(frozen=True)
class Neighbor:
    """One row of a device's LLDP remote table."""

    local_port: str
    remote_system: str
    remote_port: str


@dataclass(frozen=True)
class Change:
    kind: Literal["added", "seen", "removed", "device"]
    link: Link | None = None
    device: Device | None = None


@dataclass
class _Seen:
    last_seen: float
    by: set[str] = field(default_factory=set)


class LldpDiscovery:
    """Neighbour tables of many devices over time; plans store changes (pure, no I/O)."""

    def __init__(self, source: str = "lldp", *, max_age_s: float = 120.0) -> None:
        self.source = source
        self.max_age_s = max_age_s
        self._links: dict[Pair, _Seen] = {}
        self._latest: dict[str, tuple[float, set[Pair]]] = {}
        self.now = 0.0

    def observe(self, device: str, table: Iterable[Neighbor], ts: float) -> None:
        """A complete LLDP remote table of ``device`` polled at ``ts``."""
        self.now = max(self.now, ts)
        pairs: set[Pair] = set()
        for n in table:
            if not n.remote_system or n.remote_system == device:
                continue
            pair = frozenset(
                {interface_id(device, n.local_port), interface_id(n.remote_system, n.remote_port)}
            )
            pairs.add(pair)
            seen = self._links.setdefault(pair, _Seen(ts))
            seen.last_seen = max(seen.last_seen, ts)
            seen.by.add(device)
        self._latest[device] = (ts, pairs)

    def _gone(self, pair: Pair, seen: _Seen) -> bool:
        if self.now - seen.last_seen > self.max_age_s:
            return True
        ends = {e.partition(":")[0] for e in pair}
        polled = [self._latest[d] for d in ends if d in self._latest]
        # both ends polled after the link was last seen, and neither lists it any more
        return len(polled) == 2 and all(
            ts >= seen.last_seen and pair not in pairs for ts, pairs in polled
        )

    def plan(self, store: TopologyStore) -> list[Change]:
        """The changes that make ``store`` match what LLDP reports now."""
        by_ifaces: dict[Pair, Link] = {frozenset({lk.a_if, lk.b_if}): lk for lk in store.links()}
        known = {d.name for d in store.devices()}
        ids = {lk.id for lk in by_ifaces.values()}
        out: list[Change] = []
        for pair, seen in sorted(self._links.items(), key=lambda kv: sorted(kv[0])):
            current = by_ifaces.get(pair)
            if self._gone(pair, seen):
                if current is not None and current.source.startswith(self.source):
                    out.append(Change("removed", current))
                del self._links[pair]
                continue
            if current is not None:
                out.append(Change("seen", replace(current, last_seen=seen.last_seen)))
                continue
            a_if, b_if = sorted(pair)
            a, b = a_if.partition(":")[0], b_if.partition(":")[0]
            for dev in (a, b):
                if dev not in known:
                    known.add(dev)
                    out.append(
                        Change("device", device=Device(dev, props={"discovered": self.source}))
                    )
            new_id = _free_id(link_id(a, b), ids)
            ids.add(new_id)
            out.append(
                Change(
                    "added",
                    Link(
                        id=new_id,
                        a=a,
                        a_if=a_if,
                        b=b,
                        b_if=b_if,
                        source=self.source,
                        last_seen=seen.last_seen,
                    ),
                )
            )
        return out


def _free_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}#{n}" in taken:
        n += 1
    return f"{base}#{n}"


def apply(store: TopologyStore, changes: Sequence[Change], pending: list[Change]) -> list[Change]:
    """Write ``pending`` then ``changes`` to the store; returns what could not be written yet.

    An unreachable store (e.g. Neo4j restarting) raises inside; the changes are kept and
    returned so the caller retries them with the next round instead of losing them.
    """
    todo = [*pending, *changes]
    if not todo:
        return []
    devices = [c.device for c in todo if c.kind == "device" and c.device is not None]
    upserts = [c.link for c in todo if c.kind in ("added", "seen") and c.link is not None]
    removed = [c.link.id for c in todo if c.kind == "removed" and c.link is not None]
    try:
        store.load(devices=devices, links=upserts)
        for lk in removed:
            store.remove_link(lk)
    except GraphUnavailable:
        return todo
    return []
