"""The collector's full passes over a service's long-lived heap (``gc.freeze``).

A service's heap is mostly long-lived: the topology store, the twin's network, and the
pipeline's state (the detector's per-series state grows to millions of objects at 10,000
devices). CPython's full (generation 2) collection walks all of it each time the objects
promoted since the last one reach a quarter of it: in ``netvigil bench scale --devices 10000``
31 full collections took 27 of the process's ~115 CPU seconds, each charged to whichever call
it fell in (docs/scale.md, "The collector").

:func:`settle` (called by :meth:`netvigil.service.Service.build` when
``storage.freeze_heap`` is on, once the topology is loaded and the processors and the twin
are made; off by default, see docs/scale.md) does two things:

- it collects and freezes what is alive (``gc.freeze``): those objects are left out of every
  later collection; they are still freed when their last reference goes;
- it makes every automatic full collection freeze its survivors when it ends, so the next
  one walks only what was promoted since; every :data:`THAW_EVERY`-th one unfreezes instead,
  so the one after it walks the whole heap.

What freezing gives up is collecting a frozen object that later becomes *cyclic* garbage.
The thaw bounds that: such garbage lives until the next whole-heap collection, at most
:data:`THAW_EVERY` full collections later. A second build in the same process (a reload:
tests, ``bench rca`` over many topologies) unfreezes and collects first, so the last build's
cycles go and the frozen set does not grow with the number of builds
(``tests/unit/test_heap.py``).

Measured (docs/scale.md, "The collector"): at 10,000 devices the full collections' CPU went
from 33 to 23 CPU s with the thaw every 8th, to 4.5 without it; the thaw is the bound on
frozen cyclic garbage, and what a growth-based thaw could make cheaper.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["THAW_EVERY", "release", "settle"]

THAW_EVERY = 8
"""Every this many automatic full collections, the heap is unfrozen so the next one walks all
of it (and frees frozen objects that became cyclic garbage)."""

_full = [0]


def _after_full(phase: str, info: dict[str, Any]) -> None:
    if phase != "stop" or info["generation"] != 2:
        return
    _full[0] += 1
    if _full[0] % THAW_EVERY == 0:
        gc.unfreeze()
    else:
        gc.freeze()


def settle() -> None:
    """Collect, then freeze what is alive, and freeze the survivors of each automatic full
    collection from now on (see the module docstring). Idempotent; call it once the
    long-lived objects are made."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    if _after_full not in gc.callbacks:
        gc.callbacks.append(_after_full)


def release() -> None:
    """Undo :func:`settle`: no more freezing after full collections, and nothing frozen."""
    if _after_full in gc.callbacks:
        gc.callbacks.remove(_after_full)
    gc.unfreeze()
