"""The web page: static files under ``/ui`` (no token: the page asks for one), ``/`` sends
there, and ``/favicon.ico`` (where clients that ignore the page's icon link look) to its
icon."""

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


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> RedirectResponse:
    return RedirectResponse("/ui/favicon.svg", status_code=301)


def mount_page(app: FastAPI) -> None:
    """Serve the page's files under ``/ui`` (a mount: routers cannot carry one)."""
    app.mount("/ui", StaticFiles(directory=str(files("netvigil.api") / "static")), name="ui")
