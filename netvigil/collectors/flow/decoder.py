"""One entry point for every flow protocol, and the two views of what it decoded.

:class:`FlowDecoder` recognises a datagram by its header (sFlow v5's 32-bit version, else the
16-bit NetFlow/IPFIX version) and keeps the NetFlow/IPFIX session between datagrams.

- :func:`rows` is the ``netvigil decode flow`` view: values as they were on the wire (sampling
  not applied), one flat dict per data record or sFlow sample, with ``version``, ``exporter``,
  ``options`` and the ``@templateId`` / ``@sequenceNumber`` / ``@recordCount`` pseudo-fields.
- :func:`flow_events` is the collector's view: :class:`~netvigil.events.FlowRecord` events
  whose traffic counters are multiplied by the sampling rate (``sampling_rate`` says by how
  much), and the :class:`~netvigil.events.FlowTemplate` events to publish.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from netvigil.collectors.flow.netflow import FlowSession, Problem, RecordSet
from netvigil.collectors.flow.sflow import SFlowDatagram, decode_sflow, is_sflow
from netvigil.events import Event, FieldValue, FlowRecord, FlowTemplate

__all__ = ["PROTOCOLS", "FlowDecoder", "FlowResult", "flow_events", "rows"]

PROTOCOLS = {5: "netflow5", 9: "netflow9", 10: "ipfix"}
"""``FlowRecord.protocol`` by NetFlow/IPFIX header version (sFlow records say ``sflow5``)."""


@dataclass
class FlowResult:
    version: int
    exporter: str
    sets: list[RecordSet] = field(default_factory=list)
    sflow: SFlowDatagram | None = None
    templates: list[FlowTemplate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    claimed: list[FlowTemplate] = field(default_factory=list)
    """Templates adopted from another process that this one used for the first time."""


class FlowDecoder:
    """Decodes NetFlow v5/v9, IPFIX and sFlow v5 datagrams; raises DecodeError on bad ones."""

    def __init__(self, session: FlowSession | None = None) -> None:
        self.session = session or FlowSession()

    def decode(self, data: bytes, exporter: str, now: float = 0.0) -> FlowResult:
        if is_sflow(data):
            dg = decode_sflow(data)
            return FlowResult(5, dg.agent_address or exporter, sflow=dg)
        r = self.session.decode(data, exporter, now)
        version = int.from_bytes(data[:2], "big")
        return FlowResult(version, exporter, r.sets, None, r.templates, r.problems, r.claimed)


def rows(result: FlowResult) -> Iterator[dict[str, object]]:
    """The records of a result as the command line prints them (wire values, wire order)."""
    if result.sflow is not None:
        for sample in result.sflow.samples:
            yield {**sample, "version": 5, "exporter": result.exporter}
        return
    for s in result.sets:
        extra: dict[str, object] = {"version": s.version, "exporter": s.exporter}
        if s.options:
            extra["options"] = True
        if s.version == 5:
            extra["@recordCount"] = len(s.records)
        else:
            extra["@templateId"] = s.template_id
        extra["@sequenceNumber"] = s.sequence
        for rec in s.records:
            yield {**rec, **extra}


def flow_events(result: FlowResult, received: float) -> list[Event]:
    """FlowRecord events with sampling applied, then the templates learned or withdrawn."""
    out: list[Event] = []
    if result.sflow is not None:
        for sample in result.sflow.samples:
            if sample.get("sample_type") == "counter_sample":
                continue  # interface counters become metrics (see counters.py)
            out.append(_sflow_record(sample, result.exporter, received))
        return out
    for s in result.sets:
        ts = s.export_time or received
        protocol = PROTOCOLS.get(s.version, "")
        if s.options:
            out.extend(
                FlowRecord(
                    ts=ts,
                    exporter=s.exporter,
                    version=s.version,
                    fields=r,
                    options=True,
                    protocol=protocol,
                )
                for r in s.records
            )
            continue
        rates = s.rates
        if rates.count(1) == len(rates):  # unsampled, the common case: one comprehension
            exporter, version = s.exporter, s.version
            out += [
                FlowRecord(ts=ts, exporter=exporter, version=version, fields=rec, protocol=protocol)
                for rec in s.records
            ]
            continue
        counters = s.counters
        for rec, rate in zip(s.records, rates, strict=True):
            if rate > 1:
                for c in counters:
                    v = rec.get(c)
                    if isinstance(v, int):
                        rec[c] = v * rate
            out.append(
                FlowRecord(
                    ts=ts,
                    exporter=s.exporter,
                    version=s.version,
                    fields=rec,
                    sampling_rate=rate,
                    protocol=protocol,
                )
            )
    out.extend(result.templates)
    return out


def _sflow_record(sample: Mapping[str, object], exporter: str, ts: float) -> FlowRecord:
    fields: dict[str, FieldValue] = {
        k: v for k, v in sample.items() if isinstance(v, int | float | str | bool)
    }
    for k, v in sample.items():
        if isinstance(v, list):  # AS path, communities: space-separated in the flat record
            fields[k] = " ".join(str(x) for x in v)
    rate = sample.get("sampling_rate")
    rate = rate if isinstance(rate, int) and rate > 0 else 1
    if sample.get("sample_type") == "flow_sample":
        size = sample.get("ipTotalLength", sample.get("frame_length", 0))
        fields["packetDeltaCount"] = rate
        fields["octetDeltaCount"] = (size if isinstance(size, int) else 0) * rate
    return FlowRecord(
        ts=ts, exporter=exporter, version=5, fields=fields, sampling_rate=rate, protocol="sflow5"
    )
