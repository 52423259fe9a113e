"""Online log template mining with network-aware masks and variable detection (pure, no I/O).

A message is masked (:func:`mask`: addresses, interfaces, AS numbers, hex ids, paths and
numbers become one token each), split on whitespace, and matched against the templates of its
length. Three rules make templates that hold on log sources never seen before:

- **Similarity over a template's constants, every position alike.** A message joins the
  template of its length whose constant tokens it matches best, if it matches at least
  ``sim_th`` of them; positions where the two differ become parameters (``<*>``). No token is
  used to route a message before it is compared (Drain's parse tree routes on the first
  tokens, so one event whose first word varies, a program or host name, splits into as many
  templates as there are names; on unseen Loghub systems that cost drain3 whole data sets).
- **Variable detection across templates.** When ``sibling_k`` templates of one length are
  equal but at one position, that position keeps changing: it is a parameter, and they merge.
- **Templates that differ only at parameters merge.** When a template gains a parameter, the
  templates that are instances of it (equal at every constant it keeps) fold into it.

Why not drain3 (used before; still the benchmarks' baseline): its parse tree routes on prefix
tokens and its depth and fan-out have to be set per system, and it has no notion of a position
that keeps changing. Why written here: no maintained library mines online with these rules
(Brain and LogPPT are batch or need labels).

Cost: an exact cache from the masked text to its template answers most lines with one
dictionary look-up; the others are compared only with the templates that share a token at the
same position (an inverted index per length), never with every template. At most
``max_templates`` templates are kept (least recently used evicted, counted in
:attr:`LogMiner.evicted`), so memory is bounded under a storm of new text.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from netvigil.analytics.masking import MASKS

__all__ = [
    "LOGHUB_WILDCARD",
    "LogMiner",
    "Mined",
    "MinerConfig",
    "loghub_template",
    "mask",
]

LOGHUB_WILDCARD = "<*>"
_WILD = LOGHUB_WILDCARD
_MASK_TOKEN = re.compile(r"<(?:\*|[A-Z]+)>")
# Every mask but the AS number (which may contain a space) in one alternation, applied only
# to the whitespace-separated tokens that could hold one (a digit, a slash, or a Cisco dotted
# MAC): scanning short tokens instead of whole lines is ~5x faster (measured on Loghub bodies).
_SPANNING = {"ASN", "TS"}
_COMBINED = re.compile(
    "|".join(f"(?P<m{i}>{p})" for i, (name, p) in enumerate(MASKS) if name not in _SPANNING)
)
_TOKENS = [f"<{name}>" for name, _ in MASKS]
_SPAN = re.compile(
    "|".join(f"(?P<s{i}>{p})" for i, (name, p) in enumerate(MASKS) if name in _SPANNING)
)
# a cheap test for a line that may hold a spanning mask (an AS number or a date and time)
_SPAN_HINT = re.compile(r"AS|\d:\d\d:\d")
_CANDIDATE = re.compile(r"\d|/|:\\|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")


def _token(match: re.Match[str]) -> str:
    return _TOKENS[int(str(match.lastgroup)[1:])]


def _span_token(match: re.Match[str]) -> str:
    return _TOKENS[int(str(match.lastgroup)[1:])]


_CACHE_SIZE = 100_000
_cache: dict[str, str] = {}


def _mask_token(tok: str) -> str:
    masked = _COMBINED.sub(_token, tok) if _CANDIDATE.search(tok) else tok
    if len(_cache) >= _CACHE_SIZE:  # bounded: start afresh rather than track recency
        _cache.clear()
    _cache[tok] = masked
    return masked


def _mask_tokens(message: str) -> list[str]:
    if _SPAN_HINT.search(message):
        message = _SPAN.sub(_span_token, message)
    parts = message.split()
    get = _cache.get
    for i, tok in enumerate(parts):
        masked = get(tok)
        parts[i] = _mask_token(tok) if masked is None else masked
    return parts


def mask(message: str) -> str:
    """The message with addresses, interfaces, AS numbers, hex ids, paths and numbers replaced
    by tokens (and runs of whitespace made single spaces: templates are token sequences).

    Each token's mask is cached (at most ``_CACHE_SIZE`` tokens): log tokens repeat a lot
    (words, interface names, addresses of the same peers), and a dictionary hit costs a tenth
    of a regular-expression scan."""
    return " ".join(_mask_tokens(message))


@dataclass(frozen=True)
class MinerConfig:
    """One configuration for every log source (constants chosen by leave-one-system-out
    cross-validation on Loghub, see docs/evaluation-logs.md)."""

    sim_th: float = 0.6
    """Share of a template's constant tokens a message must match to join it."""
    sibling_k: int = 4
    """Templates equal but at one position that make that position a parameter."""
    max_templates: int = 20_000
    """Templates kept (least recently used evicted beyond): bounds memory."""
    exact_cache: int = 200_000
    """Masked texts remembered with their template (cleared when full)."""


