"""``netvigil bench``: measured runs of the whole pipeline against the twin."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from netvigil.cli._common import config_option, err, friendly, main, out
from netvigil.config import load_settings
from netvigil.twin.mission import list_scenarios, load_scenario, run_mission

__all__ = ["bench"]


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def mission(
    config_path: str | None,
    topology: str | None,
    scenario: str,
    seed: int | None,
    plot: str | None,
    as_json: bool,
) -> None:
    """The mission scoreboard: run a scenario through the whole pipeline on the simulated
    clock and report MTTD, RCA accuracy, false incidents per day, MTTR and ticket hygiene."""
    settings = load_settings(config_path)
    sc = load_scenario(scenario)
    if not as_json:
        err.print(f"running '{sc.name}' ({sc.duration_s / 3600:.0f} simulated hours) ...")
    result = run_mission(
        sc, settings, topology=topology, seed=seed, plot=Path(plot) if plot else None
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    table = Table("measure", "value", title=f"mission {sc.name} on {result['topology']}")
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
        "mttr_p50_s",
        "autonomy",
        "mttr_autonomy_ratio",
        "congestion_lead_time_p50_s",
        "wall_s",
        "wall_s_per_simulated_day",
    ):
        table.add_row(key, str(result[key]))
    out.print(table)
