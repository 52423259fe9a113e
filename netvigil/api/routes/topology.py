"""The topology around a device, interface or link, laid out for drawing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from netvigil.api.console import Console
from netvigil.api.guard import ConsoleRoute, Viewer, console_of
from netvigil.api.schemas import TopologyOut
from netvigil.api.topology import subgraph

__all__ = ["router"]

router = APIRouter(route_class=ConsoleRoute)


@router.get("/api/topology", tags=["topology"])
async def topology(
    tok: Viewer,
    console: Annotated[Console, Depends(console_of)],
    entity: Annotated[str, Query(min_length=1, max_length=256)],
    hops: Annotated[int, Query(ge=0, le=3)] = 1,
) -> TopologyOut:
    """The subgraph within ``hops`` of a device, interface or link."""
    return subgraph(console.topology, entity, hops, {entity})
