"""Who am I: the name and role of the presented token (tokens are managed by the CLI,
``netvigil api token``, never over HTTP)."""

from __future__ import annotations

from netvigil.api.guard import Viewer, console_router
from netvigil.api.schemas import Me

__all__ = ["router"]

router = console_router()


@router.get("/api/me", tags=["auth"])
async def me(tok: Viewer) -> Me:
    """The name and role of the presented token (never the token)."""
    return Me(name=tok.name, role=tok.role)
