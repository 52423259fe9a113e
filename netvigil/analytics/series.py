"""Score one whole series as a stream: what ``netvigil detect`` runs on a CSV file.

Strictly online: point ``t``'s score uses points up to ``t`` only. The scores are the
:class:`~netvigil.analytics.ensemble.EnsembleScorer`'s, reported at the onset of each
excursion (:class:`~netvigil.analytics.hygiene.OnsetFilter`): an ongoing anomaly is one event.

``netvigil detect`` can instead run CAD-OSE (:class:`~netvigil.analytics.cadose.OnlineCadOse`,
which reports once per event by its own rest period) or ARTime
(:class:`~netvigil.analytics.artime.OnlineARTime`, whose reports are sparse by construction):
:func:`series_scorer` makes the scorer a configuration names
(``DetectorConfig.series_scorer``), the same for every series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from netvigil.analytics.artime import OnlineARTime
from netvigil.analytics.cadose import OnlineCadOse
from netvigil.analytics.ensemble import EnsembleConfig, EnsembleScorer, EnsembleVerdict
from netvigil.analytics.hygiene import OnsetFilter

__all__ = [
    "ONSET_LEVEL",
    "SeriesScorerName",
    "SeriesScores",
    "StreamScorer",
    "detect_series",
    "score_series",
    "series_scorer",
]

SeriesScorerName = Literal["ensemble", "cadose", "artime"]
"""The scorers ``netvigil detect`` can run (``DetectorConfig.series_scorer``)."""

ONSET_LEVEL = 0.4
"""Score at which an excursion starts its refractory period (chosen by cross-validation)."""


@dataclass(frozen=True)
class SeriesScores:
    scores: list[float]
    """Onset-filtered scores in [0, 1], one per point."""
    detectors: list[str]
    """Per point, the detector that weighed most."""


class StreamScorer:
    """One series' scorer for a score stream: the ensemble's verdict, then the onset filter."""

    def __init__(
        self, config: EnsembleConfig | None = None, *, onset_level: float = ONSET_LEVEL
    ) -> None:
        self.scorer = EnsembleScorer(config)
        self.onset = OnsetFilter(level=onset_level)

    def __call__(self, ts: float, value: float) -> tuple[float, EnsembleVerdict]:
        """The reported score of ``value`` at ``ts`` and the verdict behind it."""
        verdict = self.scorer.update(ts, value)
        return self.onset(verdict.score), verdict


def score_series(
    ts: Sequence[float],
    values: Sequence[float],
    config: EnsembleConfig | None = None,
    *,
    onset_level: float = ONSET_LEVEL,
) -> SeriesScores:
    """Score ``values`` (at times ``ts``, seconds) in order, as a stream."""
    stream = StreamScorer(config, onset_level=onset_level)
    scores: list[float] = []
    detectors: list[str] = []
    for t, v in zip(ts, values, strict=True):
        score, verdict = stream(t, v)
        scores.append(score)
        detectors.append(verdict.detector)
    return SeriesScores(scores, detectors)


def series_scorer(
    name: SeriesScorerName = "ensemble", config: EnsembleConfig | None = None
) -> Callable[[float, float], float]:
    """A fresh scorer of one series, by name: ``(ts, value) -> reported score`` in [0, 1];
    ``config`` is the ensemble's (``netvigil detect`` passes ``DetectorConfig.scorer()``, the
    service's own; None = the default)."""
    if name == "ensemble":
        stream = StreamScorer(config)
        return lambda ts, value: stream(ts, value)[0]
    if name == "cadose":
        cadose = OnlineCadOse()
        return lambda ts, value: cadose.score(value)
    if name == "artime":
        artime = OnlineARTime()
        return lambda ts, value: artime.score(value)
    raise ValueError(f"unknown series scorer {name!r}: choose 'ensemble', 'cadose' or 'artime'")


def detect_series(
    ts: Sequence[float], values: Sequence[float], name: SeriesScorerName = "ensemble"
) -> list[float]:
    """What ``netvigil detect`` writes for ``values`` (at times ``ts``) with scorer ``name``."""
    score = series_scorer(name)
    return [score(t, v) for t, v in zip(ts, values, strict=True)]
