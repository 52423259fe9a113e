"""A picture of a mission: the fault targets' signals, the injected faults, the detections."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from netvigil.errors import ConfigError
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH

if TYPE_CHECKING:
    from netvigil.eval.mission import Scenario

__all__ = ["plot_mission"]

COLORS = {"link_down": "#d62728", "congestion": "#ff7f0e", "node_down": "#9467bd"}


def plot_mission(
    path: Path,
    scenario: Scenario,
    faults: list[Fault],
    rows: list[dict[str, Any]],
    series: dict[str, list[tuple[float, float]]],
) -> None:
    """Write a PNG: utilization of the watched interfaces (hours of simulated time), faults as
    shaded spans coloured by kind, detections as dashed lines, misses marked with a cross."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("plotting needs matplotlib: pip install 'netvigil[dev]'") from exc
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    for entity, points in sorted(series.items()):
        xs = [(t - SIM_EPOCH) / 3600 for t, _ in points]
        ax.plot(xs, [v for _, v in points], linewidth=0.7, alpha=0.8, label=entity)
    seen: set[str] = set()
    for f, row in zip(faults, rows, strict=False):
        x0, x1 = (f.start - SIM_EPOCH) / 3600, (f.end - SIM_EPOCH) / 3600
        label = f.kind if f.kind not in seen else None
        seen.add(f.kind)
        ax.axvspan(x0, x1, color=COLORS.get(f.kind, "grey"), alpha=0.18, label=label)
        lat = row.get("detection_latency_s")
        if lat is not None:
            ax.axvline(x0 + lat / 3600, color="black", linestyle="--", linewidth=0.8)
        if not row.get("correct"):
            ax.plot([x0], [1.02], marker="x", color="red")
    ax.set_xlabel("simulated hours")
    ax.set_ylabel("interface utilization")
    ax.set_ylim(0, 1.08)
    ax.set_title(f"NetVigil mission '{scenario.name}': faults (shaded), detections (dashed)")
    if len(series) <= 8:
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    else:
        handles, labels = ax.get_legend_handles_labels()
        keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab in COLORS]
        ax.legend([h for h, _ in keep], [lab for _, lab in keep], loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
