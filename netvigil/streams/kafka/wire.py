"""How events travel as Kafka records: one event, or a batch of events of one key.

A record's value is either one event as :func:`netvigil.events.encode` writes it (a JSON
object) or a JSON array of such events, all with the record's key, in publish order. Batching
is what makes the Kafka runtime fast: every record costs client and broker bookkeeping
(offsets, acknowledgements, batching), so carrying 100-200 samples of one device per record
cuts that cost a hundredfold, while per-key order is kept because a batch never mixes keys
and batches of a key follow each other in one partition. Compacted topics (incidents, flow
templates) always carry single events, so compaction keeps the latest event of each key.

Any Kafka client reads these records: a JSON object is one event, a JSON array is several.
Decoding is lenient per element: one bad element of a batch becomes one failure (for the
dead-letter topic) and the other elements still decode.

**Order across topics.** A key's records of one topic are in order in their partition, but
two topics are two partitions, which the producer sends and the broker appends on their own:
a device's newer metric can be appended before its older link-down event. So the publisher
stamps every record with an :data:`ORDER_HEADER`: its own id and, per topic, how many records
of the key it had sent there before this one (:class:`Stamp`; for the record's own topic,
its index). A consumer that merges the topics (the detector) holds the record's events until
it has read the other topics through that many, which is exact for one publisher; records of
different publishers have no order to keep. Clients that ignore headers read the records as
before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from netvigil.errors import EventDecodeError
from netvigil.events import Event, decode, decode_many

__all__ = ["ORDER_HEADER", "Decoded", "Stamp", "decode_batch", "encode_batch", "headers_of"]

#: the record header carrying a :class:`Stamp`
ORDER_HEADER = "netvigil-order"

_encoder = msgspec.json.Encoder()
_split = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass(frozen=True)
class Decoded:
    """What a record held: the events that decoded, and the raw bytes and reason of the rest."""

    events: list[Event]
    failures: list[tuple[bytes, str]]


def encode_batch(events: Sequence[Event]) -> bytes:
    """One record value for ``events`` (all of one key): an object for one, an array else."""
    if not events:
        raise ValueError("a record carries at least one event")
    if len(events) == 1:
        return _encoder.encode(events[0])
    return _encoder.encode(list(events))


def decode_batch(data: bytes | bytearray | memoryview | None) -> Decoded:
    """Decode a record value written by :func:`encode_batch` (or by any client that follows
    the format). Never raises: everything that is not an event is returned as a failure."""
    if data is None:
        return Decoded([], [(b"", "EventDecodeError: empty record (null value)")])
    raw = bytes(data)
    head = raw.lstrip()[:1]
    if head != b"[":
        try:
            return Decoded([decode(raw)], [])
        except EventDecodeError as exc:
            return Decoded([], [(raw, f"EventDecodeError: {exc}")])
    try:  # the usual case, every element good: one pass
        whole = decode_many(raw)
    except EventDecodeError:
        pass
    else:
        if whole:
            return Decoded(whole, [])
    try:
        parts = _split.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        preview = raw[:60]
        return Decoded([], [(raw, f"EventDecodeError: not a batch of events ({exc}); {preview!r}")])
    if not parts:
        return Decoded([], [(raw, "EventDecodeError: empty batch")])
    events: list[Event] = []
    failures: list[tuple[bytes, str]] = []
    for part in parts:
        element = bytes(part)
        try:
            events.append(decode(element))
        except EventDecodeError as exc:
            failures.append((element, f"EventDecodeError: {exc}"))
    return Decoded(events, failures)


def headers_of(
    raw: Mapping[str, object] | Iterable[tuple[str, object]] | None,
) -> tuple[tuple[str, bytes], ...]:
    """A record's headers as confluent-kafka's ``Message.headers()`` gives them (None, a list
    of pairs, or a dict), as (name, bytes) pairs; a value that is None becomes empty."""
    pairs = list(raw.items()) if isinstance(raw, Mapping) else list(raw or ())
    return tuple((str(k), v if isinstance(v, bytes) else str(v or "").encode()) for k, v in pairs)


@dataclass(frozen=True)
class Stamp:
    """Where a record stands among its key's records: ``publisher`` (an id per publisher
    instance) had sent ``before[topic]`` records of the key to ``topic`` (contract name, no
    prefix) when it sent this one; for the record's own topic, that is its index."""

    publisher: str
    before: Mapping[str, int]

    def header(self) -> bytes:
        """The header value: ``publisher;topic=count,...``."""
        counts = ",".join(f"{t}={n}" for t, n in self.before.items())
        return f"{self.publisher};{counts}".encode()

    @classmethod
    def parse(cls, value: bytes | str | None) -> Stamp | None:
        """The stamp in a header value; None if there is none or it is malformed (the
        record is then merged as one of an unknown publisher: by event time only)."""
        if value is None:
            return None
        try:
            text = value.decode("ascii") if isinstance(value, bytes) else value
            publisher, _, counts = text.partition(";")
            before = {}
            for item in counts.split(",") if counts else ():
                topic, _, n = item.partition("=")
                before[topic] = int(n)
        except (UnicodeDecodeError, ValueError):
            return None
        if not publisher or any(n < 0 or not t for t, n in before.items()):
            return None
        return cls(publisher, before)
