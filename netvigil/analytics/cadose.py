"""CAD-OSE, the Contextual Anomaly Detector (open-source edition), written from its description.

Algorithm: M. Smirnov, "Contextual Anomaly Detector - Open Source Edition" (CAD-OSE, 2016),
entered in the Numenta Anomaly Benchmark as ``contextOSE`` (NAB scoreboard, whole corpus:
69.9 standard). Why hand-written: it exists only as two Python 2 files inside NAB's research
repository (AGPL), not as a package; it is ~200 lines of dictionary bookkeeping, written here
from its description with the published constants, typed, in bounded memory and without
NAB's look-ahead (see *Online range*).

How it scores a point:

1. **Facts.** The value is quantised to ``2**bits`` levels of a range (NAB: the file's min
   and max); each bit of the level index is one *fact* (``bits`` facts per point).
2. **Contexts.** A context is a pair (left facts, right facts): "after these facts, those
   followed". The left facts of a step are the point's facts plus the *neurons*: the ids
   of the up to ``max_active_neurons`` contexts fully confirmed at that step (most often
   confirmed first), so contexts chain into longer sequences. Each step stores the pair
   (previous left facts, current facts) as a zero-level context and, when that pair was
   new, the partial overlaps of zero-level contexts with the input (left parts of at most
   ``max_left_len`` facts) as further contexts.
3. **Score.** ``(1 - share of the selected contexts (left part fully present) that were
   confirmed + share of the possible new contexts that really were new) / 2``: the input
   broke expectations and brought new structure. In the author's later revision
   (``gate``, the default) a point whose every fact was predicted (the right facts of the
   fully present contexts with the best share of confirmed facts) scores 0.
4. **Rest period.** A score is reported only if no raw score in the last ``rest_period``
   points reached ``base_threshold`` (0.75); otherwise 0: one report per event.

Constants are CAD-OSE's published ones (``base_threshold`` 0.75, ``max_left_len`` 7,
``max_active_neurons`` 15, ``bits`` 3; NAB runs it with ``rest_period`` = its probation
period / 5). Nothing here was tuned on NetVigil's data.

**Faithfulness.** With NAB's range (:func:`cadose_scores`) the scores equal NAB's published
``contextOSE`` results row for row where checked (docs/evaluation-detection.md;
``tests/unit/analytics/test_cadose.py``). Three details of the reference are kept for that:
ties between confirmed contexts are broken by Python 2's hash of their left and right fact
tuples (:func:`py2_tuple_hash`); the reference's marker "no new zero-level context this
step" equals context 0, so context 0 is not updated unless it was just made; and a sensor
fact is ``2 * bit + value`` (plus 65536 in the gated revision). NAB's published files come
from both revisions (``gate`` True and False).

**Online range** (:class:`OnlineCadOse`, what ``netvigil detect`` runs). NAB hands the
detector the min and max of the *whole* file before the first point: a look-ahead a stream
does not have. Online, the range is that of the first ``warmup`` points (NAB's longest
probation, 750), learned silently (scores 0) and replayed into the detector once known;
later values beyond it keep the same step (``extend``): above, more bits, as the reference
encodes any level; below, the bits of the distance plus a "below" fact. So an excursion past
the learned range is new facts, hence new contexts, not the extreme level again. At most 13
bits are added (8,192 range widths out; further values share that level), so a huge value
costs a bounded number of facts; a constant warm-up gives a step of 1.

**Bounded memory.** CAD-OSE's context store only grows (each new pair of facts is kept).
``max_contexts`` bounds it: a full store takes no new context, and is emptied and
relearned from the next point on, as a fresh detector (the first ``rest_period`` points
after a reset are reported as 0, since everything is new to an empty store). Memory is at
most ``max_contexts`` contexts with their semi-contexts and index entries (a few hundred
bytes each); the longest nab-dev series (22,695 points) ends with 11,342 contexts, far
below the default 200,000. Time per point grows with the store (every left semi-context
holding one of the point's facts is visited): ~670 points per CPU second over nab-dev
online, ~200x the ensemble's cost in the same run (docs/evaluation-detection.md), so this
is a ``netvigil detect`` scorer, not the service's (which keeps the ensemble: 10,000 live
series at >= 50,000 points per CPU second).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netvigil.analytics.warmstart import ReplayStart

__all__ = [
    "CadOse",
    "CadOseConfig",
    "OnlineCadOse",
    "RestPeriod",
    "cadose_scores",
    "py2_tuple_hash",
]

_SENSOR_GATED = 65536
"""Fact id of a sensor bit: ``2 * bit_position + bit``, plus this in the gated revision."""
_BELOW = 1 << 14
"""Sensor fact of a level below the range (online): far from every bit's fact."""
_MASK = (1 << 64) - 1
_EXTRA_BITS = 13
"""Online: levels beyond the range get at most this many bits more (2**13 = 8,192 range
widths), so a huge value costs a bounded number of facts."""
_NEURON = 2**31
"""Fact id of a neuron (an active context): ``_NEURON + context id``."""