@dataclass(frozen=True, slots=True)
class Mined:
    """What mining one message found."""

    template_id: int
    template: str
    """The template with named masks (``<IP>``, ``<IF>``) and ``<*>`` for other variables."""
    change: str
    """``cluster_created``, ``cluster_template_changed`` or ``none``."""
    size: int
    """Messages that matched this template so far."""

    @property
    def is_new(self) -> bool:
        return self.change == "cluster_created"


def loghub_template(template: str) -> str:
    """The template in Loghub's notation: every variable as ``<*>``."""
    return _MASK_TOKEN.sub(LOGHUB_WILDCARD, template)


class _Group:
    """Messages of one length close enough to be one event, or events differing in a word.

    ``tokens`` is the group's pattern (``<*>`` where its messages differed); ``values`` keeps,
    per position, the distinct tokens seen there until there are ``sibling_k`` of them, then
    ``None``: that position keeps changing, it is a parameter of the group's templates."""

    __slots__ = ("consts", "events", "id", "tokens", "values")

    def __init__(self, gid: int, tokens: list[str]) -> None:
        self.id = gid
        self.tokens = tokens
        self.consts = len(tokens)
        self.values: list[set[str] | None] = [{t} for t in tokens]
        self.events: dict[str, int] = {}  # template text -> template id


class _Event:
    __slots__ = ("group", "id", "size", "text")

    def __init__(self, eid: int, group: int, text: str) -> None:
        self.id = eid
        self.group = group
        self.text = text
        self.size = 0


_masky: dict[str, bool] = {}


def _is_masky(tok: str) -> bool:
    """Whether a token holds a mask (``<NUM>``, ``blk_<HEX>``): some variable, in some form."""
    m = _masky.get(tok)
    if m is None:
        if len(_masky) >= _CACHE_SIZE:
            _masky.clear()
        m = _masky[tok] = "<" in tok and _MASK_TOKEN.search(tok) is not None
    return m


def _two_masked(values: set[str]) -> bool:
    """Two tokens that hold a mask at one position: a variable seen in two forms."""
    return sum(1 for v in values if _is_masky(v)) >= 2


# Index key of a template's token that holds a mask: any token holding a mask matches it
# (``blk_<NUM>`` and ``blk_-<NUM>`` are one variable in two forms).
_ANY_MASKED = "\x00masked"


def _index_token(tok: str) -> str:
    return _ANY_MASKED if _is_masky(tok) else tok


_SIBLING_MAX_LEN = 64  # longer messages are not checked for siblings (the cost is quadratic)


