"""A NetFlow v9 / IPFIX template compiled once, then used to decode whole data sets.

The fast path (STYLE.md #12): a template whose fields all have a fixed length becomes one
numpy structured dtype; a data set is then ``numpy.frombuffer`` of that dtype (no Python loop
per field), each field turns into a Python list in one call, and the records are built by a
function generated for the template: a list comprehension whose dict display has the element
names as constant keys. Generating that function is what makes building a record cost one
dict display instead of a loop over fields (measured in ``bench/bench_flows.py``); the names
are quoted with ``repr`` and the variables are positional, so no input reaches the code.

Templates with variable-length fields (length 65535, RFC 7011 section 7) take the slow path,
a loop per record and field. Both paths yield the same values (a test checks it).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netvigil.collectors.flow.elements import (
    IPV4_NAMES,
    Scalar,
    element,
    field_codec,
    ipv4_name,
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


@dataclass
class CompiledTemplate:
    """The decoding plan of one template: names, a dtype when fixed-length, converters."""

    fields: tuple[TemplateField, ...]
    scope_count: int
    names: list[str]
    kinds: list[str]
    fixed_length: int | None
    """Bytes per record when every field has a fixed length; None when some field varies."""
    dtype: np.dtype[Any] | None = None
    build: Callable[[list[Any]], list[Record]] | None = None
    counters: list[str] = field(default_factory=list)

    @property
    def min_length(self) -> int:
        """The smallest possible record (variable-length fields count one length octet)."""
        return sum(1 if f.length == VARIABLE else f.length for f in self.fields)

    def decode(self, body: bytes | memoryview) -> list[Record]:
        """Every record of a data set body (padding after the last record is ignored)."""
        if self.fixed_length is not None:
            return self._decode_fixed(body)
        return self._decode_variable(bytes(body))

    def _decode_fixed(self, body: bytes | memoryview) -> list[Record]:
        size = self.fixed_length or 0
        if size == 0:
            return []
        n = min(len(body) // size, _MAX_RECORDS)
        if n == 0:
            return []
        if self.dtype is None or self.build is None:
            return []  # only padding: nothing to report
        return self.build(np.frombuffer(body, dtype=self.dtype, count=n).tolist())

    def _decode_variable(self, body: bytes) -> list[Record]:
        out: list[Record] = []
        pos, end = 0, len(body)
        minimum = max(self.min_length, 1)
        while end - pos >= minimum and len(out) < _MAX_RECORDS:
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
            if all(b == 0 for b in body[pos:]):
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


def _builder(
    fields: list[tuple[str, Scalar | None]],
) -> Callable[[list[Any]], list[Record]]:
    """A function from ``ndarray.tolist()`` rows to records; fields named "" are skipped."""
    args: list[str] = []
    items: list[str] = []
    env: dict[str, Any] = {}
    for i, (name, conv) in enumerate(fields):
        args.append(f"v{i}")
        if not name:
            continue
        if conv is None:
            items.append(f"{name!r}: v{i}")
        elif conv is ipv4_name:  # the cache lookup inline: most addresses repeat
            env["ip4"], env[f"c{i}"] = IPV4_NAMES, conv
            items.append(f"{name!r}: ip4.get(v{i}) or c{i}(v{i})")
        else:
            env[f"c{i}"] = conv
            items.append(f"{name!r}: c{i}(v{i})")
    if not items:
        return lambda rows: [{} for _ in rows]
    src = f"def build(rows):\n    return [{{{', '.join(items)}}} for {', '.join(args)}, in rows]\n"
    ns: dict[str, Any] = dict(env)
    exec(compile(src, "<flow-template>", "exec"), ns)  # names are repr-quoted constants
    fn: Callable[[list[Any]], list[Record]] = ns["build"]
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
    if fixed:
        spec: list[tuple[str, str]] = []
        plan: list[tuple[str, Scalar | None]] = []
        for i, (f, name, kind) in enumerate(zip(fields, tpl.names, kinds, strict=True)):
            if not f.length:
                continue
            if not name:
                spec.append((f"f{i}", f"V{f.length}"))
                plan.append(("", None))
                continue
            dtype, conv = field_codec(kind, f.length)
            spec.append((f"f{i}", dtype))
            plan.append((name, conv))
        if spec:
            tpl.dtype = np.dtype(spec)
            tpl.build = _builder(plan)
    if len(_COMPILED) > 4096:
        _COMPILED.clear()
    _COMPILED[key] = tpl
    return tpl
