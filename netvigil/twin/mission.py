"""The mission scoreboard: the whole pipeline against the twin, on the simulated clock.

A scenario (a data file in ``netvigil/twin/scenarios/``) says how long to simulate, how often
devices are sampled, and which faults to inject when. :func:`run_mission` runs the embedded
pipeline against the twin for it and reports detection time, root-cause accuracy, false
incidents per simulated day, time to resolution, and tickets versus incidents (which must be
equal). Quantities that need parts not built yet are reported as ``null`` with the reason,
never invented.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import Settings
from netvigil.errors import ConfigError
from netvigil.events import Event, Metric
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import FAULT_KINDS, Fault, schedule_faults
from netvigil.twin.scoreboard import Scoreboard
from netvigil.twin.source import SIM_EPOCH

__all__ = ["MissionRecorder", "Scenario", "list_scenarios", "load_scenario", "run_mission"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    step_s: float
    duration_s: float
    kinds: list[str]
    first_s: float
    every_s: float
    fault_duration_s: float
    count: int | None = None

    def faults(self, topo: TopologyStore, seed: int) -> list[Fault]:
        n = self.count
        if n is None:
            n = max(
                int((self.duration_s - self.first_s - self.fault_duration_s) // self.every_s) + 1, 0
            )
        return schedule_faults(
            topo,
            kinds=self.kinds,
            count=n,
            first=SIM_EPOCH + self.first_s,
            interval=self.every_s,
            duration=self.fault_duration_s,
            seed=seed,
        )


def list_scenarios() -> list[str]:
    folder = resources.files("netvigil.twin").joinpath("scenarios")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
    elif name_or_path in list_scenarios():
        text = (
            resources.files("netvigil.twin").joinpath(f"scenarios/{name_or_path}.yaml").read_text()
        )
    else:
        raise ConfigError(
            f"unknown scenario {name_or_path!r}; built-in: "
            f"{', '.join(list_scenarios())}, or give a YAML file"
        )
    raw = yaml.safe_load(text)
    try:
        sched = raw["schedule"]
        kinds = list(sched["kinds"])
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ConfigError(f"scenario {raw['name']}: unknown fault kinds {sorted(unknown)}")
        return Scenario(
            name=str(raw["name"]),
            description=str(raw.get("description", "")).strip(),
            step_s=float(raw.get("step_s", 60)),
            duration_s=float(raw["duration_s"]),
            kinds=kinds,
            first_s=float(sched["first_s"]),
            every_s=float(sched["every_s"]),
            fault_duration_s=float(sched["duration_s"]),
            count=int(sched["count"]) if "count" in sched else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"scenario {name_or_path}: malformed ({exc!r}); see "
            "netvigil/twin/scenarios/mixed-faults.yaml for the format"
        ) from None


@dataclass
class MissionRecorder:
    """Keeps the utilization series of the fault targets' interfaces, for the plot."""

    entities: set[str]
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def on_metric(self, topic: str, event: Event) -> None:
        if (
            isinstance(event, Metric)
            and event.name == "if.out_util"
            and event.entity in self.entities
        ):
            self.series.setdefault(event.entity, []).append((event.ts, event.value))


def _watched(topo: TopologyStore, faults: list[Fault], limit: int = 12) -> set[str]:
    out: set[str] = set()
    for f in faults[:limit]:
        if FAULT_KINDS[f.kind] == "link":
            lk = topo.link(f.target)
            out |= {lk.a_if, lk.b_if}
        else:
            out |= {lk.end(lk.other(f.target)) for lk in topo.links_of(f.target)}
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 3)


def run_mission(
    scenario: Scenario,
    settings: Settings,
    *,
    topology: str | None = None,
    seed: int | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Run the scenario on the embedded pipeline; return the scoreboard as plain data."""
    if seed is not None:
        settings.twin.seed = seed
    settings.twin.step_s = scenario.step_s
    if topology is not None:
        settings.twin.topology = Path(topology)
    topo = load_topology(settings.twin.topology)
    faults = scenario.faults(topo, settings.twin.seed)
    plan = TwinPlan(speed=0.0, faults=faults, until=SIM_EPOCH + scenario.duration_s)
    board = Scoreboard(grace_s=3 * scenario.step_s)
    recorder = MissionRecorder(_watched(topo, faults))
    with tempfile.TemporaryDirectory(prefix="netvigil-mission-") as tmp:
        svc = Service.build(settings, twin=plan, data_dir=Path(tmp), on_fault=board.on_fault)
        svc.runtime.listen("netvigil.incidents", board.on_incident)
        if plot is not None:
            svc.runtime.listen("netvigil.metrics", recorder.on_metric)
        wall0 = time.monotonic()
        asyncio.run(svc.run())
        wall = time.monotonic() - wall0
        stored = svc.incidents.list()
        tickets = sum(1 for _, t in stored if t)
        svc.close()
    report = board.report()
    rows = report["faults"]
    days = scenario.duration_s / 86400
    latencies = [r["detection_latency_s"] for r in rows if r["detection_latency_s"] is not None]
    mttr = [r["resolved_after_s"] for r in rows if r.get("resolved_after_s") is not None]
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "topology": str(settings.twin.topology or "builtin:demo-backbone"),
        "devices": len(topo.devices()),
        "links": len(topo.links()),
        "seed": settings.twin.seed,
        "simulated_days": round(days, 3),
        "faults": len(rows),
        "detected": report["detected"],
        "mttd_p50_s": _pct(latencies, 0.5),
        "mttd_p90_s": _pct(latencies, 0.9),
        "rca_top1": round(report["correct"] / len(rows), 4) if rows else None,
        "rca_top3": round(sum(1 for r in rows if r.get("top3")) / len(rows), 4) if rows else None,
        "false_incidents": report["false_incidents"],
        "false_incidents_per_day": round(report["false_incidents"] / days, 3),
        "incidents": report["incidents"],
        "tickets": tickets,
        "tickets_equal_incidents": tickets == report["incidents"],
        "mttr_p50_s": _pct(mttr, 0.5),
        "autonomy": settings.coordinator.phase,
        "mttr_autonomy_ratio": None,
        "congestion_lead_time_p50_s": None,
        "not_measured": {
            "mttr_autonomy_ratio": "needs autonomous remediation (resolvers issue)",
            "congestion_lead_time_p50_s": "needs the congestion forecaster (analytics issue)",
        },
        "wall_s": round(wall, 2),
        "wall_s_per_simulated_day": round(wall / days, 2) if days else None,
        "per_fault": rows,
    }
    if plot is not None:
        from netvigil.twin.plot import plot_mission

        plot_mission(plot, scenario, faults, rows, recorder.series)
        result["plot"] = str(plot)
    if latencies:
        result["mttd_mean_s"] = round(statistics.fmean(latencies), 3)
    return result