class LogMiner:
    """Mines templates from message bodies, one at a time, in arrival order."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self._groups: OrderedDict[int, _Group] = OrderedDict()  # by recency of use
        self._events: dict[int, _Event] = {}
        self._exact: dict[str, int] = {}  # masked text -> template id
        self._alias: dict[int, int] = {}  # merged template id -> the one it merged into
        self._index: dict[int, dict[tuple[int, str], set[int]]] = {}  # length -> postings
        self._siblings: dict[int, set[int]] = {}  # hash of (length, position, rest) -> groups
        self._next = 1
        self.evicted = 0
        """Templates dropped to keep at most ``max_templates``."""
        self.merged = 0
        """Templates folded into another (variable detection)."""

    def __len__(self) -> int:
        """Templates kept."""
        return len(self._events)

    # -- public -------------------------------------------------------------------------------

    def add(self, message: str) -> Mined:
        """Mine one message body (learns it)."""
        tokens = _mask_tokens(message)
        key = " ".join(tokens)
        eid = self._exact.get(key)
        if eid is not None:
            e = self._events.get(self._resolve(eid))
            if e is not None:
                e.size += 1
                self._groups.move_to_end(e.group)
                return Mined(e.id, e.text, "none", e.size)
        e, change = self._learn(tokens)
        if len(self._exact) >= self.config.exact_cache:
            self._exact.clear()
        self._exact[key] = e.id
        e.size += 1
        return Mined(e.id, e.text, change, e.size)

    def resolve(self, template_id: int) -> int:
        """The id a template goes by now (a merged template's id names the one it joined)."""
        return self._resolve(template_id)

    def template(self, template_id: int) -> str:
        """The current text of a template (templates generalise as messages arrive)."""
        e = self._events.get(self._resolve(template_id))
        if e is None:
            raise KeyError(template_id)
        return e.text

    def templates(self) -> dict[int, str]:
        """Every template kept, by id."""
        return {eid: e.text for eid, e in self._events.items()}

    # -- learning -----------------------------------------------------------------------------

    def _resolve(self, tid: int) -> int:
        alias = self._alias
        while tid in alias:
            tid = alias[tid]
        return tid

    def _learn(self, tokens: list[str]) -> tuple[_Event, str]:
        g, created = self._match(tokens)
        self._groups.move_to_end(g.id)
        k = self.config.sibling_k
        widened = False
        for i, tok in enumerate(tokens):
            seen = g.values[i]
            if seen is not None and tok not in seen:
                seen.add(tok)
                if len(seen) >= k or _two_masked(seen):
                    g.values[i] = None
                    widened = True
        if widened:
            self._rekey(g)
        text = self._text(g, tokens)
        eid = g.events.get(text)
        if eid is not None:
            return self._events[eid], "none" if not widened else "cluster_template_changed"
        e = _Event(self._next, g.id, text)
        self._next += 1
        self._events[e.id] = e
        g.events[text] = e.id
        if len(self._events) > self.config.max_templates:
            self._evict(keep=g.id)
        return e, "cluster_created" if created or not widened else "cluster_template_changed"

    @staticmethod
    def _text(g: _Group, tokens: list[str]) -> str:
        return " ".join(
            _WILD if v is None else tok for v, tok in zip(g.values, tokens, strict=True)
        )

    def _rekey(self, g: _Group) -> None:
        """Re-derive the template of each event of ``g``; events that became equal merge."""
        old = g.events
        g.events = {}
        for text, eid in sorted(old.items(), key=lambda kv: kv[1]):
            toks = text.split(" ")
            new = " ".join(
                _WILD if v is None else tok for v, tok in zip(g.values, toks, strict=True)
            )
            e = self._events[eid]
            into = g.events.get(new)
            if into is None:
                e.text = new
                g.events[new] = eid
            else:
                self._events[into].size += e.size
                del self._events[eid]
                self._alias[eid] = into
                self.merged += 1

    def _match(self, tokens: list[str]) -> tuple[_Group, bool]:
        n = len(tokens)
        postings = self._index.setdefault(n, {})
        hits: dict[int, int] = {}
        for i, tok in enumerate(tokens):
            ids = postings.get((i, _index_token(tok)))
            if ids:
                for gid in ids:
                    hits[gid] = hits.get(gid, 0) + 1
        best: _Group | None = None
        best_sim = -1.0
        best_hits = -1
        groups = self._groups
        for gid, h in hits.items():
            g = groups[gid]
            sim = h / g.consts
            if sim > best_sim or (sim == best_sim and h > best_hits):
                best, best_sim, best_hits = g, sim, h
        if best is not None and best_sim >= self.config.sim_th:
            differ = [i for i, tok in enumerate(best.tokens) if tok != _WILD and tok != tokens[i]]
            if differ:
                self._generalise(best, differ)
                return self._groups[self._resolve(best.id)], False
            return best, False
        g = _Group(self._next, list(tokens))
        self._next += 1
        self._groups[g.id] = g
        self._register(g)
        self._check_siblings(g)
        return self._groups[self._resolve(g.id)], True

    # -- index upkeep -------------------------------------------------------------------------

    def _sibling_keys(self, g: _Group) -> list[tuple[int, int]]:
        toks = g.tokens
        n = len(toks)
        if n > _SIBLING_MAX_LEN or g.consts < 2:
            return []
        return [
            (i, hash((n, i, *toks[:i], *toks[i + 1 :])))
            for i, tok in enumerate(toks)
            if tok != _WILD
        ]

    def _register(self, g: _Group) -> None:
        postings = self._index.setdefault(len(g.tokens), {})
        for i, tok in enumerate(g.tokens):
            if tok != _WILD:
                postings.setdefault((i, _index_token(tok)), set()).add(g.id)
        for _, key in self._sibling_keys(g):
            self._siblings.setdefault(key, set()).add(g.id)

    def _unregister(self, g: _Group) -> None:
        postings = self._index[len(g.tokens)]
        for i, tok in enumerate(g.tokens):
            if tok != _WILD:
                key = (i, _index_token(tok))
                ids = postings[key]
                ids.discard(g.id)
                if not ids:
                    del postings[key]
        for _, skey in self._sibling_keys(g):
            sib = self._siblings.get(skey)
            if sib is not None:
                sib.discard(g.id)
                if not sib:
                    del self._siblings[skey]

    def _evict(self, keep: int) -> None:
        """Drop the least recently used group (and its templates), never ``keep``."""
        gid = next((i for i in self._groups if i != keep), None)
        if gid is None:
            return
        g = self._groups.pop(gid)
        self._unregister(g)
        for eid in g.events.values():
            del self._events[eid]
            self.evicted += 1
        if len(self._alias) > 4 * self.config.max_templates:
            self._alias.clear()  # ids merged long ago are no longer asked for
            self._exact.clear()

    # -- generalisation -----------------------------------------------------------------------

    def _generalise(self, g: _Group, positions: list[int]) -> None:
        """Make ``positions`` of ``g``'s pattern wildcards, then fold in the groups it covers."""
        self._unregister(g)
        for i in positions:
            g.tokens[i] = _WILD
        g.consts = sum(1 for tok in g.tokens if tok != _WILD)
        self._register(g)
        self._absorb_instances(g)
        self._check_siblings(g)

    def _absorb_instances(self, g: _Group) -> None:
        """Fold into ``g`` every group of its length equal to it at each of its constants."""
        postings = self._index[len(g.tokens)]
        lists = [postings[(i, _index_token(tok))] for i, tok in enumerate(g.tokens) if tok != _WILD]
        if not lists:
            return
        lists.sort(key=len)
        found = set(lists[0])
        for ids in lists[1:]:
            found &= ids
            if len(found) <= 1:
                break
        found.discard(g.id)
        for other in sorted(found):
            self._fold(self._groups[other], g)

    def _check_siblings(self, g: _Group) -> None:
        """If ``sibling_k`` groups equal ``g`` but at one position, it is a wildcard."""
        k = self.config.sibling_k
        for pos, key in self._sibling_keys(g):
            sib = self._siblings.get(key)
            if sib is None or len(sib) < k:
                continue
            rest = g.tokens[:pos] + g.tokens[pos + 1 :]
            group = [
                s
                for s in (self._groups[i] for i in sib)
                if len(s.tokens) == len(g.tokens) and s.tokens[:pos] + s.tokens[pos + 1 :] == rest
            ]  # a hash collision leaves a stranger out
            if len(group) < k:
                continue
            keep = min(group, key=lambda s: s.id)
            for s in group:
                if s is not keep:
                    self._fold(s, keep)
            self._generalise(keep, [pos])
            return

    def _fold(self, src: _Group, dst: _Group) -> None:
        """Move ``src``'s messages and templates into ``dst`` (same length)."""
        self._unregister(src)
        del self._groups[src.id]
        self._alias[src.id] = dst.id
        k = self.config.sibling_k
        for i, (a, b) in enumerate(zip(dst.values, src.values, strict=True)):
            if a is None:
                continue
            if b is None:
                dst.values[i] = None
                continue
            a |= b
            if len(a) >= k or _two_masked(a):
                dst.values[i] = None
        for text, eid in src.events.items():
            self._events[eid].group = dst.id
            into = dst.events.get(text)
            if into is None:
                dst.events[text] = eid
            else:  # the same text in both: one template
                self._events[into].size += self._events[eid].size
                del self._events[eid]
                self._alias[eid] = into
                self.merged += 1
        self._rekey(dst)
