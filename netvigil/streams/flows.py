"""The flow analytics processor: ``netvigil.flows`` in, metrics and volumetric anomalies out.

Keyed by exporter (the topic's key). Per closed window (:mod:`netvigil.analytics.flows`) it
publishes, as metrics on ``netvigil.metrics`` (device = exporter, ``interface`` label =
ifIndex): ``flow.in_bps`` / ``flow.out_bps`` per interface, ``flow.in_util`` /
``flow.out_util`` where the speed is known, and ``flow.bps`` for the exporter; and a
``volumetric`` anomaly on ``netvigil.anomalies`` when the exporter's traffic departs from its
learned (seasonal) normal, with the window's top talkers as evidence. The latest top talkers
of each exporter are kept in its state for the console.
"""

from __future__ import annotations

from collections.abc import Sequence

from netvigil.analytics.flows import ExporterFlows, FlowConfig, WindowReport
from netvigil.events import Anomaly, Event, FlowRecord, Metric
from netvigil.streams.base import Processor

__all__ = ["FlowAnalyticsProcessor"]


class FlowAnalyticsProcessor(Processor[ExporterFlows]):
    name = "flow-analytics"
    inputs = ("netvigil.flows",)
    outputs = ("netvigil.metrics", "netvigil.anomalies")

    def __init__(self, cfg: FlowConfig | None = None) -> None:
        self.cfg = cfg or FlowConfig()

    def new_state(self) -> ExporterFlows:
        return ExporterFlows("", self.cfg)  # the exporter is named by its first record

    async def process(self, event: Event, state: ExporterFlows) -> Sequence[Event]:
        if not isinstance(event, FlowRecord) or event.options:
            return []
        state.exporter = state.exporter or event.exporter
        out: list[Event] = []
        for report in state.add(event.ts, event.fields):
            out.extend(self._events(event.exporter, report))
        return out

    def _events(self, exporter: str, r: WindowReport) -> list[Event]:
        out: list[Event] = [
            Metric(ts=r.end, device=exporter, name="flow.bps", value=r.total_bps, unit="bit/s")
        ]
        for (ifindex, direction), bps in sorted(r.if_bps.items()):
            labels = {"interface": ifindex}
            out.append(
                Metric(
                    ts=r.end,
                    device=exporter,
                    name=f"flow.{direction}_bps",
                    value=bps,
                    unit="bit/s",
                    labels=labels,
                )
            )
            util = r.if_util.get((ifindex, direction))
            if util is not None:
                out.append(
                    Metric(
                        ts=r.end,
                        device=exporter,
                        name=f"flow.{direction}_util",
                        value=util,
                        unit="ratio",
                        labels=labels,
                    )
                )
        tr = r.transition
        if tr is not None:
            evidence = {
                "top_src": ",".join(f"{k}={v:.0f}" for k, v in r.top_src),
                "top_dst": ",".join(f"{k}={v:.0f}" for k, v in r.top_dst),
                "window_s": f"{r.end - r.start:.0f}",
            }
            if tr.z is not None:
                evidence["z"] = f"{tr.z:.2f}"
            out.append(
                Anomaly(
                    ts=r.end,
                    device=exporter,
                    entity=exporter,
                    signal="flow.bps",
                    kind="volumetric",
                    score=round(tr.score, 4),
                    state=tr.state,
                    onset_ts=tr.onset_ts,
                    value=tr.value,
                    expected=tr.expected,
                    band=tr.band,
                    detector="flows:volumetric",
                    evidence=evidence,
                )
            )
        return out
