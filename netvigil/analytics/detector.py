"""Per-series online detection with alert hygiene (pure: no I/O, no clock).

Each point is scored *before* it is learned, and memory per series is constant. Which checks a
signal gets is data (:data:`SIGNAL_CHECKS`), not code branches:

- ``status``: a discrete up/down signal (1 = up); a drop to 0 is an anomaly at once.
- ``threshold``: a utilization above ``util_threshold`` (opens) / below ``util_clear`` (clears),
  on both ends of a link: what one end sends (``if.out_util``) and what the other receives
  (``if.in_util``, a collector's utilization of the received bits) measure the same direction,
  so a congested direction is seen when either end's agent answers. On the lab's Marnet run
  the sending end (a hub router with 17 links) gave no usable sample in the minute its link
  was over capacity while the receiving end counted 0.99 of it (docs/lab.md).
- ``errors``: input errors (a dirty fibre, a failing optic: the twin's ``packet_loss``) open
  when their rate reaches ``error_pps`` *or* their share of the packets received (``errors /
  (packets + errors)``, packets from :func:`packet_rate`) reaches ``error_harm_share``, and
  clear below ``error_clear_pps`` and the share scaled alike (``error_clear_pps / error_pps``).
  The rate alone missed loss on slow links: 5 % of a 0.5 Mbit/s link's 9 packets/s is 0.5
  errors/s. The share alone would be slow on fast links, where the rate crosses first (below
  the harm share whenever a link receives more than ``error_pps / error_harm_share`` packets/s:
  1,000, 8 Mbit/s of 1,000-byte packets). Without a packet rate only the rate is judged.
- ``deviation``: the calibrated score of :class:`~netvigil.analytics.ensemble.EnsembleScorer`
  (seasonal expectation; spike and noise detectors by default, each judged against its own
  history on the series; the evidence names the one that fired), abnormal when the score
  reaches ``score_open`` *and* the residual is at least ``z_threshold`` robust sigmas; it stays
  abnormal down to ``score_clear`` / half the z threshold (hysteresis). The anomaly's score is
  the calibrated score scaled by the size of the deviation (full at twice the z threshold), so
  a barely significant change weighs less as evidence than a large one.

An anomaly opens after ``min_points`` consecutive abnormal points and clears after
``clear_points`` consecutive normal ones (:class:`~netvigil.analytics.hygiene.Hysteresis`);
status changes open and clear at once. One anomaly per series at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netvigil.analytics.ensemble import DETECTORS, EnsembleConfig, EnsembleScorer
from netvigil.analytics.hygiene import Hysteresis

__all__ = [
    "ERROR_HARM_SHARE",
    "MEAN_PACKET_BITS",
    "SIGNAL_CHECKS",
    "DetectorConfig",
    "SeriesDetector",
    "Transition",
    "packet_rate",
]

SIGNAL_CHECKS: dict[str, tuple[str, ...]] = {
    "if.oper_status": ("status",),
    "reachability": ("status",),
    "if.out_util": ("threshold",),
    "if.in_util": ("threshold",),  # the same direction seen from its receiving end
    "if.out_bps": ("deviation",),
    "if.in_bps": (),  # the far end's out_bps says the same
    "if.out_discards": (),
    "if.in_errors": ("errors",),
    # service-level signals are judged by their SLO's error budget (streams/slo.py); a
    # per-device deviation would blame the probe's vantage point, not the service
    "probe.success": (),
    "probe.latency_ms": (),
    "cpu.util": ("deviation",),
}
DEFAULT_CHECKS: tuple[str, ...] = ("deviation",)
#: mean packet size assumed where only bits are counted (the twin's own, 1,000 bytes)
MEAN_PACKET_BITS = 8000.0
#: default harm share: a 10-packet transaction fails 1 % of the time at 0.1 % loss, the whole
#: error budget of a 99 % success SLO (burn rate 1)
ERROR_HARM_SHARE = 1e-3


def packet_rate(signal: str, value: float) -> float | None:
    """Packets per second an interface received, from ``if.in_pkts`` (counted) or
    ``if.in_bps`` (over :data:`MEAN_PACKET_BITS`); None for any other signal."""
    if signal == "if.in_pkts":
        return max(value, 0.0)
    if signal == "if.in_bps":
        return max(value, 0.0) / MEAN_PACKET_BITS
    return None


_ENSEMBLE = EnsembleConfig()
"""The defaults of the settings below that configure the score come from here (one source)."""


class DetectorConfig(BaseModel):
    """The detector's settings: the one source of its fields, defaults and help.

    The service's ``detector`` settings section *is* this model (``config.DetectorSettings``
    extends it with the forecaster's and log classifier's settings), so a field is declared
    once and reaches the processor without being copied."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    warmup: int = Field(
        _ENSEMBLE.warmup,
        ge=2,
        description="Points a series is learned before its deviations are scored (the service "
        "and `netvigil detect` alike; docs/evaluation-detection.md says how it was chosen).",
    )
    z_threshold: float = Field(
        6.0, gt=0, description="Robust z-score a deviation must reach to open (half to stay)."
    )
    min_points: int = Field(
        2, ge=1, description="Consecutive deviating points before an anomaly opens (hysteresis)."
    )
    clear_points: int = Field(
        3, ge=1, description="Consecutive normal points before an anomaly clears (hysteresis)."
    )
    util_threshold: float = Field(
        0.9, gt=0, le=1.5, description="Utilization at which an interface is congested."
    )
    util_clear: float = Field(
        0.8, gt=0, le=1.5, description="Utilization below which congestion clears."
    )
    ew_alpha: float = Field(
        _ENSEMBLE.seasonal.level_alpha,
        gt=0,
        lt=1,
        description="Weight of the newest point in each predictor's level.",
    )
    score_open: float = Field(
        0.5, gt=0, le=1, description="Calibrated score at which a deviation opens (0.5 = 1e-5)."
    )
    score_clear: float = Field(
        0.3, ge=0, le=1, description="Calibrated score below which an open deviation clears."
    )
    error_pps: float = Field(
        1.0, gt=0, description="Interface input errors per second at which a link is faulty."
    )
    error_clear_pps: float = Field(
        0.5, ge=0, description="Input errors per second below which a faulty link clears."
    )
    error_harm_share: float = Field(
        ERROR_HARM_SHARE,
        gt=0,
        lt=1,
        description=(
            "Input errors per packet at which a link hurts the services crossing it: the error "
            "trend predicts when it is reached, and a link at or over it is faulty whatever "
            "its error rate (0.1 %: a 10-packet transaction then fails 1 % of the time, the "
            "whole error budget of a 99 % success SLO)."
        ),
    )
    detectors: tuple[str, ...] = Field(
        _ENSEMBLE.detectors,
        description=(
            "Which of the metric score's detectors run, the same for every series (the "
            f"service and `netvigil detect`'s ensemble): a subset of {', '.join(DETECTORS)}. "
            "The default pair held best out of sample on nab-dev "
            "(docs/evaluation-detection.md)."
        ),
    )
    series_scorer: Literal["ensemble", "cadose", "artime"] = Field(
        "ensemble",
        description=(
            "What `netvigil detect` scores a CSV series with: 'ensemble' (this detector's "
            "calibrated score, each excursion reported at its onset) or 'cadose' (CAD-OSE, "
            "NAB's contextual anomaly detector with its published constants; its first 750 "
            "rows learn the value range and score 0; ~200x the ensemble's CPU per point) or "
            "'artime' (ARTime, adaptive resonance, NAB's best published detector, with its "
            "published constants; its first 750 rows learn the range and score 0). "
            "The service always runs the ensemble."
        ),
    )

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(DETECTORS)
        if unknown or not value:
            raise ValueError(f"must be a non-empty subset of {DETECTORS}, not {sorted(unknown)}")
        return value

    def scorer(self) -> EnsembleConfig:
        """The metric anomaly score's configuration: the one the service's deviation check
        *and* ``netvigil detect`` run (everything not named here at its default). With the
        default settings it equals ``EnsembleConfig()``, the configuration the benchmarks
        measure, because the defaults above are read from it."""
        seasonal = replace(_ENSEMBLE.seasonal, level_alpha=self.ew_alpha)
        return replace(_ENSEMBLE, seasonal=seasonal, detectors=self.detectors, warmup=self.warmup)


