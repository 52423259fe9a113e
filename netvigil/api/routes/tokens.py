"""Who am I: the name and role of the presented token (tokens are managed by the CLI,
``netvigil api token``, never over HTTP)."""

from __future__ import annotations

from fastapi import APIRouter

from netvigil.api.guard import ConsoleRoute, Viewer
from netvigil.api.schemas import Me

__all__ = ["router"]

router = APIRouter(route_class=ConsoleRoute)


@router.get("/api/me", tags=["auth"])
async def me(tok: Viewer) -> Me:
    """The name and role of the presented token (never the token)."""
    return Me(name=tok.name, role=tok.role)
