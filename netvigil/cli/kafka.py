"""Kafka commands: topics create/list, worker, replay."""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from netvigil.cli._common import config_option, err, friendly, main, out, print_table
from netvigil.config import Settings, load_settings
from netvigil.errors import ConfigError, NetVigilError
from netvigil.events import TOPICS, Incident
from netvigil.logs_setup import setup_logging
from netvigil.redaction import redact_urls

bus_option = click.option(
    "--bus",
    default=None,
    metavar="kafka://HOST:PORT",
    help="Kafka bootstrap servers (default: bus.url of the settings).",
)


def _settings(config_path: str | None, bus: str | None) -> tuple[Settings, str]:
    from netvigil.streams.kafka import bootstrap_of

    settings = load_settings(config_path, **({"bus": {"url": bus}} if bus else {}))
    if not settings.bus.url.startswith("kafka://"):
        raise ConfigError(
            f"bus.url = {redact_urls(settings.bus.url)!r}: this command needs Kafka; pass --bus "
            "kafka://HOST:PORT or set NETVIGIL_BUS__URL"
        )
    return settings, bootstrap_of(settings.bus.url)


def _when(text: str) -> float:
    """Unix seconds from ISO 8601 (``2026-01-05T00:30:00Z``) or a number of seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither ISO 8601 nor Unix seconds") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


# ---------------------------------------------------------------- topics


@main.group()
def topics() -> None:
    """Create and inspect NetVigil's Kafka topics."""