@dataclass(frozen=True)
class Transition:
    """An anomaly opening or clearing on a series."""

    state: Literal["active", "cleared"]
    kind: str
    score: float
    onset_ts: float
    value: float
    expected: float | None = None
    band: tuple[float, float] | None = None
    z: float | None = None
    explain: dict[str, str] = field(default_factory=dict)


@dataclass
class _Check:
    abnormal: bool
    kind: str
    score: float
    expected: float | None = None
    band: tuple[float, float] | None = None
    z: float | None = None
    explain: dict[str, str] | None = None


@dataclass
class SeriesDetector:
    """The detector state of one series. ``observe`` returns a transition or None."""

    checks: tuple[str, ...]
    gate: Hysteresis
    scorer: EnsembleScorer | None = None
    open_kind: str | None = None
    open_check: _Check | None = None

    @classmethod
    def for_signal(cls, signal: str, cfg: DetectorConfig) -> SeriesDetector:
        checks = SIGNAL_CHECKS.get(signal, DEFAULT_CHECKS)
        status = "status" in checks
        gate = Hysteresis(
            min_points=1 if status else cfg.min_points,
            clear_points=1 if status else cfg.clear_points,
        )
        scorer = EnsembleScorer(cfg.scorer()) if "deviation" in checks else None
        return cls(checks=checks, gate=gate, scorer=scorer)

    def _check(
        self, ts: float, value: float, cfg: DetectorConfig, pps: float | None = None
    ) -> _Check:
        """Score the point with every check of the series (the scorer then learns it);
        ``pps``: the interface's packets received per second, for the ``errors`` check."""
        worst = _Check(False, "", 0.0)
        for check in self.checks:
            if check == "status":
                down = value < 0.5
                c = _Check(down, "down", 1.0 if down else 0.0, expected=1.0)
            elif check == "threshold":
                limit = cfg.util_clear if self.open_kind == "threshold" else cfg.util_threshold
                high = value >= limit
                c = _Check(
                    high,
                    "threshold",
                    min(1.0, value) if high else 0.0,
                    band=(0.0, cfg.util_threshold),
                )
            elif check == "errors":
                held = self.open_kind == "errors"
                limit = cfg.error_clear_pps if held else cfg.error_pps
                share = value / (pps + value) if pps is not None and value > 0 else 0.0
                s_limit = cfg.error_harm_share * (limit / cfg.error_pps)
                bad = value >= limit or share >= s_limit
                c = _Check(bad, "errors", 1.0 if bad else 0.0, expected=0.0)
            elif check == "deviation":
                assert self.scorer is not None
                v = self.scorer.update(ts, value)
                held = self.open_kind == "deviation"
                s_lim = cfg.score_clear if held else cfg.score_open
                z_lim = cfg.z_threshold / 2 if held else cfg.z_threshold
                dev = v.score >= s_lim and abs(v.z) >= z_lim
                # the evidence an anomaly carries: its calibrated probability, scaled down
                # for deviations that are significant but small (a barely-there reroute)
                strength = v.score * min(1.0, abs(v.z) / (2 * cfg.z_threshold))
                c = _Check(
                    dev,
                    "deviation",
                    strength if dev else 0.0,
                    expected=v.expected,
                    band=v.band,
                    z=v.z,
                    explain={"model": v.model, "detector": v.detector, "score": f"{v.score:.3f}"},
                )
            else:
                raise ValueError(f"unknown check {check!r}")
            if (c.abnormal and c.score >= worst.score) or (
                not worst.abnormal and c.expected is not None
            ):
                worst = c
        return worst

    def observe(
        self, ts: float, value: float, cfg: DetectorConfig, pps: float | None = None
    ) -> Transition | None:
        check = self._check(ts, value, cfg, pps)
        step = self.gate.step(ts, check.abnormal)
        if step == "open":
            self.open_kind = check.kind
            return Transition(
                "active",
                check.kind,
                check.score,
                self.gate.onset_ts,
                value,
                check.expected,
                check.band,
                check.z,
                check.explain or {},
            )
        if step == "clear" and self.open_kind is not None:
            kind, self.open_kind = self.open_kind, None
            return Transition("cleared", kind, 0.0, ts, value, check.expected, check.band)
        return None

    def force(self, ts: float, up: bool, cfg: DetectorConfig) -> Transition | None:
        """A status change reported out of band (a trap, a poller timeout)."""
        return self.observe(ts, 1.0 if up else 0.0, cfg)
