"""The detection processor: metrics and device events in, anomalies out, keyed by device.

Per series it runs :class:`~netvigil.analytics.detector.SeriesDetector` (status, threshold and
the seasonal calibrated score, with minimum duration and hysteresis); per entity it folds
further alerts into the one already open (:class:`~netvigil.analytics.hygiene.EntityDedup`),
so a down interface is one anomaly, not also a traffic deviation on the same interface.
An interface's packet rate (``if.in_pkts``, else ``if.in_bps`` over the mean packet size:
:func:`~netvigil.analytics.detector.packet_rate`) is kept for its ``if.in_errors`` series,
whose check also judges the errors' share of the packets (a slow link's loss).
A status event's ``poller_overload`` attribute (an unreachable verdict the SNMP poller gave
while overloaded) goes into its anomaly's evidence, for the correlator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.analytics.detector import DetectorConfig, SeriesDetector, Transition, packet_rate
from netvigil.analytics.hygiene import EntityDedup
from netvigil.events import POLLER_OVERLOAD, Anomaly, DeviceEvent, Event, Metric
from netvigil.streams.base import Processor

__all__ = ["DetectorProcessor", "DeviceState"]

#: device events that are status changes: kind -> (signal, up?)
STATUS_EVENTS: dict[str, tuple[str, bool]] = {
    "link_down": ("if.oper_status", False),
    "link_up": ("if.oper_status", True),
    "unreachable": ("reachability", False),
    "reachable": ("reachability", True),
}


@dataclass
class DeviceState:
    """Detectors of one device's series and its per-entity de-duplication."""

    series: dict[str, SeriesDetector] = field(default_factory=dict)
    dedup: EntityDedup = field(default_factory=EntityDedup)
    pps: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Per interface: its last packets received per second, and whether they were counted
    (``if.in_pkts``, which wins) or estimated from bits."""

    def __setstate__(self, d: dict[str, object]) -> None:
        """State pickled (Kafka changelogs) before packet rates were kept has no ``pps``."""
        self.__dict__.update({"pps": {}, **d})

    def get(self, key: str) -> SeriesDetector | None:
        return self.series.get(key)


class DetectorProcessor(Processor[DeviceState]):
    name = "detector"
    inputs = ("netvigil.metrics", "netvigil.events")
    outputs = ("netvigil.anomalies",)

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()

    def new_state(self) -> DeviceState:
        return DeviceState()

    async def process(self, event: Event, state: DeviceState) -> Sequence[Event]:
        if isinstance(event, Metric):
            return self._observe(
                state, event.device, event.entity, event.name, event.ts, event.value
            )
        if isinstance(event, DeviceEvent) and event.kind in STATUS_EVENTS:
            signal, up = STATUS_EVENTS[event.kind]
            entity = event.entity or event.device
            said = {k: str(v) for k, v in event.attrs.items() if k == POLLER_OVERLOAD}
            return self._observe(
                state, event.device, entity, signal, event.ts, 1.0 if up else 0.0, said
            )
        return []

    def _observe(
        self,
        state: DeviceState,
        device: str,
        entity: str,
        signal: str,
        ts: float,
        value: float,
        said: dict[str, str] | None = None,
    ) -> list[Event]:
        rate = packet_rate(signal, value)
        if rate is not None and (signal == "if.in_pkts" or not state.pps.get(entity, (0, 0))[1]):
            state.pps[entity] = (rate, signal == "if.in_pkts")
        key = f"{entity}|{signal}"
        det = state.series.get(key)
        if det is None:
            det = state.series[key] = SeriesDetector.for_signal(signal, self.cfg)
        pps = state.pps.get(entity, (None, False))[0] if signal == "if.in_errors" else None
        tr = det.observe(ts, value, self.cfg, pps)
        if tr is None:
            return []
        if tr.state == "active":
            if not state.dedup.admit_open(entity, signal, foldable=tr.kind == "deviation"):
                return []
        elif not state.dedup.admit_clear(entity, signal):
            return []
        anomaly = self._anomaly(device, entity, signal, tr, ts, state.dedup.also(entity), said)
        return [anomaly]

    def _anomaly(
        self,
        device: str,
        entity: str,
        signal: str,
        tr: Transition,
        ts: float,
        also: list[str],
        said: dict[str, str] | None,
    ) -> Anomaly:
        evidence = {**dict(tr.explain), **(said or {})}
        if tr.z is not None:
            evidence["z"] = f"{tr.z:.2f}"
        if also:
            evidence["also"] = ",".join(also)
        return Anomaly(
            ts=ts,
            device=device,
            entity=entity,
            signal=signal,
            kind=tr.kind,
            score=round(tr.score, 4),
            state=tr.state,
            onset_ts=tr.onset_ts,
            value=tr.value,
            expected=tr.expected,
            band=tr.band,
            detector=f"online:{tr.kind}",
            evidence=evidence,
        )