@dataclass(frozen=True)
class CadOseConfig:
    """CAD-OSE's constants (the published defaults) and NetVigil's online bounds."""

    base_threshold: float = 0.75
    """A raw score at or above this starts a rest period."""
    rest_period: int = 150
    """Points after a high raw score during which scores are reported as 0 (NAB: probation
    / 5; 150 = 750 / 5, NAB's longest probation)."""
    max_left_len: int = 7
    """Largest left part of a context made from overlaps."""
    max_active_neurons: int = 15
    """Confirmed contexts that join the next step's left facts."""
    bits: int = 3
    """Bits of the quantised value (``2**bits`` levels)."""
    warmup: int = 750
    """Online: points whose range sets the quantisation (NAB's longest probation)."""
    gate: bool = True
    """The author's revision in NAB: a point whose every fact was predicted scores 0 (the
    earlier revision, ``False``, scores every point); see the module doc."""
    max_contexts: int = 200_000
    """Contexts kept before the store is emptied and relearned (memory bound)."""


def py2_tuple_hash(items: tuple[int, ...]) -> int:
    """Python 2's hash of a tuple of small ints (64-bit): the reference orders tied contexts
    by it, so the same order gives the same neurons and the same scores as NAB's results."""
    x, mult, n = 0x345678, 1000003, len(items)
    for i, item in enumerate(items):
        x = ((x ^ (-2 if item == -1 else item)) * mult) & _MASK
        mult = (mult + 82520 + 2 * (n - i - 1)) & _MASK
    x = (x + 97531) & _MASK
    x = x - (1 << 64) if x >> 63 else x
    return -2 if x == -1 else x


class _Semi:
    """A semi-context: one side's facts, and (left side) its contexts by right semi-context."""

    __slots__ = ("contexts", "facts", "key")

    def __init__(self, facts: tuple[int, ...]) -> None:
        self.facts = facts
        self.key = py2_tuple_hash(facts)
        self.contexts: dict[int, int] = {}
        """Left side only: right semi-context id -> context id."""


class _Context:
    __slots__ = ("activations", "cid", "hits", "left", "predicted", "right", "zero")

    def __init__(self, cid: int, left: _Semi, right: _Semi, zero: bool) -> None:
        self.cid = cid
        self.predicted = 0
        """Facts this context predicted (its right part's size, each time it was selected)."""
        self.hits = 0
        """Of those, facts that came."""
        self.activations = 0
        """Times its right part came whole (it was confirmed)."""
        self.zero = zero
        """A zero-level context (stored from the input itself, not from an overlap)."""
        self.left = left
        self.right = right


_Pair = tuple[tuple[int, ...], tuple[int, ...]]


