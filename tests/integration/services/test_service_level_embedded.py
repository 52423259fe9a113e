"""Probes, Prometheus scraping and OTLP/HTTP push through the embedded runtime: a real
OTel-SDK application, a real prometheus_client endpoint, a probe of a dead port whose SLO
burns."""

from __future__ import annotations

from pathlib import Path

from netvigil.config import load_settings
from netvigil.streams.embedded import EmbeddedRuntime
from tests.service_apps import EXPECTED, service_level_scenario


def test_probes_scrapes_and_otlp_flow_through_the_embedded_runtime(tmp_path: Path) -> None:
    seen = service_level_scenario(load_settings(), tmp_path, EmbeddedRuntime)
    assert seen >= EXPECTED, EXPECTED - seen
