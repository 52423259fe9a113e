"""The log analytics processor: syslog records in, new-template and template-rate anomalies out.

One mining domain (key ``all``): templates are shared by every device, so a message seen first
on one router is not "new" on the next. Per message: mine its template
(:class:`~netvigil.analytics.logmining.LogMiner`), and

- a **new template** after ``warmup`` lines is an anomaly (``new_template``), published as an
  opened-and-cleared pair: it is a point in time, not a state. Its fault category comes from the
  classifier passed in (MiniLM) or from keywords;
- a **novelty storm**, ``storm_new`` new templates within ``storm_window_s`` of event time, is
  one ``novelty_storm`` anomaly (opened once, cleared when the window holds fewer than a
  quarter of that), and while it lasts new templates are neither reported one by one nor
  classified: the cost of novelty is bounded by ``storm_new`` classifications per window;
- the **rate** of each (device, template) is counted per ``bucket_s`` of event time from the
  template's second message on; when a bucket closes its count is scored by a
  :class:`~netvigil.analytics.seasonal.SeasonalScorer` and a ``log_rate`` anomaly opens at score
  >= 0.5 and clears below 0.3 (hysteresis).

Classification never runs per line: the templates a message made new are classified in one
batch, in a worker thread (the event loop keeps serving the collectors), and each template's
category is cached. Memory is bounded: at most ``max_templates`` templates (least recently
used evicted, counted in :meth:`LogProcessor.stats`), ``max_rates`` rate series and a novelty
window of ``storm_new`` entries.

The entity is the interface the collector extracted (``fields["interface"]``) or the device.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netvigil.analytics.categories import keyword_category
from netvigil.analytics.logmining import LogMiner, Mined, MinerConfig
from netvigil.analytics.seasonal import ScorerConfig, SeasonalScorer
from netvigil.events import Anomaly, Event, LogRecord, interface_id
from netvigil.streams.base import Processor

__all__ = ["BatchClassifier", "Classifier", "LogProcessor", "LogState"]


class Classifier(Protocol):
    def classify(self, template: str) -> tuple[str, float]: ...


class BatchClassifier(Classifier, Protocol):
    def classify_many(self, templates: Sequence[str]) -> list[tuple[str, float]]: ...


@dataclass
class _Rate:
    bucket: float
    count: int
    scorer: SeasonalScorer
    open: bool = False


@dataclass
class _Storm:
    onset: float
    entity: str
    device: str
    new: int = 0


@dataclass
class LogState:
    miner: LogMiner = field(default_factory=LogMiner)
    lines: int = 0
    rates: OrderedDict[tuple[str, int], _Rate] = field(default_factory=OrderedDict)
    novelty: deque[tuple[float, str]] = field(default_factory=deque)
    """(event time, device) of the latest new templates, at most ``storm_new``."""
    storm: _Storm | None = None
    storms: int = 0


class LogProcessor(Processor[LogState]):
    name = "log-analytics"
    inputs = ("netvigil.logs",)
    outputs = ("netvigil.anomalies",)

    def __init__(
        self,
        classifier: Classifier | None = None,
        *,
        warmup: int = 1000,
        bucket_s: float = 60.0,
        max_rates: int = 10_000,
        max_templates: int = 10_000,
        storm_new: int = 50,
        storm_window_s: float = 60.0,
    ) -> None:
        self.classifier = classifier
        self.warmup = warmup
        self.bucket_s = bucket_s
        self.max_rates = max_rates
        self.max_templates = max_templates
        self.storm_new = storm_new
        self.storm_window_s = storm_window_s
        self.classified = 0
        """Templates classified by the classifier passed in (not by keywords)."""
        self._state: LogState | None = None

    def key(self, event: Event) -> str:
        return "all"

    def new_state(self) -> LogState:
        self._state = LogState(miner=LogMiner(MinerConfig(max_templates=self.max_templates)))
        return self._state

    def stats(self) -> dict[str, int]:
        """Counters for the metrics endpoint: templates kept, evicted and merged, open rate
        series, novelty storms raised, templates classified."""
        st = self._state
        if st is None:
            return {"templates": 0, "evicted": 0, "merged": 0, "rates": 0, "storms": 0}
        return {
            "templates": len(st.miner),
            "evicted": st.miner.evicted,
            "merged": st.miner.merged,
            "rates": len(st.rates),
            "storms": st.storms,
            "classified": self.classified,
        }

    async def _categories(self, templates: Sequence[str]) -> list[tuple[str, float]]:
        """Categories of templates: one batch in a worker thread for the classifier passed in."""
        c = self.classifier
        if c is None:
            return [keyword_category(t) for t in templates]
        self.classified += len(templates)
        many = getattr(c, "classify_many", None)
        if many is not None:
            return list(await asyncio.to_thread(many, list(templates)))
        return await asyncio.to_thread(lambda: [c.classify(t) for t in templates])

    async def process(self, event: Event, state: LogState) -> Sequence[Event]:
        if not isinstance(event, LogRecord) or not event.message.strip():
            return []
        mined = state.miner.add(event.message)
        state.lines += 1
        ifname = event.fields.get("interface")
        entity = interface_id(event.device, ifname) if ifname else event.device
        out: list[Event] = []
        if mined.is_new and state.lines > self.warmup:
            out += await self._novel(event, entity, mined, state)
        elif state.storm is not None:
            out += self._storm_end(event, state)
        if mined.size >= 2:  # a template seen once has no rate yet
            out += await self._rate(event, entity, mined.template_id, mined.template, state)
        return out

    async def _novel(
        self, event: LogRecord, entity: str, mined: Mined, state: LogState
    ) -> list[Event]:
        """A new template: one anomaly, or part of a storm (one anomaly for all of it)."""
        window = state.novelty
        window.append((event.ts, event.device))
        while window and (
            len(window) > self.storm_new or window[0][0] < event.ts - self.storm_window_s
        ):
            window.popleft()
        storm = state.storm
        if storm is not None:
            storm.new += 1
            return []
        if len(window) >= self.storm_new:
            device, _ = Counter(d for _, d in window).most_common(1)[0]
            storm = state.storm = _Storm(window[0][0], device, device, len(window))
            state.storms += 1
            return [self._storm_anomaly(event, storm, "active", state)]
        ((cat, conf),) = await self._categories([mined.template])
        return [
            self._anomaly(
                event, entity, mined.template_id, "new_template", 0.6, st, mined.template, cat, conf
            )
            for st in ("active", "cleared")
        ]

    def _storm_end(self, event: LogRecord, state: LogState) -> list[Event]:
        window = state.novelty
        while window and window[0][0] < event.ts - self.storm_window_s:
            window.popleft()
        storm = state.storm
        if storm is None or len(window) >= max(1, self.storm_new // 4):
            return []
        state.storm = None
        return [self._storm_anomaly(event, storm, "cleared", state)]

    def _storm_anomaly(self, event: LogRecord, storm: _Storm, st: str, state: LogState) -> Anomaly:
        return Anomaly(
            ts=event.ts,
            device=storm.device,
            entity=storm.entity,
            signal="log:novelty",
            kind="novelty_storm",
            score=0.8 if st == "active" else 0.0,
            state="active" if st == "active" else "cleared",
            onset_ts=storm.onset,
            value=float(storm.new),
            detector="logs:novelty_storm",
            evidence={
                "new_templates": str(storm.new),
                "window_s": f"{self.storm_window_s:g}",
                "templates_kept": str(len(state.miner)),
                "templates_evicted": str(state.miner.evicted),
            },
        )

    async def _rate(
        self, event: LogRecord, entity: str, tid: int, template: str, state: LogState
    ) -> list[Event]:
        key = (event.device, tid)
        bucket = event.ts - event.ts % self.bucket_s
        r = state.rates.get(key)
        if r is None:
            r = state.rates[key] = _Rate(bucket, 0, SeasonalScorer(ScorerConfig(warmup=10)))
            if len(state.rates) > self.max_rates:
                state.rates.popitem(last=False)
        state.rates.move_to_end(key)
        out: list[Event] = []
        while r.bucket < bucket:  # close the finished buckets (empty ones count as 0)
            v = r.scorer.update(r.bucket, float(r.count))
            if not r.open and v.score >= 0.5 and v.z > 0:
                r.open = True
                ((cat, conf),) = await self._categories([template])
                out.append(
                    self._anomaly(
                        event,
                        entity,
                        tid,
                        "log_rate",
                        v.score,
                        "active",
                        template,
                        cat,
                        conf,
                        count=r.count,
                        expected=v.expected,
                    )
                )
            elif r.open and v.score < 0.3:
                r.open = False
                out.append(
                    self._anomaly(
                        event,
                        entity,
                        tid,
                        "log_rate",
                        0.0,
                        "cleared",
                        template,
                        "",
                        0.0,
                        count=r.count,
                    )
                )
            r.count = 0
            r.bucket = (
                bucket if bucket - r.bucket > 60 * self.bucket_s else r.bucket + self.bucket_s
            )
        r.count += 1
        return out

    def _anomaly(
        self,
        e: LogRecord,
        entity: str,
        tid: int,
        kind: str,
        score: float,
        st: str,
        template: str,
        category: str,
        confidence: float,
        *,
        count: int | None = None,
        expected: float | None = None,
    ) -> Anomaly:
        evidence = {"template": template, "template_id": str(tid)}
        if category:
            evidence |= {"category": category, "category_confidence": f"{confidence:.2f}"}
        return Anomaly(
            ts=e.ts,
            device=e.device,
            entity=entity,
            signal=f"log:{tid}",
            kind=kind,
            score=round(score, 4),
            state="active" if st == "active" else "cleared",
            onset_ts=e.ts,
            value=float(count) if count is not None else None,
            expected=expected,
            detector=f"logs:{kind}",
            evidence=evidence,
        )
