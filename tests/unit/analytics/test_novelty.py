"""Contextual novelty (CAD-style) in constant memory."""

from __future__ import annotations

import math
import pickle

from netvigil.analytics.novelty import ContextNovelty


def test_a_repeating_pattern_becomes_familiar_and_a_new_one_is_novel() -> None:
    nov = ContextNovelty(bins=8, max_len=4)
    pattern = [math.sin(2 * math.pi * i / 24) for i in range(24)]
    scores = [nov.update(v) for _ in range(20) for v in pattern]
    assert max(scores[-240:]) == 0.0
    # the same values in another order: same range, new contexts
    shuffled = [pattern[(7 * i) % 24] for i in range(24)]
    assert max(nov.update(v) for v in shuffled) > 0.5


def test_forgetting_makes_an_old_context_new_again() -> None:
    nov = ContextNovelty(bins=4, max_len=2, forget=100)
    nov.update(0.0)
    nov.update(1.0)
    for _ in range(400):
        nov.update(0.0)
    assert nov.update(1.0) > 0.0  # seen once, 400 points (4 halvings) ago


def test_memory_is_constant() -> None:
    nov = ContextNovelty()
    for i in range(100):
        nov.update(float(i % 13))
    size = len(pickle.dumps(nov))
    for i in range(20000):
        nov.update(float((i * 7919) % 101))
    assert len(pickle.dumps(nov)) <= size + 16
