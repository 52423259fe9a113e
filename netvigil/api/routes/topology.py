"""The topology around a device, interface or link, laid out for drawing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from netvigil.api.guard import ConsoleDep, Viewer, console_router
from netvigil.api.schemas import TopologyOut
from netvigil.api.topology import subgraph

__all__ = ["router"]

router = console_router()


@router.get("/api/topology", tags=["topology"])
async def topology(
    tok: Viewer,
    console: ConsoleDep,
    entity: Annotated[str, Query(min_length=1, max_length=256)],
    hops: Annotated[int, Query(ge=0, le=3)] = 1,
) -> TopologyOut:
    """The subgraph within ``hops`` of a device, interface or link."""
    return subgraph(console.topology, entity, hops, {entity})
