"""The console's HTTP API (FastAPI): incidents, services, actions, breaker, policy, audit,
topology; one router per resource in :mod:`netvigil.api.routes`.

Every route but ``/healthz``, ``/readyz`` and the page needs a bearer token; the role a route
needs is part of its signature (``tok: Operator``), so the rule is visible where the route is,
and it is checked before the body is read (:mod:`netvigil.api.guard`). Routes are ``async`` on
purpose: the stores are SQLite connections owned by the service's event loop thread, and async
handlers run on that loop, never in a thread pool.

Errors are answered, never raised through: unknown things are 404, lost races 409, bad values
and malformed bodies 422, refused tokens 401/403, too many failed logins 429, bodies over
``api.max_body_bytes`` 413, a damaged token file 503. Every response, errors included, carries
the security headers (:mod:`netvigil.api.middleware`). No response or log line carries a token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from netvigil import __version__
from netvigil.api.auth import TokenFileDamaged
from netvigil.api.base import Conflict, NotFound
from netvigil.api.console import Console
from netvigil.api.metrics import make_registry
from netvigil.api.middleware import edge
from netvigil.api.routes import ROUTERS
from netvigil.api.routes.static import mount_page
from netvigil.config import ApiSettings

__all__ = ["Console", "create_app"]

log = logging.getLogger(__name__)


class _ConsoleApp(FastAPI):
    """FastAPI behind the console's edge: the forwarded-address rule and security headers
    wrap the whole stack, outside the error middleware, so a 500 carries the headers too."""

    trusted_proxies: Sequence[str] = ()

    def build_middleware_stack(self) -> ASGIApp:
        return edge(super().build_middleware_stack(), self.trusted_proxies)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _tokens_damaged(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s", exc)
    detail = "the console's token file is damaged; an administrator must repair it (see the log)"
    return JSONResponse({"detail": detail}, status_code=503)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """422 naming where and what, without echoing the input (it may be huge, a secret, or
    not representable as JSON: NaN, lone surrogates)."""
    assert isinstance(exc, RequestValidationError)
    detail = []
    for e in exc.errors():
        msg = str(e.get("msg", ""))
        reason = (e.get("ctx") or {}).get("error")
        if isinstance(reason, str) and e.get("type") == "json_invalid":
            msg = f"{msg}: {reason}"
        detail.append({"type": str(e.get("type", "")), "loc": list(e.get("loc", ())), "msg": msg})
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(console: Console, settings: ApiSettings | None = None) -> FastAPI:
    """The console application over ``console``, with the limits of ``settings`` (``api.*``).

    Raises :class:`~netvigil.api.auth.TokenFileDamaged` when the token file cannot be read, so
    a service with a damaged file fails at start instead of answering every request with 503.
    """
    settings = settings or ApiSettings()
    console.tokens.list()  # fails now, not at the first request
    app = _ConsoleApp(
        title="NetVigil operator console",
        version=__version__,
        description="Incidents, pending actions, circuit breaker, autonomy policy, audit log "
        "and topology of a NetVigil service. Every route but health needs a bearer token.",
        openapi_url=None,  # served by routes.health, behind a token like everything but health
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_body_bytes,
    )
    app.trusted_proxies = tuple(settings.trusted_proxies)
    app.state.console = console
    make_registry(console)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(TokenFileDamaged, _tokens_damaged)
    app.add_exception_handler(RequestValidationError, _invalid)
    for router in ROUTERS:
        app.include_router(router)
    mount_page(app)
    return app
