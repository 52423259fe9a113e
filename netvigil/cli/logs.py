"""``netvigil logs mine``: Loghub-format template mining, a contract scripts depend on.

The column names, one output row per input line, and one configuration for every file. It
imports the miner and nothing else of NetVigil's analytics, so it starts in a few tens of ms.
"""

from __future__ import annotations

import csv

import click

from netvigil.cli._common import err, friendly, main

__all__ = ["logs", "logs_mine"]


@main.group()
def logs() -> None:
    """Log analytics: template mining."""


@logs.command("mine")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False))
@friendly
def logs_mine(input_path: str, output_path: str) -> None:
    """Mine templates: MESSAGES.txt (one message body per line) -> TEMPLATES.csv
    (LineId,EventId,EventTemplate in Loghub's format), one row per input line.

    Templates are mined online in line order; each row carries its template as it stands
    after the whole file (templates generalise and merge as lines arrive). An empty line is
    E0."""
    from netvigil.analytics.logmining import LogMiner, loghub_template

    miner = LogMiner()
    ids: list[int] = []
    with open(input_path, encoding="utf-8", errors="replace", newline="") as fin:
        for raw in fin:
            line = raw.rstrip("\r\n")
            ids.append(miner.add(line).template_id if line.strip() else 0)
    final = {tid: miner.resolve(tid) for tid in set(ids)}
    final[0] = 0
    templates = {tid: loghub_template(t) for tid, t in miner.templates().items()}
    templates[0] = ""
    with open(output_path, "w", newline="") as fout:
        writer = csv.writer(fout, lineterminator="\n")
        writer.writerow(["LineId", "EventId", "EventTemplate"])
        for n, tid in enumerate(ids, start=1):
            eid = final[tid]
            writer.writerow([n, f"E{eid}", templates.get(eid, "")])
    err.print(
        f"mined {len(ids)} lines into {len(templates) - 1} templates -> {output_path}",
        highlight=False,
    )
