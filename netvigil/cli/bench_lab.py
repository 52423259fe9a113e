"""``netvigil bench lab``: the same fault schedule on the lab and on the twin
(see netvigil.eval.lab)."""

from __future__ import annotations

import json

import click

from netvigil.cli._common import config_option, err, friendly, out
from netvigil.cli.bench import bench

__all__ = ["bench_lab"]

KEYS = ["faults", "detected", "top1", "top3", "mttd_p50_s", "false_incidents"]


@bench.command("lab")
@config_option
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    required=True,
    help="Topology for the lab (GraphML, e.g. from the Topology Zoo, or a YAML inventory).",
)
@click.option("--faults", "fault_count", type=click.IntRange(1), default=20, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--max-routers", type=click.IntRange(2), default=None, help="Build at most N.")
@click.option(
    "--kinds",
    default=None,
    help="Comma-separated lab fault kinds, in rotation (default: all eight).",
)
@click.option(
    "--duration", type=float, default=60.0, show_default=True, help="Seconds a fault lasts."
)
@click.option(
    "--interval",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds from one fault's start to the next.",
)
@click.option(
    "--warmup", type=float, default=90.0, show_default=True, help="Seconds before the first fault."
)
@click.option("--no-twin", is_flag=True, help="Run the lab only.")
@click.option("--no-whatif", is_flag=True, help="Skip the what-if load comparison.")
@click.option("--keep", is_flag=True, help="Leave the lab up afterwards.")
@click.option(
    "--record",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for each run's faults and anomalies (bench/lab_window_cv.py rescores them).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def bench_lab(
    config_path: str | None,
    topology: str,
    fault_count: int,
    seed: int,
    max_routers: int | None,
    kinds: str | None,
    duration: float,
    interval: float,
    warmup: float,
    no_twin: bool,
    no_whatif: bool,
    keep: bool,
    record: str | None,
    as_json: bool,
) -> None:
    """Inject FAULTS faults (link down, link loss, congestion, node down, routing crash, MTU
    mismatch, cost misconfiguration, flapping) one at a time on a lab of TOPOLOGY, then the
    same schedule on its twin; score detection and root causes on both, and compare the
    twin's predicted link loads after a cost change with the lab's measured ones (root)."""
    from netvigil.eval.lab import LabBench, run_lab_bench
    from netvigil.lab.faults import LAB_FAULT_KINDS, SCHEDULED_KINDS

    chosen = tuple(k.strip() for k in kinds.split(",")) if kinds else SCHEDULED_KINDS
    unknown = set(chosen) - set(LAB_FAULT_KINDS)
    if unknown:
        raise click.BadParameter(
            f"unknown kinds {sorted(unknown)}; choose from {', '.join(LAB_FAULT_KINDS)}",
            param_hint="--kinds",
        )
    cfg = LabBench(
        topology=topology,
        faults=fault_count,
        seed=seed,
        max_routers=max_routers,
        kinds=chosen,
        duration_s=duration,
        interval_s=interval,
        warmup_s=warmup,
        config=config_path,
        twin=not no_twin,
        whatif=not no_whatif,
        keep=keep,
        record=record,
    )
    report = run_lab_bench(cfg, say=None if as_json else (lambda msg: err.print(msg)))
    if as_json:
        click.echo(json.dumps(report))
        return
    twin = report.get("twin", {})
    for side, r in (("lab", report), ("twin", twin)):
        if r:
            out.print(f"{side:<5}" + ", ".join(f"{k} {r[k]}" for k in KEYS))
    for kind, c in report["by_kind"].items():
        t = twin.get("by_kind", {}).get(kind, {})
        out.print(
            f"  {kind:<15} lab {c['detected']}/{c['n']} detected, {c['top1']} top-1"
            + (f"; twin {t['detected']}/{t['n']}, {t['top1']} top-1" if t else "")
        )
    w = report.get("whatif")
    if w:
        a = w["after"]
        out.print(
            f"what-if {w['link']} cost {w['cost'][0]} -> {w['cost'][1]}: "
            f"{a['within_tolerance']}/{a['loaded_directions']} loaded directions within 15 %, "
            f"median error {a['rel_error_p50']}"
        )
        b, sent = w.get("after_achieved"), (w.get("traffic") or {}).get("after")
        if b and sent:
            out.print(
                f"  for the demand the generator sent ({sent['achieved_share']} of its demand): "
                f"{b['within_tolerance']}/{b['loaded_directions']} within 15 %, "
                f"median error {b['rel_error_p50']}"
            )
    if report.get("traffic"):
        t = report["traffic"]
        out.print(
            f"traffic generator: sent {t['sent_bps']:.0f} of {t['offered_bps']:.0f} bit/s "
            f"offered ({t['achieved_share']}) over the fault schedule"
        )


@bench.command("lab-ramp")
@config_option
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    required=True,
    help="Topology for the lab (GraphML or a YAML inventory).",
)
@click.option("--max-routers", type=click.IntRange(2), default=5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--link", default="", help="The ramped link (default: chosen by rule).")
@click.option("--from", "direction", default="", help="The link's end the ramp leaves.")
@click.option("--warmup", type=float, default=240.0, show_default=True)
@click.option(
    "--ramp", "ramp_s", type=float, default=900.0, show_default=True, help="Seconds of growth."
)
@click.option(
    "--hold", "hold_s", type=float, default=120.0, show_default=True, help="Seconds at the peak."
)
@click.option("--lookahead", type=float, default=300.0, show_default=True)
@click.option("--keep", is_flag=True, help="Leave the lab up afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def bench_lab_ramp(
    config_path: str | None,
    topology: str,
    max_routers: int,
    seed: int,
    link: str,
    direction: str,
    warmup: float,
    ramp_s: float,
    hold_s: float,
    lookahead: float,
    keep: bool,
    as_json: bool,
) -> None:
    """A growth ramp on a lab link, NetVigil at level 3: the forecast, the risk, the
    preemptive IGP cost change on the real routers, and the link's peak utilization from
    the routers' SNMP counters (root; see docs/prevention.md)."""
    from netvigil.eval.lab_prevention import LabRamp, run_lab_ramp

    cfg = LabRamp(
        topology=topology,
        link=link,
        direction=direction,
        max_routers=max_routers,
        seed=seed,
        warmup_s=warmup,
        ramp_s=ramp_s,
        hold_s=hold_s,
        lookahead_s=lookahead,
        config=config_path,
        keep=keep,
    )
    report = run_lab_ramp(cfg, say=None if as_json else (lambda msg: err.print(msg)))
    if as_json:
        click.echo(json.dumps(report))
        return
    report.pop("audit", None)
    out.print(json.dumps(report, indent=2))
