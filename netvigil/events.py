"""The event contract: the only module every stage shares.

Every event is an immutable, versioned msgspec struct. On the wire it is compact JSON with two
header fields, ``type`` (the tag below) and ``v`` (the schema version). Each event belongs to
exactly one topic, and each topic has a key function (what Kafka partitions by).

Timestamps (``ts``) are *event time*: seconds since the Unix epoch, or since the twin's
simulated epoch. Processors must use them, never the wall clock, so that replaying the same
events gives the same incidents.

Entity names: a device is its name as in the topology (``"core1"``); an interface is
``"<device>:<ifname>"`` (:func:`interface_id`); a link is ``"<devA>--<devB>"`` with the two
device names in sorted order (:func:`link_id`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import msgspec

from netvigil.errors import EventDecodeError

__all__ = [
    "ALL_TOPICS",
    "POLLER_OVERLOAD",
    "SCHEMA_VERSION",
    "TOPICS",
    "ActionRequest",
    "ActionResult",
    "Anomaly",
    "AnomalyRef",
    "AuditRecord",
    "DeadLetter",
    "DeviceEvent",
    "Event",
    "EventDecodeError",
    "Feedback",
    "FieldValue",
    "FlowRecord",
    "FlowTemplate",
    "Forecast",
    "Incident",
    "LogRecord",
    "Metric",
    "Pattern",
    "Risk",
    "RootCause",
    "Sample",
    "Severity",
    "TemplateField",
    "Topic",
    "Watch",
    "decode",
    "decode_many",
    "encode",
    "interface_id",
    "key_of",
    "link_id",
    "split_interface_id",
    "topic_of",
]

#: The schema version this code writes. Decoding accepts every version in ``_ACCEPTED``.
SCHEMA_VERSION: Final = 1
_ACCEPTED: Final = frozenset({1})

FieldValue: TypeAlias = int | float | str | bool | None
"""A flow or attribute value: IPFIX elements decode to one of these."""

Severity: TypeAlias = Literal["critical", "major", "minor", "warning", "info"]

POLLER_OVERLOAD: Final = "poller_overload"
"""The attribute of an ``unreachable`` device event, and the evidence key of its anomaly, that
says the poller gave it while overloaded (its own health, not the device's: see
:mod:`netvigil.collectors.snmp.health`); the correlator opens no incident on it alone."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event: a schema version and an event time."""

    ts: float
    v: int = SCHEMA_VERSION


# --------------------------------------------------------------------------- telemetry


class Metric(Event, frozen=True, kw_only=True, tag="metric"):
    """One sample of one series. Counters are already turned into rates by the collector."""

    device: str
    name: str
    value: float
    unit: str = ""
    labels: dict[str, str] = {}

    @property
    def series(self) -> str:
        """A stable identifier of the series: device, name and sorted labels."""
        if not self.labels:
            return f"{self.device}|{self.name}"
        lbl = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.device}|{self.name}|{lbl}"

    @property
    def entity(self) -> str:
        """The entity the sample is about: an interface if labelled with one, else the device."""
        ifname = self.labels.get("interface")
        return interface_id(self.device, ifname) if ifname else self.device


class LogRecord(Event, frozen=True, kw_only=True, tag="log"):
    """A parsed syslog message (RFC 5424 or 3164), with vendor fields as structured data."""

    device: str
    facility: int | None = None
    severity: int | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    message: str = ""
    rfc: Literal["5424", "3164"] | None = None
    source: str = ""
    structured_data: dict[str, dict[str, str]] = {}
    fields: dict[str, str] = {}
    """Vendor knowledge extracted from the message: mnemonic, interface, neighbor, state, ..."""


class FlowRecord(Event, frozen=True, kw_only=True, tag="flow"):
    """One flow (or options) data record; ``fields`` uses IANA IPFIX element names."""

    exporter: str
    version: int
    fields: dict[str, FieldValue] = {}
    options: bool = False
    sampling_rate: int = 1
    """Counts in ``fields`` are already multiplied by this rate."""
    protocol: str = ""
    """``netflow5``, ``netflow9``, ``ipfix`` or ``sflow5`` (sFlow and NetFlow v5 both say 5)."""


class TemplateField(msgspec.Struct, frozen=True, array_like=True):
    """One field specifier of a NetFlow v9 / IPFIX template."""

    element_id: int
    length: int
    enterprise: int = 0


