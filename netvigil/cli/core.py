"""Core commands: run, demo, config, audit."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netvigil import __version__
from netvigil.cli._common import config_option, err, main, out, print_table
from netvigil.cli._common import friendly as _friendly
from netvigil.config import Settings, describe, load_settings, redacted
from netvigil.errors import NetVigilError
from netvigil.eval.scoreboard import Scoreboard
from netvigil.events import AuditRecord, Event, Incident
from netvigil.logs_setup import setup_logging
from netvigil.redaction import redact_urls
from netvigil.resolvers.audit import AuditLog
from netvigil.service import Service
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH, resume_point

# ---------------------------------------------------------------- config


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@_friendly
def config_show(config_path: str | None, as_json: bool) -> None:
    """Print the effective configuration (file + environment + defaults), secrets redacted."""
    data = redacted(load_settings(config_path))
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config.command("docs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--markdown", is_flag=True, help="Print Markdown tables by section (docs/configuration.md)."
)
def config_docs(as_json: bool, markdown: bool) -> None:
    """List every setting with its environment variable, type, default and meaning."""
    rows = describe()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if markdown:
        click.echo(settings_markdown(rows), nl=False)
        return
    table = Table("setting", "environment variable", "type", "default", "meaning")
    for r in rows:
        table.add_row(r["setting"], r["env"], r["type"], r["default"], r["help"])
    print_table(table)


def settings_markdown(rows: list[dict[str, str]]) -> str:
    """Every setting as Markdown tables, one per section, in the order of the settings."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out: list[str] = []
    section = ""
    for r in rows:
        head = r["setting"].split(".", 1)[0]
        if head != section:
            section = head
            out += [
                "",
                f"## `{section}`",
                "",
                "| setting | environment variable | type | default | meaning |",
            ]
            out.append("|---|---|---|---|---|")
        default = cell(r["default"]) or '""'
        out.append(
            f"| `{r['setting']}` | `{r['env']}` | {cell(r['type'])} | "
            f"`{default}` | {cell(r['help'])} |"
        )
    return "\n".join(out).lstrip("\n") + "\n"


# ---------------------------------------------------------------- run