class _Memory:
    """The context store: semi-contexts per side, indexed by fact, and the contexts.

    A *crossing* matches a set of facts against one side: per touched semi-context, how
    many of its facts the set holds (``Counter.update`` over the fact index, in C)."""

    def __init__(self, max_left_len: int, max_contexts: int) -> None:
        self.max_left_len = max_left_len
        self.max_contexts = max_contexts
        self.ids: tuple[dict[tuple[int, ...], int], dict[tuple[int, ...], int]] = ({}, {})
        self.semis: tuple[list[_Semi], list[_Semi]] = ([], [])
        self.by_fact: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self.left_hits: Counter[int] = Counter()
        """The last left crossing: left semi-context id -> facts matched."""
        self.left_facts: frozenset[int] = frozenset()
        self.contexts: list[_Context] = []
        self.new_zero = 0
        """Id of the zero-level context made this step; 0 when none (the reference's
        marker, which thereby also skips context 0: see the module doc)."""

    def _semi(self, side: int, facts: tuple[int, ...]) -> int:
        ids = self.ids[side]
        sid = ids.get(facts)
        if sid is None:
            sid = ids[facts] = len(self.semis[side])
            self.semis[side].append(_Semi(facts))
            index = self.by_fact[side]
            for fact in facts:
                index.setdefault(fact, []).append(sid)
        return sid

    def add(self, left: tuple[int, ...], right: tuple[int, ...], zero: bool) -> bool:
        """Store the context (left, right) if it is new; True if it was. A zero-level pair
        that already exists is marked zero-level."""
        ls = self.semis[0][self._semi(0, left)]
        rid = self._semi(1, right)
        cid = ls.contexts.get(rid)
        if cid is None:
            if len(self.contexts) >= self.max_contexts:
                return False  # full: the store is emptied before the next point
            cid = ls.contexts[rid] = len(self.contexts)
            self.contexts.append(_Context(cid, ls, self.semis[1][rid], zero))
            if zero:
                self.new_zero = cid
            return True
        if zero:
            self.contexts[cid].zero = True
        return False

    def _cross(self, side: int, facts: Iterable[int]) -> Counter[int]:
        hits: Counter[int] = Counter()
        index = self.by_fact[side]
        for fact in facts:
            sids = index.get(fact)
            if sids:
                hits.update(sids)
        return hits

    def cross_left(self, facts: tuple[int, ...]) -> Counter[int]:
        """Match a step's left facts against the left semi-contexts (for the next step)."""
        self.left_hits = self._cross(0, facts)
        self.left_facts = frozenset(facts)
        return self.left_hits

    def confirm(
        self, facts: tuple[int, ...], new_zero: bool
    ) -> tuple[list[_Context], int, list[_Pair]]:
        """Match the input against the right sides and update the contexts whose left side
        matched at the previous step: (confirmed contexts, selected count, candidate new
        contexts from partial overlaps, made only when the step's zero-level pair was new)."""
        right_hits = self._cross(1, facts)
        confirmed: list[_Context] = []
        selected = 0
        candidates: list[_Pair] = []
        semis_l, semis_r, contexts = self.semis[0], self.semis[1], self.contexts
        skip, short_len = self.new_zero, self.max_left_len
        for lid in sorted(self.left_hits):
            ls = semis_l[lid]
            left_n = self.left_hits[lid]
            whole = len(ls.facts) == left_n
            grow = new_zero and left_n <= short_len
            for rid, cid in ls.contexts.items():
                if cid == skip:
                    continue
                right_n = right_hits.get(rid, 0)
                ctx = contexts[cid]
                if whole:
                    selected += 1
                    size = len(semis_r[rid].facts)
                    ctx.predicted += size
                    if right_n == 0:
                        continue
                    ctx.hits += right_n
                    if right_n == size:
                        ctx.activations += 1
                        confirmed.append(ctx)
                        continue
                if grow and right_n > 0 and ctx.zero:
                    candidates.append(self._overlap(ls, semis_r[rid], facts))
        self.new_zero = 0
        return confirmed, selected, candidates

    def _overlap(self, ls: _Semi, rs: _Semi, facts: tuple[int, ...]) -> _Pair:
        """The matched parts of a context: its left facts in the last left input, its right
        facts in this input (each in sorted order, as the semi-contexts store them)."""
        held, now = self.left_facts, set(facts)
        return tuple(f for f in ls.facts if f in held), tuple(f for f in rs.facts if f in now)

    def predict(self, facts: tuple[int, ...]) -> set[int]:
        """Match the new left facts (as :meth:`cross_left`) and return the prediction: the
        right facts of the fully matched contexts with the best share of confirmed facts
        (all of them while none has a share yet)."""
        best = 0.0
        chosen: list[_Context] = []
        contexts, semis = self.contexts, self.semis[0]
        for lid, n in self.cross_left(facts).items():
            ls = semis[lid]
            if len(ls.facts) != n:
                continue
            for cid in ls.contexts.values():
                ctx = contexts[cid]
                w = ctx.hits / ctx.predicted if ctx.predicted > 0 else 0.0
                if w > best:
                    best, chosen = w, [ctx]
                elif w == best:
                    chosen.append(ctx)
        out: set[int] = set()
        for ctx in chosen:
            out.update(ctx.right.facts)
        return out


class RestPeriod:
    """One report per event: a raw score is passed on only if none of the last
    ``rest_period`` raw scores reached ``threshold`` (else 0). Like the reference, the
    history starts with one such score, so the first ``rest_period`` points report 0."""

    __slots__ = ("rest_period", "since_high", "threshold")

    def __init__(self, threshold: float, rest_period: int) -> None:
        self.threshold = threshold
        self.rest_period = rest_period
        self.since_high = 0
        """Raw scores since the last one at or above ``threshold``."""

    def __call__(self, raw: float) -> float:
        quiet = self.since_high >= self.rest_period
        self.since_high = 0 if raw >= self.threshold else self.since_high + 1
        return raw if quiet else 0.0


