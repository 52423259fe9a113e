"""The console as served by ``netvigil run`` (uvicorn on loopback): a client cannot choose the
address its failed logins count against by sending ``X-Forwarded-For``, unless it is a proxy
named in ``api.trusted_proxies``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from netvigil.api.auth import TokenStore
from netvigil.api.server import run_with_console
from netvigil.config import load_settings
from netvigil.service import Service
from provision.common import free_port

pytestmark = pytest.mark.e2e

WRONG = {"Authorization": "Bearer nvk_00000000_wrong"}


@asynccontextmanager
async def served(data: Path, **api: object) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The service's console on a free loopback port, and an admin token."""
    settings = load_settings(
        None,
        api={"enabled": True, "port": free_port(), "login_failures": 10, **api},
        detector={"log_classifier": "keywords"},
    )
    svc = Service.build(settings, data_dir=data)
    _, admin = TokenStore(data / "api-tokens.json").create("admin", "ada")
    stop = asyncio.Event()
    up = asyncio.Event()
    task = asyncio.create_task(run_with_console(svc, stop, lambda url: up.set()))
    try:
        await asyncio.wait_for(up.wait(), 30)
        base = f"http://127.0.0.1:{settings.api.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client, admin
    finally:
        stop.set()
        await task
        svc.close()


async def test_forged_forwarded_addresses_do_not_escape_the_lockout(tmp_path: Path) -> None:
    async with served(tmp_path) as (c, admin):
        codes = []
        for i in range(12):
            r = await c.get("/api/me", headers={**WRONG, "X-Forwarded-For": f"10.0.{i}.1"})
            codes.append(r.status_code)
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        good = {"Authorization": f"Bearer {admin}", "X-Forwarded-For": "10.99.0.1"}
        assert (await c.get("/api/me", headers=good)).status_code == 429


async def test_forwarded_addresses_of_a_trusted_proxy_are_believed(tmp_path: Path) -> None:
    async with served(tmp_path, trusted_proxies=["127.0.0.1"]) as (c, admin):
        for _ in range(10):
            r = await c.get("/api/me", headers={**WRONG, "X-Forwarded-For": "10.0.0.9"})
            assert r.status_code == 401
        locked = {"Authorization": f"Bearer {admin}", "X-Forwarded-For": "10.0.0.9"}
        assert (await c.get("/api/me", headers=locked)).status_code == 429
        other = {"Authorization": f"Bearer {admin}", "X-Forwarded-For": "10.0.0.8"}
        assert (await c.get("/api/me", headers=other)).status_code == 200
