"""Health (open to all), Prometheus metrics and the OpenAPI spec (viewer token)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from netvigil.api.guard import ConsoleDep, Viewer, console_router
from netvigil.api.schemas import Health

__all__ = ["router"]

router = console_router()


@router.get("/healthz", tags=["health"])
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", tags=["health"], responses={503: {"model": Health}})
async def readyz(console: ConsoleDep) -> Any:
    """Readiness: the pipeline runs and the stores answer."""
    if not console.ready():
        return JSONResponse(Health(status="starting").model_dump(), status_code=503)
    return Health(status="ok")


@router.get("/metrics", tags=["metrics"], response_class=Response)
async def metrics(tok: Viewer, console: ConsoleDep) -> Response:
    """Prometheus text format (scrape with a viewer token as bearer)."""
    return Response(generate_latest(console.meters.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(tok: Viewer, request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
