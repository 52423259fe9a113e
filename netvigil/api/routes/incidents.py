"""Incidents: the list, one incident's detail, and the topology around its root cause."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from netvigil.api.base import NotFound
from netvigil.api.guard import ConsoleDep, Ident, Viewer, console_router
from netvigil.api.schemas import (
    IncidentDetail,
    IncidentSummary,
    TopologyOut,
    incident_detail,
    incident_summary,
)
from netvigil.api.topology import subgraph

__all__ = ["router"]

router = console_router()


@router.get("/api/incidents", tags=["incidents"])
async def list_incidents(
    tok: Viewer,
    console: ConsoleDep,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    severity: Annotated[str | None, Query(max_length=32)] = None,
    entity: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentSummary]:
    """Incidents, newest first; filter by status, severity or an entity they involve."""
    rows = console.incidents.list(status)
    out = []
    for inc, ticket in reversed(rows):
        if severity and inc.severity != severity:
            continue
        if entity and not (
            any(entity in rc.entity for rc in inc.root_causes)
            or any(entity in a.entity for a in inc.anomalies)
        ):
            continue
        out.append(incident_summary(inc, ticket))
        if len(out) >= limit:
            break
    return out


@router.get("/api/incidents/{fingerprint}", tags=["incidents"])
async def get_incident(fingerprint: Ident, tok: Viewer, console: ConsoleDep) -> IncidentDetail:
    """One incident: root-cause ranking with evidence, signal timeline, impact, ticket."""
    found = console.incidents.get(fingerprint)
    if found is None:
        raise NotFound(f"no incident {fingerprint!r}")
    return incident_detail(*found)


@router.get("/api/incidents/{fingerprint}/topology", tags=["incidents", "topology"])
async def incident_topology(
    fingerprint: Ident,
    tok: Viewer,
    console: ConsoleDep,
    hops: Annotated[int, Query(ge=0, le=3)] = 1,
) -> TopologyOut:
    """The part of the topology around an incident's root cause, laid out for drawing."""
    found = console.incidents.get(fingerprint)
    if found is None:
        raise NotFound(f"no incident {fingerprint!r}")
    inc = found[0]
    if inc.root_cause is None:
        raise NotFound(f"incident {fingerprint} has no root cause to centre on")
    marked = {inc.root_cause.entity} | {a.entity for a in inc.anomalies}
    return subgraph(console.topology, inc.root_cause.entity, hops, marked)
