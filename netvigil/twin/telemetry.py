"""What the twin's devices would answer if asked: per-device state built from its telemetry.

The twin's network model produces rates (bits per second) and status at each step; a real
device exposes cumulative counters (octets) and current state. :class:`TwinTelemetry`
observes the twin's events and integrates rates into counters, so the twin's protocol
endpoints (gNMI, and later SNMP) serve what a device would: counters that only grow, and
status that follows the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netvigil.events import DeviceEvent, Event, Metric
from netvigil.graph.base import TopologyStore

__all__ = ["DeviceState", "InterfaceState", "TwinTelemetry"]


@dataclass
class InterfaceState:
    name: str
    description: str
    speed_bps: float
    oper_up: bool = True
    in_octets: int = 0
    out_octets: int = 0
    out_discards: int = 0
    in_bps: float = 0.0
    out_bps: float = 0.0
    last_change_ns: int = 0


@dataclass
class DeviceState:
    name: str
    vendor: str
    role: str
    reachable: bool = True
    cpu: float = 0.0
    interfaces: dict[str, InterfaceState] = field(default_factory=dict)
    boot_ts: float = 0.0


class TwinTelemetry:
    """Per-device state of the twin, updated from the events its network produces."""

    def __init__(self, topo: TopologyStore, *, step_s: float, start: float) -> None:
        self.step_s = step_s
        self.now = start
        self.devices: dict[str, DeviceState] = {}
        for d in topo.devices():
            state = DeviceState(d.name, d.vendor, d.role, boot_ts=start)
            for iface in topo.interfaces(d.name):
                peer = ""
                if iface.link:
                    lk = topo.link(iface.link)
                    other = lk.other(d.name)
                    peer = f"to {other} {lk.end(other).partition(':')[2]}"
                speed = topo.link(iface.link).capacity_bps if iface.link else 0.0
                state.interfaces[iface.name] = InterfaceState(iface.name, peer, speed)
            self.devices[d.name] = state

    def ifindex(self, device: str, ifname: str) -> int:
        """The interface's ifIndex (1-based, in the order the device's links were defined)."""
        return list(self.devices[device].interfaces).index(ifname) + 1

    def loopback(self, device: str) -> str:
        """The device's management address on this machine's loopback network (127.1.x.y)."""
        i = sorted(self.devices).index(device)
        return f"127.1.{i // 254}.{i % 254 + 1}"

    def observe(self, event: Event) -> None:
        """Fold one twin event into the device state."""
        self.now = max(self.now, event.ts)
        if isinstance(event, Metric):
            dev = self.devices.get(event.device)
            if dev is None:
                return
            dev.reachable = True
            ifname = event.labels.get("interface")
            if ifname is None:
                if event.name == "cpu.util":
                    dev.cpu = event.value
                return
            iface = dev.interfaces.get(ifname)
            if iface is None:
                return
            if event.name == "if.out_bps":
                iface.out_bps = event.value
                iface.out_octets += int(event.value * self.step_s / 8)
            elif event.name == "if.in_bps":
                iface.in_bps = event.value
                iface.in_octets += int(event.value * self.step_s / 8)
            elif event.name == "if.out_discards":
                iface.out_discards += int(event.value * self.step_s)
            elif event.name == "if.oper_status":
                up = event.value >= 0.5
                if up != iface.oper_up:
                    iface.last_change_ns = int(event.ts * 1e9)
                iface.oper_up = up
        elif isinstance(event, DeviceEvent):
            dev = self.devices.get(event.device)
            if dev is None:
                return
            if event.kind == "unreachable":
                dev.reachable = False
            elif event.kind == "reachable":
                dev.reachable = True
                dev.boot_ts = event.ts  # it rebooted: uptime starts again
