"""The collector's full passes over a service's long-lived heap (``gc.freeze``).

A service's heap is mostly long-lived: the topology store, the twin's network, and the
pipeline's state (the detector's per-series state grows to millions of objects at 10,000
devices). CPython's full (generation 2) collection walks all of it each time the objects
promoted since the last one reach a quarter of it: in ``netvigil bench scale --devices 10000``
31 full collections took 27 of the process's ~115 CPU seconds, each charged to whichever call
it fell in (docs/scale.md, "The collector").

:func:`settle` (called by :meth:`netvigil.service.Service.build`, once the topology is loaded
and the processors and the twin are made) does two things:

- it collects and freezes what is alive (``gc.freeze``): those objects are left out of every
  later collection; they are still freed when their last reference goes;
- it makes every full collection freeze its survivors when it ends, so the next one walks
  only what was promoted since; when the frozen set has grown :data:`GROWTH` (2) times over
  since the last whole-heap collection, it is unfrozen, so the next one walks the whole heap.

What freezing gives up is collecting a frozen object that later becomes *cyclic* garbage.
The thaw bounds that: such garbage lives until the next whole-heap collection, so it is at
most what the heap held at the last one (the frozen set doubles between them); the
whole-heap work is amortised over a doubling of the heap, where CPython's own rule walks the
heap at each quarter's growth. A second build in the same process (a reload:
tests, ``bench rca`` over many topologies) unfreezes and collects first, so the last build's
cycles go and the frozen set does not grow with the number of builds
(``tests/unit/test_heap.py``).

Measured in docs/scale.md, "The collector".
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["GROWTH", "settle"]

GROWTH = 2.0
"""When the frozen set has grown this many times over since the last whole-heap collection,
it is unfrozen, so the next full collection walks all of it (and frees frozen objects that
became cyclic garbage)."""

_base = [0]
"""Objects frozen after the last whole-heap collection."""
_thawed = [False]
"""The heap was unfrozen: the next full collection walks all of it."""


def _after_full(phase: str, info: dict[str, Any]) -> None:
    if phase != "stop" or info["generation"] != 2:
        return
    gc.freeze()
    frozen = gc.get_freeze_count()
    if _thawed[0]:  # this collection walked the whole heap
        _thawed[0] = False
        _base[0] = frozen
    elif frozen > GROWTH * _base[0]:
        gc.unfreeze()
        _thawed[0] = True


def settle() -> None:
    """Collect, then freeze what is alive, and freeze the survivors of each automatic full
    collection from now on (see the module docstring). Idempotent; call it once the
    long-lived objects are made."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _base[0], _thawed[0] = gc.get_freeze_count(), False
    if _after_full not in gc.callbacks:
        gc.callbacks.append(_after_full)
