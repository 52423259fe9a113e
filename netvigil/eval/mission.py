"""The mission scoreboard: the whole pipeline against the twin, on the simulated clock.

A scenario (a data file in ``netvigil/eval/scenarios/``) says how long to simulate, how often
devices are sampled, and which faults to inject when. :func:`run_mission` runs the embedded
pipeline against the twin for it and reports detection time, root-cause accuracy, false
incidents per simulated day, congestion-prediction lead time (:mod:`netvigil.eval.leadtime`),
time to repair with autonomy off and on, tickets versus incidents (which must be equal), and
prevention (:mod:`netvigil.eval.prevention`: harm in link-seconds at level 1 and at levels
2/3, the share of predicted harms that never harmed, preemptive changes, those rolled back,
collateral overloads). A scenario may add benign conditions beside its faults (``benign:``,
:mod:`netvigil.eval.benign`), and an autonomy policy of its own (``policy:``).

Time to repair is measured by running the scenario twice with the same seed: at autonomy
level 1 (phase ``passive``; a modelled operator, :mod:`netvigil.eval.operator`, approves each
proposed change after an explicit response time) and at levels 2/3 (phase ``autonomous``:
pre-approved and twin-validated changes run at once). Both runs use the resolvers as they
are, with the twin executor acting on the twin; when each fault stopped harming the network
is read from the twin itself (:mod:`netvigil.eval.recovery`). Quantities a scenario cannot
give (no growth ramp: no lead time) are ``null`` with the reason, never invented.
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
from netvigil.eval.benign import benign_faults
from netvigil.eval.leadtime import LeadTimes
from netvigil.eval.operator import Operator, OperatorModel
from netvigil.eval.prevention import HarmMeter
from netvigil.eval.prevention import report as prevention_report
from netvigil.eval.recovery import Recovery, RecoveryWatch
from netvigil.eval.scoreboard import Scoreboard
from netvigil.events import Event, Metric
from netvigil.graph.base import TopologyStore
from netvigil.graph.importers import load_topology
from netvigil.resolvers.policy import Prevention
from netvigil.resolvers.remediation import ActionRecord
from netvigil.resolvers.riskstore import RiskRecord
from netvigil.service import Service, TwinPlan
from netvigil.streams.embedded import EmbeddedRuntime
from netvigil.twin.faults import FAULT_KINDS, Fault, schedule_faults
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
    services: list[dict[str, Any]] = field(default_factory=list)
    """The twin's services (``twin/services.py``): cross-domain scenarios only."""
    on_path_of: str = ""
    """Pin the faults to links on this service's path (``twin/service_setup.py``)."""
    benign: list[dict[str, Any]] = field(default_factory=list)
    """Benign conditions beside the faults (:mod:`netvigil.eval.benign`)."""
    policy: dict[str, Any] | None = None
    """An autonomy policy for the runs (the default: one domain in the run's phase)."""
    earned: bool = False
    """The earned-autonomy run: one deployment from phase 1 with a modelled operator's
    feedback (:mod:`netvigil.eval.earned`) instead of the level-1 / levels-2-3 pair."""

    def faults(self, topo: TopologyStore, seed: int) -> list[Fault]:
        n = self.count
        if n is None:
            n = max(
                int((self.duration_s - self.first_s - self.fault_duration_s) // self.every_s) + 1, 0
            )
        faults = schedule_faults(
            topo,
            kinds=self.kinds,
            count=n,
            first=SIM_EPOCH + self.first_s,
            interval=self.every_s,
            duration=self.fault_duration_s,
            seed=seed,
        )
        if self.on_path_of:
            from netvigil.twin.service_setup import faults_on_path, service_specs

            specs = {s.name: s for s in service_specs(self.services, topo)}
            faults = faults_on_path(faults, topo, specs[self.on_path_of], seed)
        return faults


def list_scenarios() -> list[str]:
    folder = resources.files("netvigil.eval").joinpath("scenarios")
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
            resources.files("netvigil.eval").joinpath(f"scenarios/{name_or_path}.yaml").read_text()
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
            services=list(raw.get("services") or []),
            on_path_of=str(sched.get("on_path_of", "")),
            benign=list(raw.get("benign") or []),
            policy=raw.get("policy"),
            earned=bool(raw.get("earned", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"scenario {name_or_path}: malformed ({exc!r}); see "
            "netvigil/eval/scenarios/mixed-faults.yaml for the format"
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


def _summary(
    board_report: dict[str, Any], recoveries: list[Recovery], tickets: int, until: float
) -> dict[str, Any]:
    """Detection, accuracy and repair figures of one run."""
    rows = board_report["faults"]
    latencies = [r["detection_latency_s"] for r in rows if r["detection_latency_s"] is not None]
    repairs = [_repair(r, until) for r in recoveries]
    return {
        "detected": board_report["detected"],
        "mttd_p50_s": _pct(latencies, 0.5),
        "mttd_p90_s": _pct(latencies, 0.9),
        "rca_top1": round(board_report["correct"] / len(rows), 4) if rows else None,
        "rca_top3": round(sum(1 for r in rows if r.get("top3")) / len(rows), 4) if rows else None,
        "false_incidents": board_report["false_incidents"],
        "incidents": board_report["incidents"],
        "tickets": tickets,
        "tickets_equal_incidents": tickets == board_report["incidents"],
        "mttr_p50_s": _median([v for v in repairs if v is not None]),
        "cleared_by_change": sum(1 for r in recoveries if r.cleared_by == "change"),
        "prevented": sum(1 for r in recoveries if r.cleared_by == "never_present"),
        "latencies": latencies,
    }


def _repair(r: Recovery, until: float) -> float | None:
    """Time to repair of one fault; a symptom still present at the end counts to the end."""
    if r.onset is None:
        return None  # never harmed the network (prevented): not a repair
    return r.repair_s if r.repair_s is not None else until - r.onset


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


@dataclass
class _Run:
    board: Scoreboard
    watch: RecoveryWatch
    leads: LeadTimes
    recorder: MissionRecorder
    operator: Operator | None
    actions: list[ActionRecord]
    tickets: int
    wall: float
    cross: Any = None
    """The :class:`~netvigil.eval.crossdomain.CrossDomainRecorder` when the scenario has
    services."""
    harm: HarmMeter | None = None
    risks: list[RiskRecord] = field(default_factory=list)


def _run_once(
    scenario: Scenario,
    settings: Settings,
    topo: TopologyStore,
    faults: list[Fault],
    *,
    phase: str,
    operator: OperatorModel | None,
    record: bool,
    specs: list[Any] | None = None,
    benign: list[Fault] | None = None,
) -> _Run:
    """One run of the scenario on the embedded pipeline in the autonomy ``phase``; with
    ``specs``, the twin also serves those services over HTTP (the cross-domain scenario);
    ``benign`` conditions are injected beside the faults."""
    settings = settings.model_copy(deep=True)
    settings.coordinator.phase = phase  # type: ignore[assignment]
    injected = sorted([*faults, *(benign or [])], key=lambda f: f.start)
    plan = TwinPlan(speed=0.0, faults=injected, until=SIM_EPOCH + scenario.duration_s)
    board = Scoreboard(grace_s=3 * scenario.step_s)
    recorder = MissionRecorder(_watched(topo, faults))
    d = settings.detector
    leads = LeadTimes.of(topo, faults, horizon_s=d.forecast_horizon_s, threshold=d.util_threshold)
    with tempfile.TemporaryDirectory(prefix="netvigil-mission-") as tmp:
        svc = Service.build(settings, twin=plan, data_dir=Path(tmp), on_fault=board.on_fault)
        assert svc.twin is not None
        watch = RecoveryWatch(
            svc.twin.network,
            faults,
            threshold=settings.detector.util_threshold,
            error_harm=settings.detector.error_harm_share,
        )
        svc.twin.step_hooks.append(watch)
        harm = HarmMeter(svc.twin.network, scenario.step_s, settings.detector.util_threshold)
        svc.twin.step_hooks.append(harm)
        svc.runtime.listen("netvigil.actions", harm.on_action)
        if isinstance(svc.runtime, EmbeddedRuntime):
            svc.twin.pace = svc.runtime.drain  # no simulated lag between twin and pipeline
        human = None
        if operator is not None:
            human = Operator(operator, svc.tickets)
            svc.runtime.listen("netvigil.actions", human.on_action)
            svc.twin.step_hooks.append(human)
        svc.runtime.listen("netvigil.incidents", board.on_incident)
        svc.runtime.listen("netvigil.anomalies", leads.on_anomaly)
        svc.runtime.listen("netvigil.metrics", leads.on_metric)
        if record:
            svc.runtime.listen("netvigil.metrics", recorder.on_metric)
        cross = None
        if specs:
            from netvigil.eval.crossdomain import CrossDomainRecorder
            from netvigil.twin.service_setup import attach_services

            served = attach_services(svc.twin, svc.topology, specs, seed=settings.twin.seed)
            harm.services = served
            cross = CrossDomainRecorder(specs, scenario.step_s, served.requests_per_step)
            svc.runtime.listen("netvigil.metrics", cross.on_metric)
            svc.runtime.listen("netvigil.incidents", cross.on_incident)
            svc.runtime.listen("netvigil.anomalies", cross.on_anomaly)
        wall0 = time.monotonic()
        asyncio.run(svc.run())
        wall = time.monotonic() - wall0
        stored = svc.incidents.list()
        tickets = sum(1 for _, t in stored if t)
        actions = svc.actions.all() if svc.actions is not None else []
        risks = svc.prevention.risks.all() if svc.prevention is not None else []
        if svc.actions is not None:
            svc.actions.close()
        svc.close()
    return _Run(board, watch, leads, recorder, human, actions, tickets, wall, cross, harm, risks)


def _averted(run: _Run) -> list[tuple[str, float, float]]:
    """(interface, from, to) over which a preemptive change averted a predicted harm."""
    return [
        (rr.risk.entity, rr.risk.opened_ts, rr.closed_ts or rr.risk.predicted_ts)
        for rr in run.risks
        if rr.outcome == "averted"
    ]


def _prevention(
    manual: _Run, auto: _Run | None, faults: list[Fault], topo: TopologyStore
) -> dict[str, Any]:
    """The prevention keys of the scoreboard: harm at level 1 and at levels 2/3, and what
    the levels-2/3 run prevented, rolled back and overloaded (:mod:`netvigil.eval.prevention`)."""
    hold_s = Prevention().hold_s
    runs = {"level1": manual, **({"autonomous": auto} if auto is not None else {})}
    figures = {
        name: prevention_report(r.actions, r.risks, faults, r.watch, r.harm, topo, hold_s=hold_s)
        for name, r in runs.items()
        if r.harm is not None
    }
    top = figures.get("autonomous", {})
    return {
        "harm_avoided_share": top.get("harm_avoided_share"),
        "harm_avoided_share_level1": figures["level1"]["harm_avoided_share"],
        "harm_s_level1": figures["level1"]["harm_s"],
        "harm_s_autonomous": top.get("harm_s"),
        "slo_budget_burned_level1": figures["level1"]["slo_budget_burned"],
        "slo_budget_burned_autonomous": top.get("slo_budget_burned"),
        "preemptive_changes": top.get("preemptive_changes"),
        "preemptive_rolled_back": top.get("preemptive_rolled_back"),
        "collateral_overloads": top.get("collateral_overloads"),
        "false_prediction_changes": top.get("false_prediction_changes"),
        "false_prediction_changes_rolled_back": top.get("false_prediction_changes_rolled_back"),
        "prevention": figures,
    }


def _actions_of(run: _Run, incident: str | None) -> str | None:
    if incident is None:
        return None
    done = [a for a in run.actions if a.incident == incident]
    return ", ".join(f"{a.action}@L{a.level}:{a.status}" for a in done) or "none"


def run_mission(
    scenario: Scenario,
    settings: Settings,
    *,
    topology: str | None = None,
    seed: int | None = None,
    plot: Path | None = None,
    repair_plot: Path | None = None,
    operator: OperatorModel | None = None,
    compare_autonomy: bool = True,
) -> dict[str, Any]:
    """Run the scenario on the embedded pipeline; return the scoreboard as plain data.

    The scenario runs at autonomy level 1 (phase ``passive``: every change is a proposal that
    the modelled ``operator`` approves after its response time) and, with
    ``compare_autonomy``, again with the same seed at levels 2/3 (phase ``autonomous``:
    pre-approved and twin-validated changes run at once). MTTR is read from the twin
    (:mod:`netvigil.eval.recovery`); detection figures at the top are the level-1 run's.
    """
    if seed is not None:
        settings.twin.seed = seed
    settings.twin.step_s = scenario.step_s
    if topology is not None:
        settings.twin.topology = Path(topology)
    operator = operator or OperatorModel()
    topo = load_topology(settings.twin.topology)
    faults = scenario.faults(topo, settings.twin.seed)
    benign = benign_faults(topo, scenario.benign, faults, settings.twin.seed)
    if scenario.earned:
        from netvigil.eval.earned import run_earned

        return run_earned(scenario, settings, topo, faults, benign, operator)
    until = SIM_EPOCH + scenario.duration_s
    record = plot is not None or repair_plot is not None
    specs = None
    if scenario.services:
        from netvigil.twin.service_setup import prepare, service_specs

        specs = service_specs(scenario.services, topo)
        prepare(settings, specs)
    manual = _run_once(
        scenario,
        settings,
        topo,
        faults,
        phase="passive",
        operator=operator,
        record=record,
        specs=specs,
        benign=benign,
    )
    auto = None
    if compare_autonomy:
        auto = _run_once(
            scenario,
            settings,
            topo,
            faults,
            phase="autonomous",
            operator=None,
            record=record,
            specs=specs,
            benign=benign,
        )
    report = manual.board.report()
    rows = report["faults"]
    days = scenario.duration_s / 86400
    s1 = _summary(report, manual.watch.recoveries, manual.tickets, until)
    auto_report = auto.board.report() if auto else None
    s2 = (
        _summary(auto_report, auto.watch.recoveries, auto.tickets, until)
        if auto is not None and auto_report is not None
        else None
    )
    for i, row in enumerate(rows):
        f = manual.board.injected[i]
        rec = manual.watch.of(f)
        row["level1"] = {
            **(rec.row() if rec else {}),
            "actions": _actions_of(manual, row.get("incident")),
        }
        if auto is not None and auto_report is not None:
            arow = auto_report["faults"][i]
            arec = auto.watch.of(f)
            row["autonomous"] = {
                **(arec.row() if arec else {}),
                "actions": _actions_of(auto, arow.get("incident")),
            }
    mttr1 = s1["mttr_p50_s"]
    mttr2 = s2["mttr_p50_s"] if s2 else None
    lead = manual.leads.report(manual.watch, _averted(manual))
    latencies = s1.pop("latencies")
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "topology": str(settings.twin.topology or "builtin:demo-backbone"),
        "devices": len(topo.devices()),
        "links": len(topo.links()),
        "seed": settings.twin.seed,
        "simulated_days": round(days, 3),
        "faults": len(rows),
        "detected": report["detected"],
        "mttd_p50_s": s1["mttd_p50_s"],
        "mttd_p90_s": s1["mttd_p90_s"],
        "rca_top1": s1["rca_top1"],
        "rca_top3": s1["rca_top3"],
        "false_incidents": report["false_incidents"],
        "false_incidents_per_day": round(report["false_incidents"] / days, 3),
        "incidents": report["incidents"],
        "tickets": s1["tickets"],
        "tickets_equal_incidents": s1["tickets_equal_incidents"]
        and (s2 is None or s2["tickets_equal_incidents"]),
        "operator": operator.describe(),
        "mttr_level1_p50_s": mttr1,
        "mttr_autonomous_p50_s": mttr2,
        "mttr_autonomy_ratio": (round(mttr1 / mttr2, 2) if mttr1 is not None and mttr2 else None),
        "congestion_ramps": lead["ramps"],
        "congestion_predicted_in_time": lead["predicted_in_time"],
        "congestion_in_time_share": lead["in_time_share"],
        "congestion_lead_time_p50_s": lead["lead_p50_s"],
        "forecast_horizon_s": lead["horizon_s"],
        "congestion_predictions": lead["predictions"],
        "false_predictions": lead["false_predictions"],
        **_prevention(manual, auto, [*faults, *benign], topo),
        "not_measured": {},
        "wall_s": round(manual.wall + (auto.wall if auto else 0.0), 2),
        "wall_s_per_simulated_day": round(manual.wall / days, 2) if days else None,
        "runs": {"level1": s1, **({"autonomous": s2} if s2 else {})},
        "lead_times": lead["per_ramp"],
        "per_fault": rows,
    }
    if s2 is not None:
        s2.pop("latencies")
    if not compare_autonomy:
        result["not_measured"]["mttr_autonomy_ratio"] = "autonomy comparison turned off"
    if not lead["ramps"]:
        result["not_measured"]["congestion_lead_time_p50_s"] = "no growth_ramp in the scenario"
    if mttr1 is None:
        result["not_measured"]["mttr_level1_p50_s"] = "no fault harmed the network"
    if plot is not None:
        from netvigil.eval.plot import plot_mission

        plot_mission(plot, scenario, faults, rows, manual.recorder.series)
        result["plot"] = str(plot)
    if manual.cross is not None:
        end = SIM_EPOCH + scenario.duration_s
        result["cross_domain"] = [manual.cross.report(f, end) for f in faults if not f.benign]
    if repair_plot is not None:
        from netvigil.eval.plot_repair import plot_repairs

        runs = {"level1": manual.recorder.series}
        if auto is not None:
            runs["autonomous"] = auto.recorder.series
        plot_repairs(repair_plot, result, runs)
        result["repair_plot"] = str(repair_plot)
    if latencies:
        result["mttd_mean_s"] = round(statistics.fmean(latencies), 3)
    return result
