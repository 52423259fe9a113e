"""The console under hostile requests: the token is checked before a body is read, bodies are
capped, odd JSON is a 422, every response carries the security headers, forwarded addresses are
believed from configured proxies only, and a damaged token file is reported, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from netvigil.api.app import create_app
from netvigil.config import ApiSettings
from netvigil.errors import NetVigilError
from tests.unit.api.conftest import Env

CHUNK = 1 << 20
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class Body:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, chunks: int, size: int = CHUNK) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * self.size


def _client(
    env: Env, settings: ApiSettings | None = None, client: str = "127.0.0.1"
) -> httpx.AsyncClient:
    app = create_app(env.console, settings)
    transport = httpx.ASGITransport(app=app, client=(client, 40000), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://console")


def _has_security_headers(r: httpx.Response) -> bool:
    return all(r.headers.get(k) == v for k, v in SECURITY_HEADERS.items())


async def test_an_unauthenticated_body_is_never_read(env: Env) -> None:
    body = Body(chunks=64)  # 64 MB, without Content-Length
    r = await env.client.post("/api/breaker/trip", content=body)
    assert r.status_code == 401
    assert body.pulled <= 1


async def test_bodies_over_the_limit_are_413_with_or_without_content_length(env: Env) -> None:
    async with _client(env, ApiSettings(max_body_bytes=4096)) as c:
        chunked = Body(chunks=64, size=1024)
        r = await c.post("/api/breaker/trip", content=chunked, headers=env.auth("otto"))
        assert r.status_code == 413 and _has_security_headers(r)
        assert chunked.pulled <= 5  # stopped at the limit, not at the end
        r = await c.post("/api/breaker/trip", content=b" " * 8192, headers=env.auth("otto"))
        assert r.status_code == 413
        r = await c.post("/api/breaker/trip", json={"reason": "ok"}, headers=env.auth("otto"))
        assert r.status_code == 200
    assert [a.action for a in env.console.audit.records()] == ["breaker.tripped"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"reason": NaN}',
        b'{"reason": Infinity}',
        b'{"reason": -Infinity}',
        b'{"reason": 1e999}',
        b'{"reason": "\\ud800"}',
        b'{"\\udfff": "x"}',
        b'{"reason": "\xff\xfe"}',
    ],
    ids=["nan", "inf", "-inf", "1e999", "lone-surrogate", "surrogate-key", "not-utf8"],
)
async def test_odd_json_is_a_422_with_the_security_headers(env: Env, body: bytes) -> None:
    r = await env.client.post(
        "/api/breaker/trip",
        content=body,
        headers={**env.auth("otto"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert _has_security_headers(r)
    assert env.console.audit.records() == []


async def test_every_response_carries_the_security_headers(env: Env) -> None:
    def broken(status: str | None = None) -> list[object]:
        raise RuntimeError("store failed")

    env.console.incidents.list = broken  # type: ignore[method-assign]
    async with _client(env) as c:
        r500 = await c.get("/api/incidents", headers=env.auth("vera"))
        assert r500.status_code == 500
        responses = [
            r500,
            await c.get("/api/incidents/none", headers=env.auth("vera")),  # 404
            await c.get("/api/me"),  # 401
            await c.get("/api/actions?status=" + "x" * 40, headers=env.auth("vera")),  # 422
            await c.get("/metrics", headers=env.auth("vera")),
            await c.get("/ui/index.html"),
            await c.get("/healthz"),
        ]
    assert [r.status_code for r in responses[1:4]] == [404, 401, 422]
    assert all(_has_security_headers(r) for r in responses)
    for r in responses:
        cacheable = r.url.path.startswith("/ui/")
        assert (r.headers.get("cache-control") == "no-store") is not cacheable, r.url


async def test_forwarded_addresses_are_ignored_without_a_configured_proxy(env: Env) -> None:
    async with _client(env) as c:  # the conftest limiter: 5 failures
        for i in range(5):
            forged = {"X-Forwarded-For": f"10.0.0.{i}", "Authorization": "Bearer nvk_0_x"}
            assert (await c.get("/api/me", headers=forged)).status_code == 401
        r = await c.get("/api/me", headers={**env.auth("ada"), "X-Forwarded-For": "10.9.9.9"})
        assert r.status_code == 429
    assert env.console.limiter.blocked_for("127.0.0.1") > 0


async def test_an_unconfigured_proxy_is_not_believed(env: Env) -> None:
    async with _client(env, ApiSettings(trusted_proxies=["10.1.1.1"])) as c:
        for _ in range(5):
            forged = {"X-Forwarded-For": "10.0.0.1", "Authorization": "Bearer nvk_0_x"}
            await c.get("/api/me", headers=forged)
    assert env.console.limiter.blocked_for("127.0.0.1") > 0
    assert env.console.limiter.blocked_for("10.0.0.1") == 0


async def test_a_configured_proxy_is_believed_for_the_last_hop_it_saw(env: Env) -> None:
    async with _client(env, ApiSettings(trusted_proxies=["127.0.0.0/8"])) as c:
        for _ in range(5):
            # the client sent its own "10.0.0.7"; the proxy appended the real 10.0.0.9
            via = {"X-Forwarded-For": "10.0.0.7, 10.0.0.9", "Authorization": "Bearer nvk_0_x"}
            assert (await c.get("/api/me", headers=via)).status_code == 401
        locked = {**env.auth("ada"), "X-Forwarded-For": "10.0.0.9"}
        assert (await c.get("/api/me", headers=locked)).status_code == 429
        other = {**env.auth("ada"), "X-Forwarded-For": "10.0.0.7"}
        assert (await c.get("/api/me", headers=other)).status_code == 200
    assert env.console.limiter.blocked_for("127.0.0.1") == 0


def test_proxy_settings_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an address or CIDR"):
        ApiSettings(trusted_proxies=["*"])


async def test_a_damaged_token_file_fails_at_start_and_is_a_503_later(env: Env) -> None:
    async with _client(env) as c:
        env.token_file.write_text("{broken")
        r = await c.get("/api/me", headers=env.auth("ada"))
    assert r.status_code == 503 and _has_security_headers(r)
    assert "token file is damaged" in r.json()["detail"]
    assert str(env.token_file) not in r.text
    with pytest.raises(NetVigilError, match="move it aside"):
        create_app(env.console)
