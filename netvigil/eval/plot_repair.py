"""A picture of time to repair: the same scenario at autonomy level 1 and at levels 2/3.

Top: one fault target's utilization in both runs, with the fault's start, the forecaster's
first prediction (for a growth ramp), the saturation and both repairs marked. Bottom: time
to repair per fault, level 1 beside levels 2/3. The data is the mission result
(:func:`netvigil.eval.mission.run_mission`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.errors import ConfigError
from netvigil.twin.source import SIM_EPOCH

__all__ = ["plot_repairs"]


def _hours(t: float) -> float:
    return (t - SIM_EPOCH) / 3600


def plot_repairs(
    path: Path,
    result: dict[str, Any],
    series: dict[str, dict[str, list[tuple[float, float]]]],
) -> None:
    """Write the PNG; ``series`` maps run name ("level1", "autonomous") to interface series."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("plotting needs matplotlib: pip install 'netvigil[dev]'") from exc
    rows = result["per_fault"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5), dpi=110)
    # the first fault whose interface was recorded in both runs
    ramp = next(iter(result.get("lead_times") or []), None)
    entity = ramp["interface"] if ramp else None
    if entity is None:
        entity = next((e for e in sorted(series.get("level1", {}))), None)
    styles = {
        "level1": ("#1f77b4", "level 1 (operator approves)"),
        "autonomous": ("#2ca02c", "levels 2/3"),
    }
    for run, (color, label) in styles.items():
        pts = series.get(run, {}).get(entity or "", [])
        if pts:
            top.plot(
                [_hours(t) for t, _ in pts],
                [v for _, v in pts],
                color=color,
                lw=0.9,
                label=f"{entity}, {label}",
            )
    if ramp is not None:
        marks = [
            (ramp["ramp_start_s"], "grey", "ramp starts"),
            (ramp["first_prediction_s"], "#ff7f0e", "first prediction"),
            (ramp["saturated_at_s"], "#d62728", "saturation (twin)"),
        ]
        for t, color, label in marks:
            if t is not None:
                top.axvline(_hours(t), color=color, ls="--", lw=0.9, label=label)
    top.axhline(0.9, color="black", lw=0.5, ls=":")
    if rows and entity is not None:
        first = (
            rows[0]
            if ramp is None
            else next((r for r in rows if r["true_root_cause"] == ramp["target"]), rows[0])
        )
        for run, (color, _label) in styles.items():
            cleared = (first.get(run) or {}).get("cleared_at_s")
            if cleared is not None:
                top.axvline(_hours(cleared), color=color, lw=1.4, alpha=0.7)
        lo = _hours(first["injected_at_s"]) - 0.5
        top.set_xlim(lo, lo + 4)
    top.set_ylim(0, 1.1)
    top.set_xlabel("simulated hours")
    top.set_ylabel("utilization")
    top.set_title("one fault: prediction, saturation and repair (solid lines) in both runs")
    top.legend(loc="upper left", fontsize=7)
    xs = list(range(len(rows)))
    width = 0.4
    for k, (run, (color, label)) in enumerate(styles.items()):
        vals = [((r.get(run) or {}).get("repair_s") or 0.0) / 60 for r in rows]
        bottom.bar([x + (k - 0.5) * width for x in xs], vals, width, color=color, label=label)
    top_val = max(
        (((r.get(run) or {}).get("repair_s") or 0.0) / 60 for r in rows for run in styles),
        default=1.0,
    )
    bottom.set_ylim(0, top_val * 1.25)
    bottom.set_xticks(xs, [f"{r['kind']}\n{r['true_root_cause']}" for r in rows], fontsize=6)
    bottom.set_ylabel("time to repair (simulated min)")
    bottom.set_title(
        f"'{result['scenario']}' on {Path(result['topology']).stem}: MTTR "
        f"{result['mttr_level1_p50_s']} s vs {result['mttr_autonomous_p50_s']} s "
        f"(x{result['mttr_autonomy_ratio']}); operator {result['operator']}"
    )
    bottom.legend(fontsize=8, loc="upper right", framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
