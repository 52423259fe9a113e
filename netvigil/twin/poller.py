"""The twin's SNMP poller: whose polls fail at a step, and the verdicts a poller gives on them.

A device's poll fails at a step when the device is down or cut off from the poller
(``silent``), when the poller itself is overloaded (``late``: a ``poller_overload`` fault; the
verdict carries the ``poller_overload`` mark, as :mod:`netvigil.collectors.snmp.health` gives
it), or in a lone timeout (``lone``: a ``poll_timeouts`` fault; see :func:`lone_timeouts`).
As the real poller does (:class:`netvigil.collectors.snmp.poller.SnmpPoller`,
``snmp.down_after``), a device is reported ``unreachable`` only after ``down_after`` failed
polls in a row, and ``reachable`` at its first answer after that.

A verdict is one of three states: up, down (silent or lone) and late (overloaded, marked). A
device that goes from late to down is reported ``unreachable`` again, without the mark, and
one that goes from down to late is reported ``reachable`` then marked ``unreachable``: the
twin keeps the two causes apart so that a fault during an overload burst is still seen (the
real poller, which already holds the device unreachable, would say nothing new).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from netvigil.events import POLLER_OVERLOAD, DeviceEvent
from netvigil.twin.faults import POLL_TIMEOUT_AGAIN, Fault

__all__ = ["PollVerdicts", "lone_timeouts"]

_UP, _DOWN, _LATE = "up", "down", "late"


def _draw(*parts: object) -> float:
    """A uniform draw in [0, 1) that is a function of ``parts`` (same seed, same telemetry)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 2**32


def lone_timeouts(
    faults: Iterable[Fault], devices: Iterable[str], t: float, before: frozenset[str]
) -> frozenset[str]:
    """Devices whose poll times out alone at ``t`` under the active ``poll_timeouts`` faults:
    each device's poll with probability ``magnitude`` per step, and one that timed out at the
    step before (``before``) again with probability :data:`POLL_TIMEOUT_AGAIN`; the device
    and the network are fine (a loaded poller or agent answering too late)."""
    active = [f for f in faults if f.kind == "poll_timeouts"]
    if not active:
        return frozenset()
    out = set()
    for dev in devices:
        for f in active:
            if _draw(dev, t, f.start) < f.magnitude or (
                dev in before and _draw(dev, t, f.start, "again") < POLL_TIMEOUT_AGAIN
            ):
                out.add(dev)
                break
    return frozenset(out)


@dataclass
class PollVerdicts:
    """Each device's verdict, from its failed polls in a row (see the module doc)."""

    devices: Sequence[str]
    down_after: int = 1
    failures: dict[str, int] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)

    def down(self, dev: str) -> bool:
        """Whether ``dev`` is reported unreachable (not by an overloaded poller)."""
        return self.state.get(dev, _UP) == _DOWN

    def step(
        self, t: float, silent: frozenset[str], late: frozenset[str], lone: frozenset[str]
    ) -> tuple[list[DeviceEvent], list[DeviceEvent]]:
        """The verdicts that change at ``t``, in two lists: those of devices going down or
        coming back; then the overloaded poller's (marked) ones followed by the devices
        answering again after being late. Each in device order."""
        plain: list[DeviceEvent] = []
        marked: list[DeviceEvent] = []
        back: list[DeviceEvent] = []  # from late to up, after the marked ones
        mark = {POLLER_OVERLOAD: f"{len(late)} of {len(self.devices)} targets late"}
        for dev in sorted(self.devices):
            failed = dev in silent or dev in late or dev in lone
            n = self.failures[dev] = self.failures.get(dev, 0) + 1 if failed else 0
            was = self.state.get(dev, _UP)
            if n == 0:
                now = _UP
            elif n < self.down_after:
                now = was
            else:
                now = _LATE if dev in late else _DOWN
            if now == was:
                continue
            self.state[dev] = now
            if now == _DOWN:
                plain.append(self._event(t, dev, "unreachable"))
            elif now == _LATE:
                if was == _DOWN:
                    plain.append(self._event(t, dev, "reachable"))
                marked.append(self._event(t, dev, "unreachable", mark))
            else:
                (back if was == _LATE else plain).append(self._event(t, dev, "reachable"))
        return plain, marked + back

    @staticmethod
    def _event(t: float, dev: str, kind: str, attrs: dict[str, str] | None = None) -> DeviceEvent:
        return DeviceEvent(ts=t, device=dev, kind=kind, source="twin-poller", attrs=attrs or {})
