"""``netvigil bench``: measured runs of the whole pipeline against the twin."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from netvigil.cli._common import config_option, err, friendly, main, print_table
from netvigil.config import load_settings
from netvigil.eval.mission import list_scenarios, load_scenario, run_mission
from netvigil.eval.operator import OperatorModel

__all__ = ["bench"]

#: what the table of the earned-autonomy scenario shows
EARNED_KEYS = (
    "devices",
    "links",
    "simulated_days",
    "faults",
    "detected",
    "false_incidents",
    "suppressed_incidents",
    "false_incidents_before_feedback",
    "false_incidents_after_feedback",
    "false_incident_fall",
    "wall_s",
)


@main.group()
def bench() -> None:
    """Benchmarks and quality evaluations of the running pipeline."""


@bench.command("mission")
@config_option
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Topology (GraphML or YAML); default: the built-in demo backbone.",
)
@click.option(
    "--scenario",
    default="mixed-faults",
    show_default=True,
    help=f"A built-in scenario ({', '.join(list_scenarios())}) or a YAML file.",
)
@click.option("--seed", type=int, default=None, help="Twin seed (default from settings).")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a PNG of the signals, injected faults and detections.",
)
@click.option(
    "--repair-plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a PNG of time to repair per fault, level 1 vs levels 2/3, and one ramp.",
)
@click.option(
    "--ack-s",
    type=float,
    default=OperatorModel.ack_s,
    show_default=True,
    help="Level 1: simulated seconds the modelled operator takes to acknowledge a proposal.",
)
@click.option(
    "--approve-s",
    type=float,
    default=OperatorModel.approve_s,
    show_default=True,
    help="Level 1: simulated seconds the modelled operator then takes to approve it.",
)
@click.option(
    "--no-compare",
    is_flag=True,
    help="Run at level 1 only (no second run at levels 2/3; no MTTR ratio).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def mission(
    config_path: str | None,
    topology: str | None,
    scenario: str,
    seed: int | None,
    plot: str | None,
    repair_plot: str | None,
    ack_s: float,
    approve_s: float,
    no_compare: bool,
    as_json: bool,
) -> None:
    """The mission scoreboard: run a scenario through the whole pipeline on the simulated
    clock and report MTTD, RCA accuracy, false incidents per day, congestion-prediction lead
    time, MTTR at autonomy level 1 (a modelled operator approves) and at levels 2/3 (the
    same scenario and seed again), and ticket hygiene."""
    settings = load_settings(config_path)
    sc = load_scenario(scenario)
    if not as_json:
        runs = "once" if no_compare else "twice (level 1, then levels 2/3)"
        err.print(f"running '{sc.name}' ({sc.duration_s / 3600:.0f} simulated hours) {runs} ...")
    result = run_mission(
        sc,
        settings,
        topology=topology,
        seed=seed,
        plot=Path(plot) if plot else None,
        repair_plot=Path(repair_plot) if repair_plot else None,
        operator=OperatorModel(ack_s=ack_s, approve_s=approve_s),
        compare_autonomy=not no_compare,
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    table = Table("measure", "value", title=f"mission {sc.name} on {result['topology']}")
    if sc.earned:
        for key in EARNED_KEYS:
            table.add_row(key, str(result[key]))
        for name, d in result["domains"].items():
            promoted = ", ".join(
                f"{p} on day {t / 86400:.2f}" for p, t in d["promoted_at_s"].items()
            )
            table.add_row(f"domain {name}", f"{d['phase_end']} (promoted: {promoted or 'never'})")
        print_table(table)
        return
    for key in (
        "devices",
        "links",
        "simulated_days",
        "faults",
        "detected",
        "mttd_p50_s",
        "mttd_p90_s",
        "rca_top1",
        "rca_top3",
        "false_incidents",
        "false_incidents_per_day",
        "incidents",
        "tickets",
        "tickets_equal_incidents",
        "operator",
        "mttr_level1_p50_s",
        "mttr_autonomous_p50_s",
        "mttr_autonomy_ratio",
        "congestion_ramps",
        "congestion_predicted_in_time",
        "congestion_in_time_share",
        "congestion_lead_time_p50_s",
        "harm_s_level1",
        "harm_s_autonomous",
        "harm_avoided_share",
        "preemptive_changes",
        "preemptive_rolled_back",
        "collateral_overloads",
        "wall_s",
        "wall_s_per_simulated_day",
    ):
        table.add_row(key, str(result[key]))
    print_table(table)


import netvigil.cli.bench_lab  # noqa: E402  (registers `bench lab` on this group)
import netvigil.cli.bench_rca  # noqa: E402  (registers `bench rca` on this group)
import netvigil.cli.bench_scale  # noqa: E402, F401  (registers `bench scale` on this group)
