"""``netvigil detect`` (NAB-format series; ``netvigil logs mine`` is in :mod:`netvigil.cli.logs`).

A contract scripts depend on: the column names, one output row per input row, and one
configuration for every file.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import click

from netvigil.analytics.series import series_scorer
from netvigil.cli._common import config_option, err, friendly, main
from netvigil.config import load_settings
from netvigil.errors import NetVigilError

__all__ = ["detect", "parse_timestamp"]


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch from NAB's ``YYYY-MM-DD HH:MM:SS`` (UTC), ISO 8601, or a number."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp()


@main.command()
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False))
@config_option
@friendly
def detect(input_path: str, output_path: str, config_path: str | None) -> None:
    """Score a series strictly online: SERIES.csv (timestamp,value) -> SCORES.csv
    (timestamp,value,anomaly_score), one row per input row, scores in [0, 1].

    Row t's score uses rows up to t only; an ongoing anomaly is reported once. The scorer is
    the settings' detector.series_scorer (the ensemble by default, configured exactly as the
    service's deviation check: ``DetectorConfig.scorer()``), the same for every file."""
    settings = load_settings(config_path).detector
    stream = series_scorer(settings.series_scorer, settings.scorer())
    rows = 0
    with open(input_path, newline="") as fin, open(output_path, "w", newline="") as fout:
        reader = csv.reader(fin)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            raise NetVigilError(
                f"{input_path}: the first line must be the header 'timestamp,value' "
                f"(the Numenta Anomaly Benchmark format), not {header!r}"
            )
        writer = csv.writer(fout, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                ts = parse_timestamp(row[0])
                value = float(row[1])
                if not math.isfinite(value):
                    raise ValueError("not a finite number")
            except (ValueError, IndexError) as exc:
                raise NetVigilError(
                    f"{input_path}:{line}: cannot read {row!r} as timestamp,value ({exc}); "
                    "fix or remove that row"
                ) from None
            score = stream(ts, value)
            writer.writerow([row[0], row[1], f"{score:.6f}"])
            rows += 1
    err.print(f"scored {rows} rows -> {Path(output_path)}", highlight=False)
