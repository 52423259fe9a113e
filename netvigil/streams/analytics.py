"""The analytics processors beyond the detector, assembled from settings in one place so that
:mod:`netvigil.service` needs a single line for them."""

from __future__ import annotations

from typing import Any

from netvigil.analytics.flows import FlowConfig
from netvigil.analytics.forecast import ForecastConfig
from netvigil.analytics.summary import Summarizer, SummaryConfig
from netvigil.config import Settings
from netvigil.streams.adjacency import AdjacencyProcessor
from netvigil.streams.base import Processor
from netvigil.streams.flows import FlowAnalyticsProcessor
from netvigil.streams.forecast import ForecastProcessor, error_forecast_config
from netvigil.streams.logs import Classifier, LogProcessor

__all__ = ["analytics_processors", "log_classifier", "summarizer"]


def log_classifier(settings: Settings) -> Classifier | None:
    """The semantic template classifier of the settings; None means keyword matching."""
    if settings.detector.log_classifier == "keywords":
        return None
    from netvigil.analytics.semantic import MiniLMEmbedder, TemplateClassifier

    return TemplateClassifier(MiniLMEmbedder())


def analytics_processors(settings: Settings) -> list[Processor[Any]]:
    """Forecasting, log and flow analytics, and routing adjacencies per the settings."""
    d = settings.detector
    return [
        ForecastProcessor(
            ForecastConfig(threshold=d.util_threshold, horizon_s=d.forecast_horizon_s),
            errors=error_forecast_config(d.error_harm_share, d.forecast_horizon_s),
        ),
        LogProcessor(log_classifier(settings)),
        FlowAnalyticsProcessor(FlowConfig(detector=d)),
        AdjacencyProcessor(),
    ]


def summarizer(settings: Settings) -> Summarizer:
    """The incident summariser of the settings (the deterministic template by default)."""
    s = settings.summary
    return Summarizer(
        SummaryConfig(
            backend=s.backend,
            url=s.url,
            model=s.model,
            api_key=s.api_key.get_secret_value(),
            timeout_s=s.timeout_s,
        )
    )