def _sim(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@main.command()
@config_option
@click.option(
    "--twin/--no-twin",
    default=False,
    help="Watch the digital twin (a simulated network with injected faults).",
)
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Twin: simulated seconds per wall second (0 = as fast as possible).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where incidents, tickets, audit and dead letters are kept.",
)
@click.option(
    "--bus",
    default=None,
    metavar="URL",
    help="memory:// (embedded, the default) or kafka://HOST:PORT[,HOST:PORT].",
)
@click.option(
    "--lab",
    is_flag=True,
    help="Watch the running lab (`netvigil lab up`): its SNMP agents, logs, "
    "flows and LLDP-learned topology; act on its routers.",
)
@_friendly
def run(
    config_path: str | None,
    twin: bool,
    speed: float | None,
    data_dir: str | None,
    bus: str | None = None,
    lab: bool = False,
) -> None:
    """Run the always-on service until Ctrl-C, then drain and stop."""
    settings = load_settings(config_path, **({"bus": {"url": bus}} if bus else {}))
    setup_logging(settings.log.level, timestamps=False)  # its lines carry event time
    if lab:  # the whole hook: settings pointed at the lab (netvigil/lab/hook.py)
        from netvigil.lab.hook import lab_settings

        settings = lab_settings(settings, log=out.print)
    plan = None
    if twin:  # over a used data directory, the twin resumes after the last run's time
        start = resume_point(Path(data_dir or settings.storage.data_dir), settings.twin.step_s)
        plan = Service.plan_twin(settings, speed=speed, start=start)
        if start > SIM_EPOCH:
            out.print(f"the twin resumes at {_sim(start)}, after the last twin run's time")
    if settings.api.enabled:
        from netvigil.api.preflight import check_console

        data = Path(data_dir or settings.storage.data_dir)
        if check_console(settings.api, data) == 0:
            err.print(
                "[yellow]no console tokens yet: create one with "
                "`netvigil api token create --role admin`[/]"
            )

    def on_fault(what: str, f: Fault, t: float) -> None:
        verb = "[yellow]twin injects[/]" if what == "injected" else "[green]twin clears[/]"
        out.print(f"[dim]{_sim(t)}[/] {verb} {f.kind} on {f.target}")

    svc = Service.build(
        settings, twin=plan, data_dir=Path(data_dir) if data_dir else None, on_fault=on_fault
    )

    def on_incident(topic: str, e: Event) -> None:
        if isinstance(e, Incident) and e.revision == 1:
            rc = e.root_cause
            out.print(
                f"[dim]{_sim(e.ts)}[/] [bold red]incident[/] {e.fingerprint} "
                f"{e.severity}: {e.title}" + (f" (confidence {rc.score:.2f})" if rc else "")
            )

    def on_audit(topic: str, e: Event) -> None:
        if isinstance(e, AuditRecord):
            out.print(
                f"[dim]{_sim(e.ts)}[/] [cyan]audit #{e.seq}[/] {e.action} {e.subject} "
                f"{_audit_what(e.detail)}"
            )

    svc.runtime.listen("netvigil.incidents", on_incident)
    svc.runtime.listen("netvigil.audit", on_audit)
    if plan is None and not svc.collectors:
        err.print("[yellow]no sources: start with --twin to watch the digital twin[/]")
    earlier = svc.incidents.counts()
    if earlier:  # the correlator takes the open ones back (docs/operations.md)
        from netvigil.cli.stop_summary import counted

        out.print(
            f"{counted(sum(earlier.values()), 'incident')} from earlier runs in {svc.data_dir} "
            f"({earlier.get('open', 0)} open, resumed)"
        )
    bus_shown = "embedded" if settings.bus.url.startswith("memory") else settings.bus.url
    out.print(
        f"NetVigil {__version__} running ({redact_urls(bus_shown)}; "
        f"data in {svc.data_dir}); "
        "Ctrl-C stops it cleanly."
    )

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if settings.api.enabled:
            from netvigil.api.server import run_with_console

            api = settings.api
            try:
                await run_with_console(svc, stop, lambda url: out.print(f"console at {url}"))
            except SystemExit:  # uvicorn exits when it cannot listen
                raise NetVigilError(
                    f"the console could not listen on {api.host}:{api.port}; set api.host / "
                    "api.port (NETVIGIL_API__PORT) to a free address"
                ) from None
        else:
            await svc.run(stop)

    failed = True
    try:
        asyncio.run(main_loop())
        failed = bool(svc.runtime.source_errors)
    finally:
        _print_summary(svc, failed)
        svc.close()
    for name, exc in svc.runtime.source_errors.items():
        where = _SOURCE_SETTINGS.get(name, f"{name}.*")
        raise NetVigilError(
            f"source {name} failed, so the service stopped: {exc}; check the {where} "
            "settings (`netvigil config docs`)"
        )


_SOURCE_SETTINGS = {
    "snmp-traps": "snmp.trap_*",
    "probes": "services.probes",
    "prometheus": "services.scrape",
    "otlp": "services.otlp.*",
}
"""Where the settings of a source are, when not in the section of its own name."""


def _audit_what(detail: dict[str, object]) -> str:
    """An audit record's object in a few words: its ticket, else its action and target."""
    if detail.get("ticket"):
        return f"ticket {detail['ticket']}"
    if detail.get("action"):
        return f"{detail['action']} on {detail.get('target', '?')}"
    return ""


def _print_summary(svc: Service, failed: bool) -> None:
    """The stop summary (:mod:`netvigil.cli.stop_summary`)."""
    from netvigil.cli.stop_summary import render, stop_report

    for line in render(stop_report(svc, failed=failed)):
        out.print(line, highlight=False, markup=False)


# ---------------------------------------------------------------- demo


