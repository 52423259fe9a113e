"""The console's routes, one module per resource; :data:`ROUTERS` lists them in the order
the OpenAPI spec shows them. Every router uses :class:`~netvigil.api.guard.ConsoleRoute`."""

from __future__ import annotations

from fastapi import APIRouter

from netvigil.api.routes import (
    actions,
    audit,
    health,
    incidents,
    prevention,
    services,
    static,
    tokens,
    topology,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    tokens.router,
    incidents.router,
    topology.router,
    services.router,
    actions.router,
    prevention.router,
    audit.router,
    static.router,
)