class FlowTemplate(Event, frozen=True, kw_only=True, tag="flow_template"):
    """A NetFlow v9 / IPFIX (options) template, shared through a compacted topic."""

    exporter: str
    version: int
    domain: int
    template_id: int
    fields: list[TemplateField] = []
    scope_count: int = 0
    """Number of scope fields for an options template; 0 for a data template."""
    withdrawn: bool = False


class DeviceEvent(Event, frozen=True, kw_only=True, tag="device_event"):
    """Something a device said or a collector noticed: traps, oper-status, target up/down."""

    device: str
    kind: str
    """E.g. ``link_down``, ``link_up``, ``unreachable``, ``reachable``, ``bgp_down``, ``trap``."""
    entity: str = ""
    """The entity concerned (interface id, neighbor); empty means the device itself."""
    source: str = ""
    attrs: dict[str, str] = {}


# --------------------------------------------------------------------------- analytics


class Forecast(msgspec.Struct, frozen=True, kw_only=True):
    """A predicted threshold crossing."""

    threshold: float
    predicted_ts: float
    lead_time_s: float
    uncertainty_s: float = 0.0


class Anomaly(Event, frozen=True, kw_only=True, tag="anomaly"):
    """A detector's verdict on one signal of one entity, opened or cleared."""

    device: str
    entity: str
    signal: str
    kind: str
    """E.g. ``down``, ``unreachable``, ``threshold``, ``deviation``, ``predicted_congestion``."""
    score: float
    """Calibrated to [0, 1]."""
    state: Literal["active", "cleared"] = "active"
    onset_ts: float | None = None
    value: float | None = None
    expected: float | None = None
    band: tuple[float, float] | None = None
    detector: str = ""
    evidence: dict[str, str] = {}
    forecast: Forecast | None = None


class AnomalyRef(msgspec.Struct, frozen=True, kw_only=True):
    """An anomaly as carried inside an incident."""

    entity: str
    signal: str
    kind: str
    score: float
    onset_ts: float
    state: Literal["active", "cleared"] = "active"


class RootCause(msgspec.Struct, frozen=True, kw_only=True):
    """One ranked root-cause candidate."""

    entity: str
    kind: Literal["device", "link", "interface", "service"]
    score: float
    """Confidence in [0, 1]."""
    fault: str = ""
    """What is wrong with it, when known: ``down``, ``congestion``, ..."""
    evidence: list[str] = []


class Incident(Event, frozen=True, kw_only=True, tag="incident"):
    """One incident per root cause; updated (``revision`` + 1) as evidence arrives."""

    fingerprint: str
    status: Literal["open", "resolved"]
    revision: int
    opened_ts: float
    title: str
    severity: Severity = "major"
    root_causes: list[RootCause] = []
    anomalies: list[AnomalyRef] = []
    impact: list[str] = []
    """Entities affected (devices, links, services), excluding the root cause."""
    summary: str = ""
    services: list[str] = []
    """Services hurt: those whose SLO burns in this incident and those whose path crosses the
    root cause (cross-domain correlation)."""
    slos: list[str] = []
    """SLOs whose error budget burns in this incident, as ``service:kind`` (e.g.
    ``shop:success``); a breach raises the incident's severity."""
    suppressed: str = ""
    """The suppression (an operator judged this pattern false) that holds this incident back:
    it is not opened, ticketed or acted on; empty for every incident that is."""

    @property
    def root_cause(self) -> RootCause | None:
        return self.root_causes[0] if self.root_causes else None


class Risk(Event, frozen=True, kw_only=True, tag="risk"):
    """A predicted harm: a condition expected to hurt, with its time to impact.

    Opened from a prediction (a congestion forecast, an interface's error share rising toward
    its harm share, an SLO's error budget heading for exhaustion), revised as the forecast
    moves, ``materialized`` when the harm came (the threshold was crossed), ``cleared`` when
    the prediction no longer holds. Whether it was right is decided downstream (the
    resolvers' track record), not here."""

    risk_id: str
    """Stable: a hash of the entity, signal and the prediction's onset."""
    status: Literal["open", "materialized", "cleared"]
    revision: int
    kind: Literal["congestion", "link_errors", "slo_budget"]
    device: str
    entity: str
    """What is predicted to cross its threshold: an interface id, or a service name."""
    signal: str
    opened_ts: float
    predicted_ts: float
    """When the harm is expected (the deadline of a preemptive change)."""
    confidence: float
    """In [0, 1]: how sure the prediction is (narrow uncertainty relative to the lead)."""
    threshold: float = 0.0
    level: float | None = None
    """The signal's value (smoothed) when the forecast was made."""
    trend_per_s: float | None = None
    uncertainty_s: float = 0.0
    entities: list[str] = []
    """Entities the harm would hurt: the link, its interfaces and devices."""
    services: list[str] = []
    """Services whose path crosses what would be hurt."""
    evidence: dict[str, str] = {}

    @property
    def time_to_impact_s(self) -> float:
        return max(self.predicted_ts - self.ts, 0.0)


