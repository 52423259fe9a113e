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


def score_corpus(files: Mapping[str, FileScoring], profile: str = "standard") -> dict[str, object]:
    """Sweep every distinct score as the corpus-wide threshold (highest first, as NAB's
    sweep optimiser does) and report the best normalised score, with per-file raw scores."""
    p = PROFILES[profile]
    parts: list[float] = []  # per window: its current best reward (starts at -A_FN)
    offsets = []
    for f in files.values():
        offsets.append(len(parts))
        parts.extend([-p.fn] * len(set(f.window[f.window >= 0].tolist())))
    n_windows = len(parts)
    scores = np.concatenate([f.scores for f in files.values()])
    window_ids = []
    for k, f in enumerate(files.values()):
        present = sorted(set(f.window[f.window >= 0].tolist()))
        remap = {w: offsets[k] + j for j, w in enumerate(present)}
        window_ids.append(np.array([remap.get(int(w), -1) for w in f.window], dtype=np.int64))
    win = np.concatenate(window_ids)
    sig = np.concatenate([f.sigmoid for f in files.values()])
    order = np.argsort(-scores, kind="stable")
    total = -p.fn * n_windows
    best = (total, 1.1, 0)  # threshold above every score: nothing detected
    i = 0
    n = len(order)
    while i < n:
        t = scores[order[i]]
        while i < n and scores[order[i]] == t:
            j = order[i]
            w = win[j]
            if w < 0:
                total += sig[j] * p.fp
            else:
                reward = sig[j] * p.tp
                if reward > parts[w]:
                    total += reward - parts[w]
                    parts[w] = reward
            i += 1
        if total > best[0]:
            best = (total, float(t), i)
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
