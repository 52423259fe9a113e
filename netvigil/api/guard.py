"""Who may call a route, checked before anything else of the request is read.

A route states the role it needs in its signature (``tok: Viewer``, ``Operator``, ``Admin``).
Every console route is a :class:`ConsoleRoute`, which checks that role *before* FastAPI reads
the body: FastAPI reads and parses a body before it runs a route's dependencies, so without
this an unauthenticated client could make the service read (and hold) any body it sends. The
dependency then finds the check already done for this request and returns its record.

Bodies are parsed strictly (:class:`StrictJSONRequest`): ``NaN``/``Infinity`` (also as
``1e999``), invalid UTF-8 and lone surrogates (``"\\ud800"``) are refused as 422, because
Python's :mod:`json` accepts them and they cannot be stored, audited or answered as JSON.

Failed logins are counted per client address (:class:`~netvigil.api.auth.FailureLimiter`);
the address is the connecting one, or the one a configured reverse proxy reports
(``api.trusted_proxies``, see :mod:`netvigil.api.middleware`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from netvigil.api.auth import ROLES, Role, TokenRecord, role_allows
from netvigil.api.console import Console

__all__ = [
    "Admin",
    "ConsoleDep",
    "ConsoleRoute",
    "Ident",
    "Need",
    "Operator",
    "StrictJSONRequest",
    "Viewer",
    "console_of",
    "console_router",
]

bearer = HTTPBearer(auto_error=False, description="A token from `netvigil api token create`.")
Ident = Annotated[str, Path(min_length=1, max_length=128)]


def console_of(request: Request) -> Console:
    """The console the application serves (routes take it as ``console: ConsoleDep``)."""
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(console_of)]
"""The console, as a route parameter (``console: ConsoleDep``)."""


def _authenticate(
    request: Request, creds: HTTPAuthorizationCredentials | None, role: Role
) -> TokenRecord:
    console = console_of(request)
    client = request.client.host if request.client else "unknown"
    wait = console.limiter.blocked_for(client)
    if wait > 0:
        raise HTTPException(
            429,
            "too many failed logins from this address; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    rec = console.tokens.check(creds.credentials) if creds else None
    if rec is None:
        console.limiter.fail(client)
        console.meters.auth_failures.inc()
        raise HTTPException(
            401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    if not role_allows(rec.role, role):
        raise HTTPException(403, f"this needs the {role} role; your token is {rec.role}")
    return rec


@dataclass(frozen=True)
class Need:
    """A dependency that admits a valid token of at least ``role``."""

    role: Role

    async def __call__(
        self,
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> TokenRecord:
        done: tuple[Role, TokenRecord] | None = getattr(request.state, "token", None)
        if done is not None and done[0] == self.role:
            return done[1]  # checked by ConsoleRoute before the body was read
        return _authenticate(request, creds, self.role)


Viewer = Annotated[TokenRecord, Depends(Need("viewer"))]
Operator = Annotated[TokenRecord, Depends(Need("operator"))]
Admin = Annotated[TokenRecord, Depends(Need("admin"))]


def _needs(dependant: Dependant) -> list[Need]:
    found = [dependant.call] if isinstance(dependant.call, Need) else []
    return found + [n for d in dependant.dependencies for n in _needs(d)]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999
        raise ValueError(f"{text} is out of range")
    return value


def _check_text(value: Any) -> None:
    """Raise ValueError on a string (or key) that is not valid Unicode (a lone surrogate)."""
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k)
            _check_text(v)
    elif isinstance(value, list):
        for v in value:
            _check_text(v)


class StrictJSONRequest(Request):
    """A request whose JSON body must be standard JSON in valid UTF-8 (else 422)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                text = body.decode("utf-8")
                value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
                _check_text(value)
            except json.JSONDecodeError:
                raise
            except ValueError as exc:  # UnicodeError, NaN/Infinity, lone surrogates
                raise json.JSONDecodeError(
                    str(exc).split(":")[0], body.decode("utf-8", "replace"), 0
                ) from None
            self._json = value
        return self._json


class ConsoleRoute(APIRoute):
    """A route that checks its token before its body is read, and reads JSON strictly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        needs = _needs(self.dependant)
        role = max((n.role for n in needs), key=ROLES.index, default=None)

        async def route(request: Request) -> Response:
            if role is not None:
                creds = await bearer(request)
                request.state.token = (role, _authenticate(request, creds, role))
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return route


def console_router() -> APIRouter:
    """A router whose routes are :class:`ConsoleRoute` (one per resource module)."""
    return APIRouter(route_class=ConsoleRoute)
