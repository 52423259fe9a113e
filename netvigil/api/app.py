"""The console's HTTP API (FastAPI): incidents, services, actions, breaker, policy, audit,
topology.

Every route but ``/healthz`` and ``/readyz`` needs a bearer token; the role a route needs is
part of its declaration (``_need("operator")``), so the rule is visible where the route is.
Routes are ``async`` on purpose: the stores are SQLite connections owned by the service's event
loop thread, and async handlers run on that loop, never in a thread pool.

Errors are answered, never raised through: unknown things are 404, lost races 409, bad values
422, refused tokens 401/403, too many failed logins 429. No response or log line carries a
token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from netvigil import __version__
from netvigil.analytics.slo import SLO
from netvigil.api.auth import FailureLimiter, TokenRecord, TokenStore, role_allows
from netvigil.api.base import ActionQueue, Breaker, Conflict, NotFound, Policy
from netvigil.api.metrics import Meters, make_registry
from netvigil.api.prevention import PreventionDesk, prevention_router
from netvigil.api.schemas import (
    ActionOut,
    AuditOut,
    BreakerIn,
    BreakerOut,
    DecisionIn,
    Health,
    IncidentDetail,
    IncidentSummary,
    Me,
    PhaseIn,
    PolicyOut,
    ServiceOut,
    TopologyOut,
    VerifyOut,
    action_out,
    audit_out,
    breaker_out,
    incident_detail,
    incident_summary,
)
from netvigil.api.services import SloBoard, services_view
from netvigil.api.topology import subgraph
from netvigil.graph.base import TopologyStore
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.incidents import IncidentStore

__all__ = ["Console", "create_app"]


@dataclass
class Console:
    """Everything the console reads or acts on; the service builds one, tests build their own."""

    incidents: IncidentStore
    audit: AuditLog
    topology: TopologyStore
    tickets: TicketBackend
    actions: ActionQueue
    breaker: Breaker
    policy: Policy
    tokens: TokenStore
    stats: Callable[[], dict[str, dict[str, int]]] = dict
    dead_letter_count: Callable[[], int] = lambda: 0
    ready: Callable[[], bool] = lambda: True
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    meters: Meters = field(default_factory=Meters)
    slos: Sequence[SLO] = ()
    slo_board: SloBoard = field(default_factory=SloBoard)
    prevention: PreventionDesk | None = None
    """Risks, track records, judgements and suppressions (:mod:`netvigil.api.prevention`)."""


_bearer = HTTPBearer(auto_error=False, description="A token from `netvigil api token create`.")
Ident = Annotated[str, Path(min_length=1, max_length=128)]


def _need(role: str) -> Callable[..., Any]:
    """A dependency that admits a valid token of at least ``role``."""

    async def check(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenRecord:
        console: Console = request.app.state.console
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

    return check


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

Viewer = Annotated[TokenRecord, Depends(_need("viewer"))]
Operator = Annotated[TokenRecord, Depends(_need("operator"))]
Admin = Annotated[TokenRecord, Depends(_need("admin"))]


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="NetVigil operator console",
        version=__version__,
        description="Incidents, pending actions, circuit breaker, autonomy policy, audit log "
        "and topology of a NetVigil service. Every route but health needs a bearer token.",
        openapi_url=None,  # served below, behind a token like everything but health
        docs_url=None,
        redoc_url=None,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        # the page holds a bearer token: no foreign scripts, no framing, no caching of data
        response: Response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    registry = make_registry(console)
    app.state.console = console

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    # ------------------------------------------------------------ health (open)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], responses={503: {"model": Health}})
    async def readyz() -> Any:
        """Readiness: the pipeline runs and the stores answer."""
        if not console.ready():
            return JSONResponse(Health(status="starting").model_dump(), status_code=503)
        return Health(status="ok")

    # ------------------------------------------------------------ who am I

    @app.get("/api/me", tags=["auth"])
    async def me(tok: Viewer) -> Me:
        """The name and role of the presented token (never the token)."""
        return Me(name=tok.name, role=tok.role)

    # ------------------------------------------------------------ incidents

    @app.get("/api/incidents", tags=["incidents"])
    async def list_incidents(
        tok: Viewer,
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

    @app.get("/api/incidents/{fingerprint}", tags=["incidents"])
    async def get_incident(fingerprint: Ident, tok: Viewer) -> IncidentDetail:
        """One incident: root-cause ranking with evidence, signal timeline, impact, ticket."""
        found = console.incidents.get(fingerprint)
        if found is None:
            raise NotFound(f"no incident {fingerprint!r}")
        return incident_detail(*found)

    @app.get("/api/incidents/{fingerprint}/topology", tags=["incidents", "topology"])
    async def incident_topology(
        fingerprint: Ident, tok: Viewer, hops: Annotated[int, Query(ge=0, le=3)] = 1
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

    # ------------------------------------------------------------ topology

    @app.get("/api/topology", tags=["topology"])
    async def topology(
        tok: Viewer,
        entity: Annotated[str, Query(min_length=1, max_length=256)],
        hops: Annotated[int, Query(ge=0, le=3)] = 1,
    ) -> TopologyOut:
        """The subgraph within ``hops`` of a device, interface or link."""
        return subgraph(console.topology, entity, hops, {entity})

    # ------------------------------------------------------------ services

    @app.get("/api/services", tags=["services"])
    async def list_services(tok: Viewer) -> list[ServiceOut]:
        """Services with their paths, SLOs (burn state, budget left) and open incidents."""
        opened = [inc for inc, _ in console.incidents.list("open")]
        return services_view(console.topology, console.slos, console.slo_board, opened)

    # ------------------------------------------------------------ actions

    @app.get("/api/actions", tags=["actions"])
    async def list_actions(
        tok: Viewer,
        status: Annotated[str | None, Query(max_length=32)] = None,
        incident: Annotated[str | None, Query(max_length=128)] = None,
    ) -> list[ActionOut]:
        """Proposed and decided remediation actions."""
        acts = console.actions.list(status)
        return [action_out(a) for a in acts if incident is None or a.incident == incident]

    @app.get("/api/actions/{request_id}", tags=["actions"])
    async def get_action(request_id: Ident, tok: Viewer) -> ActionOut:
        return action_out(console.actions.get(request_id))

    _conflict_doc: dict[int | str, dict[str, Any]] = {
        404: {"description": "no such action"},
        409: {"description": "already decided otherwise or by someone else"},
    }

    @app.post("/api/actions/{request_id}/approve", tags=["actions"], responses=_conflict_doc)
    async def approve(request_id: Ident, body: DecisionIn, tok: Operator) -> ActionOut:
        """Approve once (operator). Repeating your own approval is harmless; 409 otherwise."""
        return action_out(
            await console.actions.decide(request_id, "approved", tok.name, body.reason)
        )

    @app.post("/api/actions/{request_id}/reject", tags=["actions"], responses=_conflict_doc)
    async def reject(request_id: Ident, body: DecisionIn, tok: Operator) -> ActionOut:
        """Reject once (operator). Repeating your own rejection is harmless; 409 otherwise."""
        return action_out(
            await console.actions.decide(request_id, "rejected", tok.name, body.reason)
        )

    # ------------------------------------------------------------ breaker, policy

    @app.get("/api/breaker", tags=["breaker"])
    async def get_breaker(tok: Viewer) -> BreakerOut:
        return breaker_out(console.breaker.view())

    @app.post("/api/breaker/trip", tags=["breaker"])
    async def trip(body: BreakerIn, tok: Operator) -> BreakerOut:
        """Open the breaker (operator): no action runs until an admin resets it."""
        return breaker_out(await console.breaker.trip(tok.name, body.reason))

    @app.post("/api/breaker/reset", tags=["breaker"])
    async def reset(body: BreakerIn, tok: Admin) -> BreakerOut:
        """Close the breaker again (admin)."""
        return breaker_out(await console.breaker.reset(tok.name, body.reason))

    @app.get("/api/policy", tags=["policy"])
    async def get_policy(tok: Viewer) -> PolicyOut:
        """The deployment phase of each domain."""
        return PolicyOut(phases=console.policy.phases())

    @app.put("/api/policy/{domain}", tags=["policy"], responses={404: {"description": "domain"}})
    async def set_policy(domain: Ident, body: PhaseIn, tok: Admin) -> PolicyOut:
        """Change one domain's phase (admin)."""
        return PolicyOut(phases=await console.policy.set_phase(domain, body.phase, tok.name))

    # ------------------------------------------------------------ audit

    @app.get("/api/audit", tags=["audit"])
    async def audit(
        tok: Viewer,
        subject: Annotated[str | None, Query(max_length=256)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditOut]:
        """The newest audit records first, optionally for one subject or action."""
        recs = console.audit.records(subject=subject)
        if action:
            recs = [r for r in recs if r.action == action]
        return [audit_out(r) for r in reversed(recs[-limit:])]

    @app.get("/api/audit/verify", tags=["audit"])
    async def audit_verify(tok: Viewer) -> VerifyOut:
        """Recompute the hash chain."""
        v = console.audit.verify()
        return VerifyOut(ok=v.ok, records=v.records, problems=v.problems)

    # ------------------------------------------------------------ metrics, page

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    async def metrics(tok: Viewer) -> Response:
        """Prometheus text format (scrape with a viewer token as bearer)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(tok: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/ui/index.html")

    app.include_router(prevention_router(_need))
    app.mount("/ui", StaticFiles(directory=str(files("netvigil.api") / "static")), name="ui")
    return app
