"""The topology model and the TopologyStore interface every implementation passes.

Model: devices (with role, vendor, site), interfaces (``device:ifname``), and links between
two interfaces (``devA--devB``, with capacity and IGP metric). Entity ids follow
:mod:`netvigil.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Device", "Interface", "Link", "TopologyStore", "entity_devices"]


@dataclass(frozen=True)
class Device:
    name: str
    role: str = ""
    vendor: str = ""
    site: str = ""
    weight: float = 1.0
    """Relative traffic weight (gravity model of the twin)."""


@dataclass(frozen=True)
class Interface:
    id: str
    device: str
    name: str
    link: str | None = None


@dataclass(frozen=True)
class Link:
    id: str
    a: str
    a_if: str
    b: str
    b_if: str
    capacity_bps: float = 10e9
    igp_metric: int = 10
    props: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def end(self, device: str) -> str:
        """The interface id of this link on ``device``."""
        if device == self.a:
            return self.a_if
        if device == self.b:
            return self.b_if
        raise KeyError(f"{device} is not an end of {self.id}")

    def other(self, device: str) -> str:
        """The device at the other end from ``device``."""
        return self.b if device == self.a else self.a


class TopologyStore(Protocol):
    """What the other stages may ask of the topology."""

    def add_device(self, device: Device) -> None: ...

    def add_link(self, link: Link) -> None: ...

    def devices(self) -> list[Device]: ...

    def links(self) -> list[Link]: ...

    def device(self, name: str) -> Device:
        """Raises TopologyError for an unknown device."""
        ...

    def link(self, link_id: str) -> Link:
        """Raises TopologyError for an unknown link."""
        ...

    def interfaces(self, device: str) -> list[Interface]: ...

    def interface(self, interface_id: str) -> Interface:
        """Raises TopologyError for an unknown interface."""
        ...

    def links_of(self, device: str) -> list[Link]: ...

    def neighbors(self, device: str) -> list[str]: ...

    def hops(self, a: str, b: str) -> int | None:
        """Hop count between two devices; None if disconnected."""
        ...

    def k_hop(self, devices: set[str], k: int) -> set[str]:
        """Devices within ``k`` hops of any of ``devices`` (including them)."""
        ...

    def has(self, entity: str) -> bool:
        """Whether the entity (device, interface or link id) is known."""
        ...


def entity_devices(entity: str) -> tuple[str, ...]:
    """The device(s) an entity id is on: one for a device or interface, two for a link."""
    if "--" in entity:
        a, _, b = entity.partition("--")
        return (a, b.partition("#")[0])
    return (entity.partition(":")[0],)