class CadOse:
    """CAD-OSE over a known value range (NAB's setting: ``lo``, ``hi`` are the file's min and
    max). :meth:`score` returns the reported score of each point, in order."""

    def __init__(
        self, lo: float, hi: float, config: CadOseConfig | None = None, *, extend: bool = False
    ) -> None:
        self.config = c = config or CadOseConfig()
        self.extend = extend
        """Encode values beyond [lo, hi] at the same step (online) instead of clipping."""
        if c.rest_period < 1 or c.bits < 1 or c.max_contexts < 1:
            raise ValueError("rest_period, bits and max_contexts must be at least 1")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"the range must be finite, not [{lo!r}, {hi!r}]")
        self.lo = float(lo)
        top = float(2**c.bits - 1)
        step = (float(hi) - self.lo) / top  # the reference's arithmetic, bit for bit
        if not math.isfinite(step):  # a range wider than the largest float
            step = float(hi) / top - self.lo / top
        self.step = step if step > 0.0 else 1.0
        self.top = int(top)
        self.cap = (1 << (c.bits + _EXTRA_BITS)) - 1
        """Online: the largest level beyond the range (values further out share it)."""
        self.memory = _Memory(c.max_left_len, c.max_contexts)
        self.left: tuple[int, ...] = ()
        self.predicted: set[int] = set()
        self.sensor = _SENSOR_GATED if c.gate else 0
        self.rest = RestPeriod(c.base_threshold, c.rest_period)
        self.resets = 0

    def facts(self, value: float) -> tuple[int, ...]:
        """The sensor facts of a value: one per bit of its level. Beyond the range (online
        only), the level keeps its step: more bits above it (as the reference encodes any
        level), and below it the bits of its distance plus a "below" fact."""
        if not math.isfinite(value):
            raise ValueError(f"not a finite value: {value!r}")
        x = (value - self.lo) / self.step
        if not math.isfinite(x):  # overflow: far beyond the range
            x = math.copysign(float(self.cap), value - self.lo)
        if self.extend:
            below = x < 0.0
            level = min(int(-math.floor(x) if below else x), self.cap)
            bits = max(self.config.bits, level.bit_length())
            out = tuple(self.sensor + 2 * b + ((level >> b) & 1) for b in range(bits))
            return (*out, self.sensor + _BELOW) if below else out
        level = int(x)
        level = 0 if level < 0 else (self.top if level > self.top else level)
        return tuple(self.sensor + 2 * b + ((level >> b) & 1) for b in range(self.config.bits))

    def score(self, value: float) -> float:
        """Score ``value`` (after the points before it), then learn it."""
        raw = self.raw(value)  # may start a fresh store, and with it a fresh rest period
        return self.rest(raw)

    def raw(self, value: float) -> float:
        """The raw score of ``value`` (before the rest period), then learn it."""
        c = self.config
        facts = self.facts(value)
        surprised = not c.gate or any(f not in self.predicted for f in facts)
        if len(self.memory.contexts) >= c.max_contexts:
            self.memory = _Memory(c.max_left_len, c.max_contexts)
            self.left, self.predicted = (), set()
            self.rest = RestPeriod(c.base_threshold, c.rest_period)
            self.resets += 1
        raw = self._step(facts)
        return raw if surprised else 0.0

    def _step(self, facts: tuple[int, ...]) -> float:
        mem = self.memory
        new_zero = False
        if self.left:
            new_zero = mem.add(self.left, facts, zero=True)
        confirmed, selected, candidates = mem.confirm(facts, new_zero)
        unique = set(candidates)
        if self.left:
            unique.add((self.left, facts))
        share_active = len(confirmed) / selected if selected else 0.0
        confirmed.sort(key=lambda x: (x.activations, x.left.key, x.right.key))
        neurons = {_NEURON + x.cid for x in confirmed[-self.config.max_active_neurons :]}
        self.left = tuple(sorted(neurons.union(facts)))
        added = sum(mem.add(lf, rf, zero=False) for lf, rf in candidates)
        if self.config.gate:
            self.predicted = mem.predict(self.left)
        else:
            mem.cross_left(self.left)
        added += 1 if new_zero else 0
        share_new = added / len(unique) if new_zero and unique else 0.0
        return (1.0 - share_active + share_new) / 2.0


def cadose_scores(values: Sequence[float], config: CadOseConfig | None = None) -> list[float]:
    """NAB's run of CAD-OSE on a whole file: range = the file's min and max (a look-ahead:
    for comparing with NAB's published scores, not for streams)."""
    det = CadOse(min(values), max(values), config)
    return [det.score(v) for v in values]


class OnlineCadOse(ReplayStart[CadOse]):
    """CAD-OSE on a stream: the range is learned over the first ``warmup`` points (scored 0),
    which are then replayed into the detector; see the module doc."""

    def __init__(self, config: CadOseConfig | None = None) -> None:
        self.config = cfg = config or CadOseConfig()
        super().__init__(cfg.warmup, lambda buf: CadOse(min(buf), max(buf), cfg, extend=True))
