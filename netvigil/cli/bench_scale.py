"""``netvigil bench scale``: the pipeline on a generated carrier network with a core storm
(see netvigil.eval.scale)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from netvigil.cli._common import err, friendly, out
from netvigil.cli.bench import bench

if TYPE_CHECKING:
    from netvigil.eval.scale import Progress

__all__ = ["bench_scale"]


@bench.command("scale")
@click.option(
    "--devices",
    type=click.IntRange(24),
    default=10_000,
    show_default=True,
    help="Devices of the generated carrier network (about 10 interfaces each).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Generator seed.")
@click.option(
    "--regions",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Split the correlator into this many regions (correlator.regions).",
)
@click.option(
    "--graph",
    type=click.Choice(["embedded", "neo4j"]),
    default="embedded",
    show_default=True,
    help="Topology store: the embedded one, or Neo4j (import, ranking and the whole pipeline "
    "on it).",
)
@click.option(
    "--neo4j-url",
    default=None,
    help="With --graph neo4j: a running Neo4j the run may empty (default: start one with the "
    "project's provision code, from a NetVigil checkout; needs Java).",
)
@click.option(
    "--neo4j-password",
    default="",
    envvar="NETVIGIL_GRAPH__PASSWORD",
    show_envvar=True,
    help="Password of --neo4j-url (none: no authentication).",
)
@click.option(
    "--bus",
    type=click.Choice(["embedded", "kafka"]),
    default="embedded",
    show_default=True,
    help="The pipeline's runtime: embedded, or Kafka (every processor's loop in this process).",
)
@click.option(
    "--kafka-bootstrap",
    default=None,
    help="With --bus kafka: a running broker (the run makes topics of its own prefix; default: "
    "start one with the project's provision code; needs Java).",
)
@click.option(
    "--rank-samples",
    type=click.IntRange(10),
    default=200,
    show_default=True,
    help="Fault cases ranked for rank_p99_ms.",
)
@click.option(
    "--speed",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="The twin's simulated seconds per wall second (0: as fast as the pipeline goes; 1: "
    "the network's own pace, 10 s a step).",
)
@click.option(
    "--no-storm",
    is_flag=True,
    help="Generate, import and rank only (the pipeline's figures are null).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@friendly
def bench_scale(
    devices: int,
    seed: int,
    regions: int,
    graph: str,
    neo4j_url: str | None,
    neo4j_password: str,
    bus: str,
    kafka_bootstrap: str | None,
    rank_samples: int,
    speed: float,
    no_storm: bool,
    as_json: bool,
) -> None:
    """Generate a carrier network of DEVICES devices (core, aggregation, access; dual-homed),
    import it into the graph store, time RCA ranking on it, then run the whole pipeline
    (embedded, or on Kafka with --bus kafka) on the twin: a few quiet steps, then both core
    routers of one core site fail and cut off every POP behind them (~1/10 of the network).
    Reports throughput, the storm's incidents (the floor: exactly one, naming a failed router,
    within 30 s), latency, memory, import time and ranking p99. Progress goes to stderr;
    unmeasurable values are null, with the reason under "unmeasured". 10,000 devices take
    several minutes and ~2 GB."""
    from netvigil.eval.scale import ScaleSpec, run_scale_bench

    spec = ScaleSpec(
        devices=devices,
        seed=seed,
        regions=regions,
        graph="neo4j" if graph == "neo4j" else "embedded",
        neo4j_url=neo4j_url,
        neo4j_password=neo4j_password,
        bus="kafka" if bus == "kafka" else "embedded",
        kafka_bootstrap=kafka_bootstrap,
        rank_samples=rank_samples,
        speed=speed,
        storm=not no_storm,
    )
    with _progress() as progress:
        report = run_scale_bench(spec, progress)
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        out.print(f"{key}: {value}")


@contextlib.contextmanager
def _progress() -> Iterator[Progress]:
    """A progress bar on a terminal's stderr; elsewhere (a log, a CI job) a line per phase
    and per twin step."""
    if not err.is_terminal:
        last: dict[str, int] = {}

        def line(phase: str, done: int, total: int) -> None:
            step = max(total // 10, 1) if phase == "ranking" else 1
            if phase not in last or done == total or done - last[phase] >= step:
                last[phase] = done
                err.print(f"{phase}: {done}/{total}", highlight=False)

        yield line
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with RichProgress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update
