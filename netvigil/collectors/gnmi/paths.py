"""What to subscribe to over gNMI, and what each OpenConfig leaf means: data tables.

A leaf is matched by its element names with the list keys left out (the keys, such as an
interface ``name`` or a neighbour's ``neighbor-address``, say *which* entity it is about).
Adding a vendor's native path is a row here, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["GET_PATHS", "LEAVES", "SUBSCRIPTIONS", "Leaf", "Subscription"]


@dataclass(frozen=True)
class Subscription:
    """One subscription of the STREAM: ``on_change`` where targets support it, else SAMPLE."""

    path: str
    mode: Literal["sample", "on_change"]


#: the default subscriptions (sample interval comes from the target's settings)
SUBSCRIPTIONS: Final[tuple[Subscription, ...]] = (
    Subscription("/interfaces/interface/state/counters", "sample"),
    Subscription("/interfaces/interface/state/oper-status", "on_change"),
    Subscription("/interfaces/interface/state/admin-status", "on_change"),
    Subscription("/interfaces/interface/state/high-speed", "on_change"),
    Subscription("/system/cpus/cpu/state/total", "sample"),
    Subscription(
        "/network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/state"
        "/session-state",
        "on_change",
    ),
)

#: what is fetched with Get at (re)connect: inventory
GET_PATHS: Final[tuple[str, ...]] = ("/system/state", "/interfaces/interface/state/high-speed")

LeafKind = Literal["counter", "oper", "admin", "speed_mbps", "cpu", "bgp_state", "inventory"]


@dataclass(frozen=True)
class Leaf:
    """What a leaf is: its kind, the name it gets, and which path key names the entity."""

    kind: LeafKind
    name: str
    entity_key: str = ""


_IF = "interfaces/interface/state"
_BGP = "network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/state"

#: element names joined by "/" (no keys) -> meaning
LEAVES: Final[dict[str, Leaf]] = {
    f"{_IF}/counters/in-octets": Leaf("counter", "in_octets", "name"),
    f"{_IF}/counters/out-octets": Leaf("counter", "out_octets", "name"),
    f"{_IF}/counters/in-discards": Leaf("counter", "in_discards", "name"),
    f"{_IF}/counters/out-discards": Leaf("counter", "out_discards", "name"),
    f"{_IF}/counters/in-errors": Leaf("counter", "in_errors", "name"),
    f"{_IF}/counters/out-errors": Leaf("counter", "out_errors", "name"),
    f"{_IF}/oper-status": Leaf("oper", "oper_status", "name"),
    f"{_IF}/admin-status": Leaf("admin", "admin_status", "name"),
    f"{_IF}/high-speed": Leaf("speed_mbps", "high_speed", "name"),
    "system/cpus/cpu/state/total/instant": Leaf("cpu", "instant", "index"),
    "system/cpus/cpu/state/total/avg": Leaf("cpu", "avg", "index"),
    f"{_BGP}/session-state": Leaf("bgp_state", "session_state", "neighbor-address"),
    "system/state/hostname": Leaf("inventory", "hostname"),
    "system/state/software-version": Leaf("inventory", "software_version"),
    "system/state/boot-time": Leaf("inventory", "boot_time"),
}
