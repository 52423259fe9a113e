"""The analytics processors beyond the detector, assembled from settings in one place so that
:mod:`netvigil.service` needs a single line for them."""

from __future__ import annotations

from typing import Any

from netvigil.analytics.forecast import ForecastConfig
from netvigil.config import Settings
from netvigil.streams.base import Processor
from netvigil.streams.forecast import ForecastProcessor
from netvigil.streams.logs import LogProcessor

__all__ = ["analytics_processors"]


def analytics_processors(settings: Settings) -> list[Processor[Any]]:
    """Forecasting (and, as they are added, log and flow analytics) per the settings."""
    d = settings.detector
    return [ForecastProcessor(ForecastConfig(threshold=d.util_threshold)), LogProcessor()]
