"""The log analytics processor: syslog records in, new-template and template-rate anomalies out.

One mining domain (key ``all``): templates are shared by every device, so a message seen first
on one router is not "new" on the next. Per message: mine its template
(:class:`~netvigil.analytics.logmining.LogMiner`), classify the template into a fault category
(keywords by default; the MiniLM classifier when one is passed in), and

- a **new template** after ``warmup`` lines is an anomaly (``new_template``), published as an
  opened-and-cleared pair: it is a point in time, not a state;
- the **rate** of each (device, template) is counted per ``bucket_s`` of event time; when a
  bucket closes its count is scored by a :class:`~netvigil.analytics.seasonal.SeasonalScorer`
  and a ``log_rate`` anomaly opens at score >= 0.5 and clears below 0.3 (hysteresis).

The entity is the interface the collector extracted (``fields["interface"]``) or the device.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netvigil.analytics.categories import keyword_category
from netvigil.analytics.logmining import LogMiner
from netvigil.analytics.seasonal import ScorerConfig, SeasonalScorer
from netvigil.events import Anomaly, Event, LogRecord, interface_id
from netvigil.streams.base import Processor

__all__ = ["Classifier", "LogProcessor", "LogState"]


class Classifier(Protocol):
    def classify(self, template: str) -> tuple[str, float]: ...


@dataclass
class _Rate:
    bucket: float
    count: int
    scorer: SeasonalScorer
    open: bool = False


@dataclass
class LogState:
    miner: LogMiner = field(default_factory=LogMiner)
    lines: int = 0
    rates: OrderedDict[tuple[str, int], _Rate] = field(default_factory=OrderedDict)


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
        max_rates: int = 100_000,
    ) -> None:
        self.classifier = classifier
        self.warmup = warmup
        self.bucket_s = bucket_s
        self.max_rates = max_rates

    def key(self, event: Event) -> str:
        return "all"

    def new_state(self) -> LogState:
        return LogState()

    def _category(self, template: str) -> tuple[str, float]:
        return self.classifier.classify(template) if self.classifier else keyword_category(template)

    async def process(self, event: Event, state: LogState) -> Sequence[Event]:
        if not isinstance(event, LogRecord) or not event.message.strip():
            return []
        mined = state.miner.add(event.message)
        state.lines += 1
        ifname = event.fields.get("interface")
        entity = interface_id(event.device, ifname) if ifname else event.device
        out: list[Event] = []
        if mined.is_new and state.lines > self.warmup:
            cat, conf = self._category(mined.template)
            for st in ("active", "cleared"):
                out.append(
                    self._anomaly(
                        event,
                        entity,
                        mined.template_id,
                        "new_template",
                        0.6,
                        st,
                        mined.template,
                        cat,
                        conf,
                    )
                )
        out += self._rate(event, entity, mined.template_id, mined.template, state)
        return out

    def _rate(
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
                cat, conf = self._category(template)
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