class Pattern(msgspec.Struct, frozen=True, kw_only=True):
    """What an operator judged false: anomalies of ``kind`` on ``signal`` of ``entity``,
    with an onset inside a daily window (minutes after midnight UTC; ``-1`` = any time)."""

    entity: str
    signal: str
    kind: str
    start_min: int = -1
    end_min: int = -1


class Feedback(Event, frozen=True, kw_only=True, tag="feedback"):
    """An operator's judgement reaching the analytics: a suppression made or lifted.

    ``verdict`` ``suppress`` starts holding back incidents that match ``pattern`` (an
    operator, or a ticket's close code, marked one false); ``lift`` ends suppression
    ``suppression``. Published by the coordinator, read by the correlator (a declared
    feedback input)."""

    suppression: str
    verdict: Literal["suppress", "lift"]
    subject: str = ""
    """The incident or risk that was judged."""
    actor: str = ""
    reason: str = ""
    pattern: Pattern | None = None


# --------------------------------------------------------------------------- resolvers


class ActionRequest(Event, frozen=True, kw_only=True, tag="action_request"):
    """A remediation proposed or approved for an incident."""

    request_id: str
    incident: str
    action: str
    target: str
    level: Literal[1, 2, 3]
    status: Literal["proposed", "approved", "rejected", "refused"]
    params: dict[str, FieldValue] = {}
    reason: str = ""


class ActionResult(Event, frozen=True, kw_only=True, tag="action_result"):
    """What happened when an action ran."""

    request_id: str
    action: str
    target: str
    outcome: Literal["succeeded", "failed", "rolled_back", "dry_run"]
    detail: str = ""


class Watch(Event, frozen=True, kw_only=True, tag="watch"):
    """The coordinator asks for one series' samples while it verifies a change on it."""

    device: str
    kpi: str
    interface: str = ""
    until: float
    """Event time after which the watch lapses (the verification's deadline and a margin)."""
    request_id: str = ""


class Sample(Event, frozen=True, kw_only=True, tag="sample"):
    """A sample of a watched series, for the coordinator; with ``kpi`` empty, a clock tick:
    the metrics of ``device`` have reached event time ``ts``."""

    device: str
    kpi: str = ""
    interface: str = ""
    value: float = 0.0

    @property
    def tick(self) -> bool:
        return not self.kpi


class AuditRecord(Event, frozen=True, kw_only=True, tag="audit"):
    """One hash-chained audit entry: ``hash = sha256(prev_hash + canonical body)``."""

    seq: int
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = {}
    prev_hash: str
    hash: str


class DeadLetter(Event, frozen=True, kw_only=True, tag="dead_letter"):
    """Input that could not be handled, kept with its raw bytes and the reason."""

    source: str
    reason: str
    raw: bytes
    topic: str = ""


# --------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class Topic:
    """A topic of the contract: its name, the events on it, and how it is keyed."""

    name: str
    events: tuple[type[Event], ...]
    key: Callable[[Any], str]
    compacted: bool = False
    doc: str = ""


def _device(e: Any) -> str:
    return str(e.device)


TOPICS: Final[dict[str, Topic]] = {
    t.name: t
    for t in (
        Topic("netvigil.metrics", (Metric,), _device, doc="samples, counters as rates"),
        Topic("netvigil.logs", (LogRecord,), _device, doc="parsed syslog"),
        Topic("netvigil.flows", (FlowRecord,), lambda e: e.exporter, doc="IPFIX-named flows"),
        Topic("netvigil.events", (DeviceEvent,), _device, doc="traps, status, target up/down"),
        Topic(
            "netvigil.flow-templates",
            (FlowTemplate,),
            lambda e: f"{e.exporter}/{e.domain}/{e.template_id}",
            compacted=True,
            doc="v9/IPFIX templates",
        ),
        Topic("netvigil.anomalies", (Anomaly,), _device, doc="detector verdicts"),
        Topic(
            "netvigil.incidents",
            (Incident,),
            lambda e: e.fingerprint,
            compacted=True,
            doc="one per root cause",
        ),
        Topic(
            "netvigil.risks",
            (Risk,),
            lambda e: e.risk_id,
            compacted=True,
            doc="predicted harms with a time to impact",
        ),
        Topic(
            "netvigil.feedback",
            (Feedback,),
            lambda e: e.suppression,
            doc="suppressions made and lifted from operators' judgements",
        ),
        Topic(
            "netvigil.actions",
            (ActionRequest, ActionResult),
            lambda e: e.target,
            doc="remediation requests and results",
        ),
        Topic(
            "netvigil.watches",
            (Watch,),
            _device,
            doc="series the coordinator verifies",
        ),
        Topic(
            "netvigil.samples",
            (Sample,),
            _device,
            doc="watched samples and clock ticks",
        ),
        Topic("netvigil.audit", (AuditRecord,), lambda e: "", doc="hash-chained, append-only"),
        Topic("netvigil.dlq", (DeadLetter,), lambda e: e.source, doc="nothing dropped silently"),
    )
}
ALL_TOPICS: Final = tuple(TOPICS)

