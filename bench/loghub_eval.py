"""Grouping accuracy of ``netvigil logs mine`` on ../shared/data/loghub-dev.

For each dataset, the message bodies (``Content`` column of the corrected structured file) go
through the command-line contract with one configuration for all; grouping accuracy (Zhu et
al., ICSE-SEIP 2019) counts a message as right when the set of messages the miner grouped with
it is exactly the set the ground truth groups with it. Baseline in the same run: drain3 with
its default configuration and no masking.

    python -m bench.loghub_eval [--data ../shared/data/loghub-dev] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

SHARED = Path(
    os.environ.get("NETVIGIL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
DEFAULT = SHARED / "loghub-dev"


def grouping_accuracy(truth: Sequence[str], parsed: Sequence[str]) -> float:
    """Share of messages whose parsed group equals their ground-truth group, as a set."""
    if len(truth) != len(parsed):
        raise ValueError(f"{len(parsed)} parsed for {len(truth)} messages")
    by_parsed: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parsed):
        by_parsed[p].append(i)
    truth_size = Counter(truth)
    right = 0
    for rows in by_parsed.values():
        labels = {truth[i] for i in rows}
        if len(labels) == 1 and truth_size[next(iter(labels))] == len(rows):
            right += len(rows)
    return right / len(truth) if truth else 1.0


def load(folder: Path) -> tuple[list[str], list[str]]:
    structured = next(folder.glob("*_structured_corrected.csv"))
    with structured.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def mine_cli(messages: list[str], tmp: Path) -> list[str]:
    return [event for event, _ in mine_cli_rows(messages, tmp)]


def mine_cli_rows(messages: list[str], tmp: Path) -> list[tuple[str, str]]:
    """``netvigil logs mine`` on ``messages``: (EventId, EventTemplate) per message."""
    src, out = tmp / "messages.txt", tmp / "templates.csv"
    src.write_text("".join(m.replace("\n", " ") + "\n" for m in messages))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "netvigil.cli",
            "logs",
            "mine",
            "--input",
            str(src),
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    with out.open(newline="") as f:
        return [(r["EventId"], r["EventTemplate"]) for r in csv.DictReader(f)]


def mine_drain3_default(messages: list[str]) -> list[str]:
    miner = TemplateMiner(config=TemplateMinerConfig())
    return [str(miner.add_log_message(m)["cluster_id"]) for m in messages]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report: dict[str, dict[str, float]] = {"netvigil": {}, "drain3_default": {}}
    for folder in sorted(p for p in args.data.iterdir() if p.is_dir()):
        messages, truth = load(folder)
        with tempfile.TemporaryDirectory() as tmp:
            report["netvigil"][folder.name] = grouping_accuracy(
                truth, mine_cli(messages, Path(tmp))
            )
        report["drain3_default"][folder.name] = grouping_accuracy(
            truth, mine_drain3_default(messages)
        )
    for parser in report.values():
        parser["average"] = sum(parser.values()) / len(parser)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    names = list(report["netvigil"])
    print(f"{'dataset':12s} " + " ".join(f"{n:>14s}" for n in report))
    for n in names:
        print(f"{n:12s} " + " ".join(f"{report[p][n]:14.3f}" for p in report))


if __name__ == "__main__":
    main()
