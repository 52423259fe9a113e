"""The web page: static files under ``/ui`` (no token: the page asks for one), ``/`` sends
there."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from netvigil.api.guard import console_router

__all__ = ["mount_page", "router"]

router = console_router()


@router.get("/", include_in_schema=False)
async def index() -> RedirectResponse:
    return RedirectResponse("/ui/index.html")


def mount_page(app: FastAPI) -> None:
    """Serve the page's files under ``/ui`` (a mount: routers cannot carry one)."""
    app.mount("/ui", StaticFiles(directory=str(files("netvigil.api") / "static")), name="ui")