_TOPIC_OF_TYPE: Final[dict[type[Event], Topic]] = {
    cls: topic for topic in TOPICS.values() for cls in topic.events
}


def topic_of(event: Event) -> str:
    """The name of the topic an event belongs on."""
    return _TOPIC_OF_TYPE[type(event)].name


def key_of(event: Event) -> str:
    """The partition key of an event, per its topic."""
    return str(_TOPIC_OF_TYPE[type(event)].key(event))


# --------------------------------------------------------------------------- encoding

_AnyEvent: TypeAlias = (
    Metric
    | LogRecord
    | FlowRecord
    | FlowTemplate
    | DeviceEvent
    | Anomaly
    | Incident
    | Risk
    | Feedback
    | ActionRequest
    | ActionResult
    | Watch
    | Sample
    | AuditRecord
    | DeadLetter
)
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(_AnyEvent)
_many_decoder: Final = msgspec.json.Decoder(list[_AnyEvent])


def encode(event: Event) -> bytes:
    """Encode an event as compact JSON with its ``type`` tag and schema version."""
    return _encoder.encode(event)


def decode(data: bytes | bytearray | memoryview | str) -> Event:
    """Decode bytes produced by :func:`encode`.

    Raises :class:`EventDecodeError` for anything else: garbage, a JSON value that is not an
    event, a wrong field type, or a schema version this code does not know.
    """
    try:
        event: Event = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        preview = bytes(data[:60]) if not isinstance(data, str) else data[:60].encode()
        raise EventDecodeError(f"not a NetVigil event ({exc}); first bytes: {preview!r}") from exc
    if event.v not in _ACCEPTED:
        raise EventDecodeError(
            f"{type(event).__name__} has schema version {event.v}; this NetVigil reads "
            f"versions {sorted(_ACCEPTED)}. Upgrade NetVigil, or re-encode the event."
        )
    return event


def decode_many(data: bytes | bytearray | memoryview | str) -> list[Event]:
    """Decode a JSON array of events in one pass (ten times faster than element by element,
    which is what the Kafka workers read). Raises :class:`EventDecodeError` if any element is
    not an event this code reads; the caller then decodes element by element to say which."""
    try:
        events: list[Event] = list(_many_decoder.decode(data))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise EventDecodeError(f"not a list of NetVigil events ({exc})") from exc
    for event in events:
        if event.v not in _ACCEPTED:
            raise EventDecodeError(f"{type(event).__name__} has schema version {event.v}")
    return events


def decode_as(data: bytes | bytearray | memoryview | str, cls: type[Event]) -> Event:
    """Decode and check the event is of type ``cls`` (e.g. when reading one topic)."""
    event = decode(data)
    if not isinstance(event, cls):
        raise EventDecodeError(f"expected {cls.__name__}, got {type(event).__name__}")
    return event


# --------------------------------------------------------------------------- entity names


def interface_id(device: str, ifname: str) -> str:
    """The entity id of an interface: ``device:ifname``."""
    return f"{device}:{ifname}"


def split_interface_id(entity: str) -> tuple[str, str]:
    """Inverse of :func:`interface_id` (device names may not contain ``:``; ifnames may)."""
    device, sep, ifname = entity.partition(":")
    if not sep:
        raise ValueError(f"{entity!r} is not an interface id (device:ifname)")
    return device, ifname


def link_id(a: str, b: str) -> str:
    """The entity id of a link between devices ``a`` and ``b``, independent of order."""
    x, y = sorted((a, b))
    return f"{x}--{y}"
