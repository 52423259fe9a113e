"""Builds the service-level sources (probes, Prometheus scraping, the OTLP/HTTP receiver) and
the SLO processor from the ``services`` section of the settings."""

from __future__ import annotations

from typing import Any

from netvigil.analytics.slo import SLO
from netvigil.collectors.otlp import OtlpListen, OtlpReceiver
from netvigil.collectors.probes import ProbeCollector, ProbeTarget
from netvigil.collectors.prometheus import PrometheusScraper, ScrapeTarget
from netvigil.config import Settings
from netvigil.streams.base import Processor, Source
from netvigil.streams.slo import SloProcessor

__all__ = ["service_level_processors", "service_level_sources", "slos_of"]


def service_level_sources(settings: Settings) -> list[Source]:
    sv = settings.services
    out: list[Source] = []
    if sv.probes:
        out.append(ProbeCollector([ProbeTarget(**p.model_dump()) for p in sv.probes]))
    if sv.scrape:
        out.append(PrometheusScraper([ScrapeTarget(**s.model_dump()) for s in sv.scrape]))
    if sv.otlp.port:
        out.append(OtlpReceiver(OtlpListen(**sv.otlp.model_dump())))
    return out


def slos_of(settings: Settings) -> list[SLO]:
    """The SLOs of the settings (the twin's services add theirs to the same list)."""
    return [SLO(**s.model_dump()) for s in settings.services.slos]


def service_level_processors(settings: Settings) -> list[Processor[Any]]:
    slos = slos_of(settings)
    return [SloProcessor(slos)] if slos else []
