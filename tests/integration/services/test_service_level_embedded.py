"""Probes, Prometheus scraping and OTLP/HTTP push through the embedded runtime: a real
OTel-SDK application, a real prometheus_client endpoint, a probe of a dead port whose SLO
burns."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import load_settings
from netvigil.service import Service
from netvigil.streams.embedded import EmbeddedRuntime
from provision.common import free_port
from tests.service_apps import EXPECTED, prometheus_app, run_service_level, service_level_settings


def test_probes_scrapes_and_otlp_flow_through_the_embedded_runtime(tmp_path: Path) -> None:
    async def scenario() -> set[tuple[str, str, str, str]]:
        async with prometheus_app() as (url, counter):
            port = free_port()
            svc = Service.build(
                service_level_settings(load_settings(), url, port), data_dir=tmp_path
            )
            assert isinstance(svc.runtime, EmbeddedRuntime)
            try:
                return await run_service_level(svc, counter, port)
            finally:
                svc.close()

    seen = asyncio.run(scenario())
    assert seen >= EXPECTED, EXPECTED - seen
