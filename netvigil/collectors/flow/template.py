"""A NetFlow v9 / IPFIX template compiled once, then used to decode whole data sets.

The fast path (STYLE.md #12): a template whose fields all have a fixed length becomes one
precompiled ``struct.Struct`` (big-endian, unaligned, padding and ``paddingOctets`` skipped
with ``x``), and a data set is ``Struct.iter_unpack`` of its whole records: one C loop gives
each record's values as a tuple, with no Python work per field. The records are built by a
function generated for the template: a list comprehension over those tuples whose dict display
has the element names as constant keys and the conversions written inline (``v.hex(':')`` for
a MAC, a dict lookup for an IPv4 address), so a record costs one dict display and no call per
field. The names are quoted with ``repr`` and the values are positional, so no input reaches
the generated code. Why hand-written: no library decodes a v9/IPFIX data set against a
template at this cost (the ``netflow`` package decodes field by field in Python, about
45,000 v9 records/s); ``struct`` is the standard library's C unpacker, and numpy's
``frombuffer`` + ``tolist`` costs more per set than ``iter_unpack`` does for the whole set on
the one- to thirty-record sets real exporters send.

The reference path, :meth:`CompiledTemplate.decode_reference`, decodes field by field with
:func:`~.elements.render`; it is what templates with variable-length fields (length 65535,
RFC 7011 section 7) always take, and what the fast path is checked against on every capture
of ../shared/data/vectors (``tests/unit/collectors/test_flow_fast_path.py``).

:func:`field_error` checks a field's length against its element's IANA abstract type before a
template is accepted. Reduced-size encoding (RFC 7011 section 6.2) only shrinks a value, so no
field may be wider than its type: 8 octets for every integer and time type, 4 for float32, 8
for float64, 1 for boolean, 6 for a MAC, 4 and 16 for IPv4 and IPv6 addresses, and none of
these may be variable-length. Integers are held to the widest integer type (64 bits) rather
than their own width, because real v9 exporters send some narrow elements wider than IPFIX
registered them (forwardingStatus, unsigned8, in 4 octets; samplerId in 2: Cisco captures in
../shared/data/vectors) and their values fit in 64 bits all the same. Strings, octet arrays,
lists and unregistered elements take any length (unregistered ones longer than 8 octets are
rendered as hex, never as a number). So no decoded number is wider than 64 bits.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from netvigil.collectors.flow.elements import (
    INLINE,
    INLINE_NAMES,
    Scalar,
    element,
    field_codec,
    render,
)
from netvigil.errors import DecodeError
from netvigil.events import FieldValue, TemplateField

__all__ = ["VARIABLE", "CompiledTemplate", "compile_template", "field_error", "is_counter"]

VARIABLE = 65535
"""The field length that announces a variable-length field (RFC 7011 section 7)."""

_PADDING = 210  # paddingOctets: carried for alignment, never reported
_MAX_RECORDS = 1 << 16  # far more than fits in a 64 KiB datagram

_COUNTER = re.compile(
    r"^(post|reverse|layer2|dropped|postMCast|postLayer2)?"
    r"(octet|packet|frame|Octet|Packet|Frame)(Delta|Total)Count$"
)


#: the widest encoding of each fixed-size type that is not an integer (octets)
_WIDEST = dict(float32=4, float64=8, boolean=1, macAddress=6, ipv4Address=4, ipv6Address=16)
_INTEGER = ("unsigned", "signed", "dateTime")


@lru_cache(maxsize=4096)  # templates are refreshed often, with the same few fields
def field_error(f: TemplateField) -> str | None:
    """Why a template field's length does not fit its element's type (None when it does)."""
    e = element(f.element_id, f.enterprise)
    widest = 8 if e.kind.startswith(_INTEGER) else _WIDEST.get(e.kind)
    if widest is None or f.length == 0:  # any length; 0 is a field carried without a value
        return None
    if f.length == VARIABLE:
        return f"{e.name} ({f.element_id}) is {e.kind}: it cannot be variable-length"
    if f.length > widest:
        return f"{e.name} ({f.element_id}) is {e.kind}: at most {widest} octets, not {f.length}"
    return None


def is_counter(name: str) -> bool:
    """Whether an element counts traffic, so that it scales with the sampling rate."""
    return _COUNTER.match(name) is not None


Record = dict[str, FieldValue]
Rows = Iterable[tuple[Any, ...]]


@dataclass
class CompiledTemplate:
    """The decoding plan of one template: names, a ``struct`` layout when fixed-length."""

    fields: tuple[TemplateField, ...]
    scope_count: int
    names: list[str]
    kinds: list[str]
    fixed_length: int | None
    """Bytes per record when every field has a fixed length; None when some field varies."""
    unpack: Callable[[bytes | memoryview], Rows] = lambda body: ()
    """``iter_unpack`` of the record's ``struct.Struct`` (fixed-length templates)."""
    build: Callable[[Rows], list[Record]] = lambda rows: []
    """Records from the unpacked rows (generated per template: see the module docstring)."""
    counters: list[str] = field(default_factory=list)
    sampling: tuple[bool, str | None] | None = None
    """Whether records state their own sampling rate, and the field naming their sampler
    (worked out once by :mod:`.netflow`, which owns those rules)."""

    @property
    def min_length(self) -> int:
        """The smallest possible record (variable-length fields count one length octet)."""
        return sum(1 if f.length == VARIABLE else f.length for f in self.fields)

    def decode(self, body: bytes | memoryview) -> list[Record]:
        """Every record of a data set body (padding after the last record is ignored)."""
        size = self.fixed_length
        if size is None:
            return self.decode_reference(body)
        if size == 0:
            return []
        n = len(body) // size
        if n > _MAX_RECORDS:
            n = _MAX_RECORDS
        if n * size != len(body):  # iter_unpack takes whole records only
            body = memoryview(body)[: n * size]
        return self.build(self.unpack(body))

    def decode_reference(self, body: bytes | memoryview) -> list[Record]:
        """The records field by field with :func:`~.elements.render`: the path of templates
        with variable-length fields, and the reference the fixed-length path is checked
        against (the same records, values and order)."""
        body = bytes(body)
        fixed = self.fixed_length
        if fixed == 0:
            return []
        count = _MAX_RECORDS if fixed is None else min(len(body) // fixed, _MAX_RECORDS)
        out: list[Record] = []
        pos, end = 0, len(body)
        minimum = max(self.min_length, 1)
        while end - pos >= minimum and len(out) < count:
            rec: Record = {}
            for f, name, kind in zip(self.fields, self.names, self.kinds, strict=True):
                length = f.length
                if length == VARIABLE:
                    if pos >= end:
                        raise DecodeError("truncated", "variable-length field past the set end")
                    length = body[pos]
                    pos += 1
                    if length == 255:
                        if pos + 2 > end:
                            raise DecodeError("truncated", "variable-length field past set end")
                        length = int.from_bytes(body[pos : pos + 2], "big")
                        pos += 2
                if pos + length > end:
                    raise DecodeError(
                        "truncated", f"field {name} needs {length} bytes, {end - pos} left"
                    )
                if name and name not in rec:
                    rec[name] = render(kind, body[pos : pos + length])
                pos += length
            out.append(rec)
            if fixed is None and all(b == 0 for b in body[pos:]):
                break  # the rest is set padding
        return out


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out: list[str] = []
    for n in names:
        if not n:
            out.append(n)
            continue
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _builder(fields: list[tuple[str, Scalar | None]]) -> Callable[[Rows], list[Record]]:
    """A function from ``iter_unpack`` rows (one value per named field) to records."""
    if not fields:
        return lambda rows: [{} for _ in rows]
    args: list[str] = []
    items: list[str] = []
    env: dict[str, Any] = dict(INLINE_NAMES)
    for i, (name, conv) in enumerate(fields):
        v = f"v{i}"
        args.append(v)
        if conv is None:
            items.append(f"{name!r}: {v}")
            continue
        env[f"c{i}"] = conv
        inline = INLINE.get(conv)  # a builtin method or a cache lookup in place of a call
        expr = inline.format(v=v, h=f"h{i}", call=f"c{i}({v})") if inline else f"c{i}({v})"
        items.append(f"{name!r}: {expr}")
    src = f"def build(rows):\n    return [{{{', '.join(items)}}} for {', '.join(args)}, in rows]\n"
    ns: dict[str, Any] = dict(env)
    exec(compile(src, "<flow-template>", "exec"), ns)  # names are repr-quoted constants
    fn: Callable[[Rows], list[Record]] = ns["build"]
    return fn


_COMPILED: dict[tuple[tuple[TemplateField, ...], int], CompiledTemplate] = {}


def compile_template(fields: Sequence[TemplateField], scope_count: int = 0) -> CompiledTemplate:
    """Compile a template (memoized by its fields: exporters share the same few templates)."""
    key = (tuple(fields), scope_count)
    hit = _COMPILED.get(key)
    if hit is not None:
        return hit
    elems = [element(f.element_id, f.enterprise) for f in fields]
    names = _unique(
        [e.name if f.element_id != _PADDING else "" for f, e in zip(fields, elems, strict=True)]
    )
    kinds = [e.kind for e in elems]
    fixed = all(f.length != VARIABLE for f in fields)
    tpl = CompiledTemplate(
        fields=key[0],
        scope_count=scope_count,
        names=[n if f.length else "" for n, f in zip(names, fields, strict=True)],
        kinds=kinds,
        fixed_length=sum(f.length for f in fields) if fixed else None,
        counters=[n for n in names if n and is_counter(n)],
    )
    if fixed and tpl.fixed_length:
        layout = [">"]
        plan: list[tuple[str, Scalar | None]] = []
        for f, name, kind in zip(fields, tpl.names, kinds, strict=True):
            if not f.length:
                continue
            if not name:  # padding: skipped by the unpacker, never a value
                layout.append(f"{f.length}x")
                continue
            code, conv = field_codec(kind, f.length)
            layout.append(code)
            plan.append((name, conv))
        tpl.unpack = struct.Struct("".join(layout)).iter_unpack
        tpl.build = _builder(plan)
    if len(_COMPILED) > 4096:
        _COMPILED.clear()
    _COMPILED[key] = tpl
    return tpl