@main.command()
@config_option
@click.option(
    "--duration",
    type=float,
    default=60.0,
    show_default=True,
    help="Wall-clock seconds the demo may take at most.",
)
@click.option(
    "--faults",
    "fault_count",
    type=click.IntRange(1),
    default=6,
    show_default=True,
    help="Faults to inject (kinds rotate: link down, congestion, node down).",
)
@click.option("--seed", type=int, default=None, help="Twin seed (default from settings).")
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Twin topology (YAML or GraphML); default: the built-in demo backbone.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
@_friendly
def demo(
    config_path: str | None,
    duration: float,
    fault_count: int,
    seed: int | None,
    topology: str | None,
    as_json: bool,
) -> None:
    """Run the pipeline against the twin on a fast simulated clock, inject faults, and report
    each fault's true root cause, detected root cause and detection latency (simulated s)."""
    settings = load_settings(config_path)
    if seed is not None:
        settings.twin.seed = seed
    if topology is not None:
        settings.twin.topology = Path(topology)
    plan = Service.plan_twin(settings, fault_count=fault_count, speed=0.0)
    board = Scoreboard(grace_s=3 * settings.twin.step_s)
    with tempfile.TemporaryDirectory(prefix="netvigil-demo-") as tmp:
        svc = Service.build(settings, twin=plan, data_dir=Path(tmp), on_fault=board.on_fault)
        svc.runtime.listen("netvigil.incidents", board.on_incident)
        wall0 = time.monotonic()
        timed_out = asyncio.run(_run_bounded(svc, plan.until or SIM_EPOCH, duration, as_json))
        report = board.report()
        report["tickets"] = len(svc.incidents.list())
        report["audit_verified"] = svc.audit.verify().ok
        report["dead_letters"] = svc.dead_letters.count
        report["simulated_s"] = round((svc.twin.now if svc.twin else SIM_EPOCH) - SIM_EPOCH, 1)
        report["wall_s"] = round(time.monotonic() - wall0, 2)
        report["complete"] = not timed_out
        svc.close()
    if as_json:
        click.echo(json.dumps(report))
        return
    table = Table("fault", "true root cause", "detected root cause", "latency (sim s)", "")
    for r in report["faults"]:
        lat = "-" if r["detection_latency_s"] is None else f"{r['detection_latency_s']:.0f}"
        table.add_row(
            r["kind"],
            r["true_root_cause"],
            str(r["detected_root_cause"]),
            lat,
            "[green]ok[/]" if r["correct"] else "[red]miss[/]",
        )
    print_table(table)
    out.print(
        f"{report['correct']}/{len(report['faults'])} root causes right, "
        f"{report['false_incidents']} false incidents, {report['tickets']} tickets, "
        f"audit {'verified' if report['audit_verified'] else 'BROKEN'}; "
        f"{report['simulated_s']:.0f} simulated s in {report['wall_s']:.1f} s"
    )


async def _run_bounded(svc: Service, until: float, duration: float, quiet: bool) -> bool:
    """Run until the twin's schedule ends or ``duration`` wall seconds pass; True if cut off."""
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    total = max(until - SIM_EPOCH, 1.0)
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
    timed_out = False
    with progress:
        bar = progress.add_task("", total=total)
        deadline = time.monotonic() + duration
        while not task.done():
            now = svc.twin.now if svc.twin else until
            progress.update(
                bar,
                completed=now - SIM_EPOCH,
                description=f"{(now - SIM_EPOCH) / 3600:.1f} h simulated",
            )
            if time.monotonic() > deadline:
                timed_out = True
                stop.set()
                break
            await asyncio.sleep(0.1)
    await task
    return timed_out


# ---------------------------------------------------------------- audit


@main.group()
def audit() -> None:
    """Inspect the audit log."""


@audit.command("verify")
@config_option
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True)
@_friendly
def audit_verify(config_path: str | None, data_dir: str | None, as_json: bool) -> None:
    """Recompute the audit hash chain; exit 1 if any record was edited, inserted or removed."""
    settings: Settings = load_settings(config_path)
    path = Path(data_dir or settings.storage.data_dir) / "audit.db"
    if not path.exists():
        raise NetVigilError(f"no audit log at {path}; pass --data-dir of a NetVigil run")
    try:
        log = AuditLog(
            path, key=settings.coordinator.audit_key.get_secret_value(), create_key=False
        )
    except sqlite3.DatabaseError as exc:
        raise NetVigilError(f"{path} is not a readable audit log ({exc})") from None
    result = log.verify()
    log.close()
    if as_json:
        click.echo(
            json.dumps({"ok": result.ok, "records": result.records, "problems": result.problems})
        )
    else:
        status = "[green]verified[/]" if result.ok else "[red]BROKEN[/]"
        out.print(f"audit chain {status}: {result.records} records")
        for p in result.problems:
            out.print(f"  {p}")
    sys.exit(0 if result.ok else 1)
