"""``netvigil bench rca``: the RCA evaluation on the digital twin (see netvigil.eval.rcabench)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from netvigil.cli._common import friendly, out
from netvigil.cli.bench import bench

__all__ = ["bench_rca"]


@bench.command("rca")
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Topology (GraphML or YAML); default: the built-in demo backbone.",
)
@click.option("--faults", "fault_count", type=click.IntRange(1), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--regions",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Split the correlator into this many regions (correlator.regions).",
)
@click.option(
    "--poll-timeouts",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of SNMP polls that time out alone, devices and network fine (the lab's "
    "loaded machine: 0.011); unreachable verdicts follow snmp.down_after.",
)
@click.option(
    "--silent-senders",
    is_flag=True,
    help="Each congestion's sending router does not answer its polls while it lasts (the "
    "lab's Marnet run) and interfaces report if.in_util: the far end shows the congestion.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the anomalies and clock ticks the correlator read to this file (JSON), to "
    "correlate them again offline (bench/confirm_cv.py).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--details", is_flag=True, help="With --json: add per-kind counts, misses, incidents."
)
@friendly
def bench_rca(
    topology: str | None,
    fault_count: int,
    seed: int,
    regions: int,
    poll_timeouts: float,
    silent_senders: bool,
    record: str | None,
    as_json: bool,
    details: bool,
) -> None:
    """Inject FAULTS faults one at a time on the twin (node, link, linecard, congestion,
    flapping link) with benign anomalies and 10% telemetry loss; score the root causes."""
    from netvigil.eval.rcabench import run_rca_bench

    report = run_rca_bench(
        topology,
        fault_count,
        seed,
        regions=regions,
        poll_timeouts=poll_timeouts,
        silent_senders=silent_senders,
        record=Path(record) if record else None,
    )
    keys = ["faults", "top1", "top3", "mttd_p50_s", "false_incidents"]
    if as_json:
        shown = report if details else {k: report[k] for k in keys}
        click.echo(json.dumps(shown))
        return
    out.print(
        f"{report['faults']} faults: top-1 {report['top1']:.2f}, top-3 {report['top3']:.2f}, "
        f"MTTD p50 {report['mttd_p50_s']} s (simulated), "
        f"{report['false_incidents']} false incidents, {report['benign']} benign anomalies"
    )
    for kind, c in report["by_kind"].items():
        out.print(f"  {kind:<11} {c['top1']}/{c['n']} top-1, {c['top3']}/{c['n']} top-3")
    for m in report["misses"]:
        out.print(f"  miss: {m}")
