"""The detection processor: metrics and device events in, anomalies out, keyed by device."""

from __future__ import annotations

from collections.abc import Sequence

from netvigil.analytics.detector import DetectorConfig, SeriesDetector, Transition
from netvigil.events import Anomaly, DeviceEvent, Event, Metric
from netvigil.streams.base import Processor

__all__ = ["DetectorProcessor"]

#: device events that are status changes: kind -> (signal, up?)
STATUS_EVENTS: dict[str, tuple[str, bool]] = {
    "link_down": ("if.oper_status", False),
    "link_up": ("if.oper_status", True),
    "unreachable": ("reachability", False),
    "reachable": ("reachability", True),
}

DeviceState = dict[str, SeriesDetector]


class DetectorProcessor(Processor[DeviceState]):
    name = "detector"
    inputs = ("netvigil.metrics", "netvigil.events")
    outputs = ("netvigil.anomalies",)

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()

    def new_state(self) -> DeviceState:
        return {}

    async def process(self, event: Event, state: DeviceState) -> Sequence[Event]:
        if isinstance(event, Metric):
            key = f"{event.entity}|{event.name}"
            det = state.get(key)
            if det is None:
                det = state[key] = SeriesDetector.for_signal(event.name, self.cfg)
            tr = det.observe(event.ts, event.value, self.cfg)
            return (
                [self._anomaly(event.device, event.entity, event.name, tr, event.ts)] if tr else []
            )
        if isinstance(event, DeviceEvent) and event.kind in STATUS_EVENTS:
            signal, up = STATUS_EVENTS[event.kind]
            entity = event.entity or event.device
            key = f"{entity}|{signal}"
            det = state.get(key)
            if det is None:
                det = state[key] = SeriesDetector.for_signal(signal, self.cfg)
            tr = det.force(event.ts, up, self.cfg)
            return [self._anomaly(event.device, entity, signal, tr, event.ts)] if tr else []
        return []

    def _anomaly(self, device: str, entity: str, signal: str, tr: Transition, ts: float) -> Anomaly:
        evidence = {"z": f"{tr.z:.2f}"} if tr.z is not None else {}
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