@topics.command("create")
@config_option
@bus_option
@click.option("--partitions", type=click.IntRange(1), default=None, help="Partitions per topic.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@friendly
def topics_create(
    config_path: str | None, bus: str | None, partitions: int | None, as_json: bool
) -> None:
    """Create every topic of the contract (idempotent: existing topics get their settings)."""
    from netvigil.streams.kafka import create_topics

    settings, bootstrap = _settings(config_path, bus)
    if partitions is not None:
        settings.kafka.partitions = partitions
    for name, outcome in create_topics(bootstrap, settings.kafka):
        if as_json:
            click.echo(json.dumps({"topic": name, "outcome": outcome}))
        else:
            out.print(f"{name}: {outcome}")


@topics.command("list")
@config_option
@bus_option
@click.option("--internal", is_flag=True, help="Also workers' changelog and re-key topics.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@friendly
def topics_list(config_path: str | None, bus: str | None, internal: bool, as_json: bool) -> None:
    """List the topics with partitions, messages, retention and lag per consumer group."""
    from netvigil.streams.kafka import describe_topics

    settings, bootstrap = _settings(config_path, bus)
    infos = describe_topics(bootstrap, settings.kafka.topic_prefix, internal=internal)
    if as_json:
        for i in infos:
            row: dict[str, Any] = {
                "topic": i.name,
                "partitions": i.partitions,
                "records": i.messages,
                "cleanup_policy": i.cleanup_policy,
                "retention_ms": i.retention_ms,
                "lag": {g.group: g.lag for g in i.groups},
            }
            click.echo(json.dumps(row))
        return
    table = Table("topic", "partitions", "records", "cleanup", "retention h", "lag per group")
    for i in infos:
        hours = "forever" if i.retention_ms == "-1" else f"{int(i.retention_ms) / 3.6e6:g}"
        lag = ", ".join(f"{g.group}={g.lag}" for g in i.groups) or "-"
        table.add_row(i.name, str(i.partitions), str(i.messages), i.cleanup_policy, hours, lag)
    print_table(table)
    if not infos:
        err.print("[yellow]no NetVigil topics yet: run `netvigil topics create`[/]")


# ---------------------------------------------------------------- worker


@main.command()
@config_option
@bus_option
@click.option(
    "--processors",
    default=None,
    help="Comma-separated processors to run (default: kafka.worker_processors).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where this worker keeps its local files (spool, resolver stores).",
)
@friendly
def worker(
    config_path: str | None, bus: str | None, processors: str | None, data_dir: str | None
) -> None:
    """Run stream processors on Kafka until Ctrl-C; start more workers to scale out."""
    from netvigil.service import Service

    settings, bootstrap = _settings(config_path, bus)
    names = (
        [p.strip() for p in processors.split(",") if p.strip()]
        if processors
        else list(settings.kafka.worker_processors)
    )
    setup_logging(settings.log.level)
    svc = Service.build(settings, data_dir=Path(data_dir) if data_dir else None, only=names)
    err.print(f"netvigil worker: {', '.join(names)} on {bootstrap}; Ctrl-C stops it cleanly")

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await svc.run(stop)

    try:
        asyncio.run(main_loop())
    finally:
        from netvigil.cli.stop_summary import ignored_counts, ignored_line

        stats = svc.runtime.stats()
        err.print(f"worker stopped: processed {stats['processed']}, failed {stats['failed']}")
        ignored = ignored_line(ignored_counts(svc))
        if ignored is not None:  # what this worker's processors ignored, as `run` says it
            err.print(ignored.strip(), highlight=False, markup=False)
        svc.close()


# ---------------------------------------------------------------- replay


@main.command()
@config_option
@bus_option
@click.option(
    "--from-topic",
    "from_topics",
    multiple=True,
    required=True,
    help="Topic to replay (contract name, e.g. netvigil.metrics); repeat to merge several.",
)
@click.option("--start", required=True, help="Start of the range: ISO 8601 or Unix seconds.")
@click.option("--end", required=True, help="End of the range (exclusive), same formats.")
@click.option(
    "--time",
    "by",
    type=click.Choice(["record", "event"]),
    default="record",
    show_default=True,
    help="Range over when records were written to Kafka, or over the events' own time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def replay(
    config_path: str | None,
    bus: str | None,
    from_topics: tuple[str, ...],
    start: str,
    end: str,
    by: str,
    as_json: bool,
) -> None:
    """Feed a recorded range of topics through the processors again (locally: no tickets,
    nothing written back) and print the incidents it gives. Same range, same incidents."""
    from netvigil.service import Service
    from netvigil.streams.kafka import read_range

    settings, bootstrap = _settings(config_path, bus)
    for t in from_topics:
        if t not in TOPICS:
            raise NetVigilError(f"{t!r} is not a NetVigil topic; choose from {sorted(TOPICS)}")
    t0, t1 = _when(start), _when(end)
    wall = time.monotonic()
    names = [settings.kafka.topic_prefix + t for t in from_topics]
    rng = read_range(bootstrap, names, t0, t1, by="event" if by == "event" else "record")
    settings.bus.url = "memory://"
    with tempfile.TemporaryDirectory(prefix="netvigil-replay-") as tmp:
        svc = Service.build(settings, data_dir=Path(tmp), sources=[rng])
        seen: dict[str, Incident] = {}

        def on_incident(topic: str, e: Any) -> None:
            if isinstance(e, Incident):
                seen[e.fingerprint] = e

        svc.runtime.listen("netvigil.incidents", on_incident)
        asyncio.run(svc.run())
        svc.close()
    report: dict[str, Any] = {
        "records": rng.records,
        "events": len(rng.events),
        "undecodable": len(rng.undecodable),
        "incidents": [
            {
                "fingerprint": i.fingerprint,
                "status": i.status,
                "revision": i.revision,
                "opened_ts": i.opened_ts,
                "title": i.title,
                "root_cause": i.root_cause.entity if i.root_cause else None,
            }
            for i in sorted(seen.values(), key=lambda i: (i.opened_ts, i.fingerprint))
        ],
        "wall_s": round(time.monotonic() - wall, 2),
    }
    if as_json:
        click.echo(json.dumps(report))
        return
    table = Table("fingerprint", "opened", "status", "title")
    for i in report["incidents"]:
        opened = datetime.fromtimestamp(i["opened_ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(i["fingerprint"], opened, i["status"], i["title"])
    print_table(table)
    out.print(
        f"{report['records']} records, {report['events']} events replayed, "
        f"{report['undecodable']} undecodable, {len(seen)} incidents"
    )
