"""The console's security rules over HTTP: tokens everywhere but health, roles, lockout,
no secrets in responses, race-safe idempotent approvals."""

from __future__ import annotations

import asyncio

from netvigil.api.app import create_app
from tests.unit.api.conftest import Env

OPEN = {"/healthz", "/readyz"}


def _routes(env: Env) -> list[tuple[str, str]]:
    """Every documented route, from the spec (routers are included lazily by newer FastAPI,
    so ``app.routes`` does not list them)."""
    paths = create_app(env.console).openapi()["paths"]
    out = []
    for path, ops in paths.items():
        for m in ops:
            path = path.replace("{fingerprint}", "x").replace("{request_id}", "x")
            out.append((m.upper(), path.replace("{domain}", "routing")))
    return out


async def test_every_route_but_health_needs_a_token(env: Env) -> None:
    routes = _routes(env)
    assert len(routes) >= 15
    for method, path in routes:
        r = await env.client.request(method, path, json={})
        if path in OPEN:
            assert r.status_code in (200, 503), (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
        env.console.limiter._fails.clear()  # this test is not about the lockout


async def test_the_spec_needs_a_token_too_and_no_docs_page_is_served(env: Env) -> None:
    assert (await env.client.get("/openapi.json")).status_code == 401
    spec = (await env.client.get("/openapi.json", headers=env.auth("vera"))).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert (await env.client.get("/docs")).status_code == 404


async def test_security_headers_on_page_and_api(env: Env) -> None:
    page = await env.client.get("/ui/index.html")
    assert page.status_code == 200 and "console.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    api = await env.client.get("/api/me", headers=env.auth("vera"))
    assert api.headers["cache-control"] == "no-store"


async def test_the_icon_is_found_where_clients_look_for_it(env: Env) -> None:
    moved = await env.client.get("/favicon.ico")
    assert moved.status_code == 301 and moved.headers["location"] == "/ui/favicon.svg"
    icon = await env.client.get(moved.headers["location"])
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


async def test_roles(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[0].request_id
    assert (await c.get("/api/incidents", headers=env.auth("vera"))).status_code == 200
    r = await c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("vera"))
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    r = await c.post("/api/breaker/trip", json={"reason": "t"}, headers=env.auth("otto"))
    assert r.status_code == 200 and r.json()["open"] is True
    r = await c.post("/api/breaker/reset", json={}, headers=env.auth("otto"))
    assert r.status_code == 403
    r = await c.put("/api/policy/routing", json={"phase": "autonomous"}, headers=env.auth("otto"))
    assert r.status_code == 403
    assert (await c.post("/api/breaker/reset", json={}, headers=env.auth("ada"))).json()[
        "open"
    ] is False
    r = await c.put("/api/policy/routing", json={"phase": "autonomous"}, headers=env.auth("ada"))
    assert r.status_code == 200 and r.json()["phases"]["routing"] == "autonomous"
    actions = [a.action for a in env.console.audit.records()]
    assert actions == ["breaker.tripped", "breaker.reset", "policy.changed"]


async def test_failed_logins_are_rate_limited_even_for_a_good_token(env: Env) -> None:
    c = env.client
    for _ in range(5):
        r = await c.get("/api/me", headers={"Authorization": "Bearer nvk_00000000_guess"})
        assert r.status_code == 401
    r = await c.get("/api/me", headers=env.auth("ada"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert (await c.get("/healthz")).status_code == 200  # health stays open
    assert env.console.limiter.blocked_for("another-address") == 0  # per client address


async def test_no_token_appears_in_any_response(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[0].request_id
    await c.post(f"/api/actions/{rid}/approve", json={"reason": "r"}, headers=env.auth("otto"))
    bodies = []
    for path in ("/api/me", "/api/incidents", "/api/actions", "/api/audit", "/metrics"):
        bodies.append((await c.get(path, headers=env.auth("ada"))).text)
    bodies.append((await c.get("/openapi.json", headers=env.auth("ada"))).text)
    for tok in env.tokens.values():
        secret = tok.split("_", 2)[2]
        assert all(secret not in b for b in bodies)
    assert '"name":"ada"' in bodies[0].replace(" ", "")


async def test_two_operators_approving_at_once_one_wins_the_other_gets_409(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[0].request_id
    r1, r2 = await asyncio.gather(
        c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("otto")),
        c.post(f"/api/actions/{rid}/reject", json={}, headers=env.auth("olga")),
    )
    codes = sorted([r1.status_code, r2.status_code])
    assert codes == [200, 409], (r1.text, r2.text)
    winner = r1 if r1.status_code == 200 else r2
    loser = r2 if winner is r1 else r1
    assert "already" in loser.json()["detail"]
    decided = [a for a in env.console.audit.records() if a.action.startswith("action.")]
    assert len([a for a in decided if a.action in ("action.approved", "action.rejected")]) == 1


async def test_same_operator_repeating_a_decision_is_idempotent(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[0].request_id
    first = await c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("otto"))
    again = await c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("otto"))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = await c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("olga"))
    assert other.status_code == 409
    approvals = [a for a in env.console.audit.records() if a.action == "action.approved"]
    assert len(approvals) == 1 and approvals[0].actor == "user:otto"


async def test_many_concurrent_approvals_record_exactly_one_decision(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[1].request_id
    who = ["otto", "olga", "ada"] * 4
    rs = await asyncio.gather(
        *(c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth(w)) for w in who)
    )
    winners = {w for w, r in zip(who, rs, strict=True) if r.status_code == 200}
    assert len(winners) == 1  # only the winner's own retries also get 200
    assert all(r.status_code in (200, 409) for r in rs)
    assert env.console.audit.verify().ok
