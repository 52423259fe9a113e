"""Check that FRRouting's unique ids are per call site: one id, one format string.

FRR derives an id from the source file, the format string and the severity, so the id of a
line should name one printf format. The formats are read from the installed binaries
themselves (their NUL-terminated printable strings: no FRR source is needed, and the check
runs against exactly the code that wrote the log). For each id, up to ``per_id`` of its
messages, spread over the corpus, are matched against the formats: a format string becomes a
pattern (literal text exact, each conversion, FRR's ``%pI4``/``%pFX``-style extensions
included, any text: :func:`fits`). Reported:

- ``consistent``: ids whose sampled messages all match one common format;
- ``no_format``: ids where no single format matches every sampled message (text assembled
  from several pieces, or a format in a library not searched);
- ``same_text``: ids that share an identical message text with another id (one format at
  call sites in different files or severities, e.g. each daemon's ``Terminating on
  signal``): the ground truth splits what reads as one event, and no miner can tell them
  apart from the text;
- ``bare``: ids whose best format has no letter outside its conversions (``"%s"``,
  ``"%s %d, %s %d"``): the id names a call site, not a message shape.

Written here rather than taken from a library: FRR's own xref tooling (``xrelfo.py``) is in
its source tree, not in the Debian package.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

__all__ = ["BINARIES", "check_ids", "fits", "format_pieces", "formats_in"]

_LIB = sorted({p.resolve() for p in Path("/usr/lib").glob("*/frr/libfrr.so*")})
#: daemon name as it appears in the log (``OSPF:``) -> binaries whose formats it may print
BINARIES: dict[str, list[Path]] = {
    name: [Path(f"/usr/lib/frr/{daemon}"), *_LIB]
    for name, daemon in {
        "ZEBRA": "zebra",
        "OSPF": "ospfd",
        "BGP": "bgpd",
        "BFD": "bfdd",
        "STATIC": "staticd",
    }.items()
}
_CONV = re.compile(
    r"%%|%[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|j|z|t|L|q)?"
    r"(?:p[A-Za-z][A-Za-z0-9]*|d(?:PF|SO)|[diouxXeEfgGcsp])"
)
_STRINGS = re.compile(rb"[\t\x20-\x7e]{4,}(?=\x00)")


@cache
def format_pieces(fmt: str) -> tuple[str, ...]:
    """A format's constant pieces; each conversion between two pieces is a wildcard."""
    pieces, cur, pos = [], "", 0
    for m in _CONV.finditer(fmt):
        cur += fmt[pos : m.start()]
        pos = m.end()
        if m.group() == "%%":
            cur += "%"
        else:
            pieces.append(cur)
            cur = ""
    pieces.append(cur + fmt[pos:])
    return tuple(pieces)


def fits(pieces: Sequence[str], text: str) -> bool:
    """Whether ``text`` is the pieces with any text in each gap.

    Wildcard-only matching: the first piece is a prefix, the last a suffix, and the leftmost
    occurrence of each middle piece is always a safe choice, so it runs in linear time (a
    regular expression of ``.*?`` gaps backtracks exponentially on a near miss)."""
    if len(pieces) == 1:
        return text == pieces[0]
    first, *middle, last = pieces
    end = len(text) - len(last)
    if not text.startswith(first) or end < len(first) or not text.endswith(last):
        return False
    pos = len(first)
    for piece in middle:
        k = text.find(piece, pos, end)
        if k < 0:
            return False
        pos = k + len(piece)
    return True


@cache
def formats_in(paths: tuple[Path, ...]) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Plain strings, and (longest literal chunk, format) of strings with a conversion."""
    plain: set[str] = set()
    fmts: dict[str, str] = {}
    for path in paths:
        if not path.exists():
            continue
        for raw in _STRINGS.findall(path.read_bytes()):
            s = raw.decode("ascii")
            if "%" in s and _CONV.search(s):
                fmts[s] = max(_CONV.split(s), key=len)
            elif len(s) >= 4:
                plain.add(s)
    return frozenset(plain), tuple((lit, f) for f, lit in fmts.items())


def _matching(
    messages: Sequence[str], plain: frozenset[str], fmts: Iterable[tuple[str, str]]
) -> list[tuple[int, str]]:
    """(constant characters, format) of every format all ``messages`` fit."""
    first = messages[0]
    if all(m == first for m in messages) and first in plain:
        return [(len(first), first)]
    out = []
    for lit, fmt in fmts:
        if lit not in first:  # cheap: the longest constant piece must be there
            continue
        pieces = format_pieces(fmt)
        if all(fits(pieces, m) for m in messages):
            out.append((len("".join(pieces).replace(" ", "")), fmt))
    return out


def check_ids(
    rows: Sequence[dict[str, str]], *, per_id: int = 10, examples: int = 5
) -> dict[str, object]:
    """The per-call-site check on up to ``per_id`` messages of every id (see module doc)."""
    by_id: dict[str, list[str]] = defaultdict(list)
    daemon: dict[str, str] = {}
    for r in rows:
        by_id[r["uid"]].append(r["body"])
        daemon.setdefault(r["uid"], r["daemon"])
    best: dict[str, str] = {}
    no_format: list[str] = []
    for uid, msgs in by_id.items():
        step = max(1, len(msgs) // per_id)
        sample = msgs[::step][:per_id]
        paths = tuple(BINARIES.get(daemon[uid], next(iter(BINARIES.values()))))
        found = _matching(sample, *formats_in(paths))
        if found:
            best[uid] = max(found)[1]
        else:
            no_format.append(uid)
    ids_of_text: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        ids_of_text[r["body"]].add(r["uid"])
    same = {t: sorted(ids) for t, ids in ids_of_text.items() if len(ids) > 1}
    same_ids = set().union(*same.values()) if same else set()
    bare = [
        u
        for u, f in best.items()
        if _CONV.search(f) and not re.search(r"[A-Za-z]", _CONV.sub("", f))
    ]
    lines = {uid: len(msgs) for uid, msgs in by_id.items()}
    return {
        "ids": len(by_id),
        "consistent": len(best),
        "no_format": len(no_format),
        "no_format_lines": sum(lines[u] for u in no_format),
        "no_format_examples": [f"{u}: {by_id[u][0][:120]}" for u in no_format[:examples]],
        "same_text_ids": len(same_ids),
        "same_text_lines": sum(lines[u] for u in same_ids),
        "same_text_examples": [f"{v}: {t[:100]}" for t, v in list(same.items())[:examples]],
        "bare": len(bare),
        "bare_ids": sorted(bare),
        "bare_lines": sum(lines[u] for u in bare),
        "bare_examples": [f"{u} {best[u]!r}: {by_id[u][0][:100]}" for u in bare[:examples]],
    }
