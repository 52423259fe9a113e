"""The Numenta Anomaly Benchmark's scoring rules, written from NAB's documentation.

Why here and not a dependency: NAB is not a package on PyPI (it is a research repository with
pinned Python 2-era dependencies), and its scorer is a few rules. They are (Lavin & Ahmad,
"Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark", 2015, and
the NAB wiki):

- The first 15 % of each file (at most 750 rows) is probationary: nothing there is scored.
- A detection is a row whose anomaly score is at or above the threshold.
- Inside a labelled window only the *earliest* detection counts, rewarded by a scaled sigmoid
  of its relative position: ``2 * sigmoid(-5 * p) - 1`` with ``p = -(right - i + 1) / width``
  (``-1`` at the window's left edge, close to 0 at its right edge), normalised so that a
  detection at the left edge earns ``A_TP``. A window without a detection costs ``A_FN``.
- Every detection outside a window is a false positive costing ``A_FP`` times the same
  sigmoid of its distance past the previous window's right edge (in window widths), i.e. less
  right after a window and the full ``A_FP`` far from one (or before the first window).
- One threshold for the whole corpus, the one that maximises the summed raw score.
- The normalised score is ``100 * (raw - null) / (perfect - null)``, where the null detector
  misses every window (``-A_FN`` each) and the perfect one detects each at its left edge.

Profiles (NAB's ``config/profiles.json``): standard (A_TP 1, A_FP 0.11, A_FN 1), reward low
FP (A_FP 0.22), reward low FN (A_FN 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PROFILES", "FileScoring", "Profile", "prepare", "scaled_sigmoid", "score_corpus"]


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(position: float) -> float:
    """NAB's reward/penalty of a detection at a relative position (see the module doc)."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True)
class FileScoring:
    """One file, prepared: per scorable row its window (-1 = none) and weight factor."""

    window: np.ndarray
    """Window index per scorable row, -1 outside any window."""
    sigmoid: np.ndarray
    """Per scorable row: TP reward (inside a window, in units of A_TP) or FP factor (<= 0)."""
    scores: np.ndarray
    n_windows: int


def prepare(
    n_rows: int, windows: Sequence[tuple[int, int]], scores: Sequence[float]
) -> FileScoring:
    """Prepare a file: ``windows`` are (first_row, last_row) inclusive, sorted."""
    if len(scores) != n_rows:
        raise ValueError(f"{len(scores)} scores for {n_rows} rows")
    probation = int(min(math.floor(0.15 * n_rows), 0.15 * 5000))
    max_tp = scaled_sigmoid(-1.0)
    win = np.full(n_rows, -1, dtype=np.int64)
    sig = np.zeros(n_rows)
    prev_right: int | None = None
    prev_width = 0.0
    wi = 0
    for i in range(n_rows):
        while wi < len(windows) and i > windows[wi][1]:
            prev_right, prev_width = windows[wi][1], float(windows[wi][1] - windows[wi][0] + 1)
            wi += 1
        if wi < len(windows) and windows[wi][0] <= i <= windows[wi][1]:
            left, right = windows[wi]
            width = float(right - left + 1)
            win[i] = wi
            sig[i] = scaled_sigmoid(-(right - i + 1) / width) / max_tp
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / max(prev_width - 1, 1.0)
            sig[i] = scaled_sigmoid(past)
    keep = slice(probation, n_rows)
    return FileScoring(win[keep], sig[keep], np.asarray(scores, dtype=float)[keep], len(windows))


def _sweep(
    s: np.ndarray, w: np.ndarray, sig: np.ndarray, p: Profile, n_windows: int, total0: float
) -> tuple[float, float, int]:
    """The best (total, threshold, rows) over thresholds at every distinct score, rows sorted by
    score, highest first. Vectorised form of the sweep: a false positive adds its weight; a
    window's reward is the best (earliest) of its detections so far, so each detection adds
    the rise of its window's running maximum reward (from ``-A_FN``)."""
    n = len(s)
    delta = np.where(w < 0, sig * p.fp, 0.0)
    inside = np.flatnonzero(w >= 0)
    if len(inside):
        wi = w[inside]
        reward = sig[inside] * p.tp
        # running maximum per window in sweep order: group rows by window, stable in order
        by = np.argsort(wi, kind="stable")
        g, r = wi[by], reward[by]
        starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
        run = np.empty_like(r)
        for a, b in zip(starts, np.r_[starts[1:], len(r)], strict=True):
            run[a:b] = np.maximum.accumulate(np.maximum(r[a:b], -p.fn))
        prev = np.empty_like(run)
        prev[:] = -p.fn
        same = np.r_[False, g[1:] == g[:-1]]
        prev[same] = run[np.flatnonzero(same) - 1]
        gain = np.empty_like(run)
        gain[by] = run - prev
        delta[inside] = gain
    total = total0 + np.cumsum(delta)
    # a threshold sits at the last row of each group of equal scores
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), n - 1] if n else np.array([], dtype=np.int64)
    best = (total0, 1.1, 0)
    if n:
        k = int(last[np.argmax(total[last])])
        # the first maximum in sweep order, as the loop's strict ">" keeps
        if total[k] > total0:
            best = (float(total[k]), float(s[k]), k + 1)
    return best


def score_corpus(files: Mapping[str, FileScoring], profile: str = "standard") -> dict[str, object]:
    """Sweep every distinct score as the corpus-wide threshold (highest first, as NAB's
    sweep optimiser does) and report the best normalised score, with per-file raw scores."""
    p = PROFILES[profile]
    n_windows = 0
    window_ids = []
    for f in files.values():
        present = np.unique(f.window[f.window >= 0])
        ids = n_windows + np.searchsorted(present, f.window)
        window_ids.append(np.where(f.window >= 0, ids, -1).astype(np.int64))
        n_windows += len(present)
    scores = np.concatenate([f.scores for f in files.values()])
    win = np.concatenate(window_ids)
    sig = np.concatenate([f.sigmoid for f in files.values()])
    order = np.argsort(-scores, kind="stable")
    total0 = -p.fn * n_windows
    best = _sweep(scores[order], win[order], sig[order], p, n_windows, total0)
    threshold = best[1]
    per_file: dict[str, float] = {}
    for name, f in files.items():
        hit = f.scores >= threshold
        raw = float(np.sum(f.sigmoid[hit & (f.window < 0)])) * p.fp
        for w in sorted(set(f.window[f.window >= 0].tolist())):
            rows = np.flatnonzero(hit & (f.window == w))
            raw += f.sigmoid[rows[0]] * p.tp if len(rows) else -p.fn
        per_file[name] = raw
    null = -p.fn * n_windows
    perfect = p.tp * n_windows
    return {
        "profile": profile,
        "threshold": threshold,
        "raw": best[0],
        "null": null,
        "perfect": perfect,
        "score": 100.0 * (best[0] - null) / (perfect - null),
        "per_file": per_file,
    }
