"""How async processors call the synchronous TopologyStore without blocking the event loop.

The store interface stays synchronous (importers, the CLI and the twin are synchronous, and one
interface keeps both stores under one contract suite). A processor wraps its store in
:class:`AsyncTopology` and awaits ``call``:

- an in-process store (``io_bound = False``, the embedded networkx one) is called inline: its
  answers take microseconds, and a thread hop would cost more than the call;
- a network-backed store (Neo4j) runs in a worker thread (``asyncio.to_thread``), so a slow
  query or the driver's retries while the server restarts delay only the processor awaiting
  it, never the loop that the other processors and the sources share. The official driver is
  thread-safe and each call opens its own session, so no lock is needed.

The async driver was the alternative; it would have forced a second, async store interface
(two implementations of every query to keep in step) for a stage that asks a few queries per
incident update, which a thread serves as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from netvigil.graph.base import TopologyStore

__all__ = ["AsyncTopology"]

P = ParamSpec("P")
T = TypeVar("T")


class AsyncTopology:
    """Awaitable access to a TopologyStore: inline when in-process, in a thread otherwise."""

    def __init__(self, store: TopologyStore) -> None:
        self.store = store
        self.threaded = bool(getattr(store, "io_bound", True))

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``await aio.call(store.subgraph, entities, 2)``."""
        if not self.threaded:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)
