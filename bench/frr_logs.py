"""Grouping accuracy of ``netvigil logs mine`` on router logs labelled by FRRouting itself.

Generates a corpus (:mod:`bench.frr_corpus`: a few FRR routers in namespaces of their own,
seeded events for a few minutes; needs root and the ``frr`` package) or reads one given with
``--corpus``, then scores it. Ground truth: the unique id FRR prints per log call site
(``[XXXXX-XXXXX]``). The message the miner gets is the body as a syslog receiver hands it
over: what follows ``DAEMON: [XXXXX-XXXXX]`` (and an ``[EC n]`` error code) in FRR's file
log, i.e. the syslog MSG after the ``ospfd[pid]:`` tag with ``no log unique-id`` (no
timestamp, no daemon, no id). Nothing here is chosen on this corpus: NetVigil runs its default
configuration through the command-line contract of :mod:`bench.loghub_eval` and is scored
by that module's :func:`~bench.loghub_eval.grouping_accuracy`; drain3 with its defaults is
the reference in the same run. Reported: the whole corpus as one stream (what a collector
sees), each daemon's lines mined alone, the check that ids are per call site
(:mod:`bench.frr_formats`), and the largest confusions (ids merged into one template, ids
split over several).

    sudo .venv/bin/python -m bench.frr_logs --out /tmp/frr-logs [--seed 1] [--duration 180]
    .venv/bin/python -m bench.frr_logs --corpus /tmp/frr-logs/frr-corpus-seed1.log --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.frr_corpus import generate, read_corpus
from bench.frr_formats import check_ids
from bench.loghub_eval import grouping_accuracy, mine_cli_rows, mine_drain3_default

__all__ = ["confusions", "main", "score"]


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def confusions(
    truth: Sequence[str],
    parsed: Sequence[str],
    messages: Sequence[str],
    templates: Sequence[str],
    *,
    top: int = 8,
) -> dict[str, Any]:
    """The largest merges (one template, several ids) and splits (one id, several templates).

    Ranked by the lines they cost: every line of a merged template and of a split id is
    counted wrong by grouping accuracy. Also the totals over all of them (a line can be in a
    merged template and of a split id at once)."""
    ids_in: dict[str, Counter[str]] = defaultdict(Counter)
    groups_of: dict[str, Counter[str]] = defaultdict(Counter)
    example: dict[tuple[str, str], str] = {}
    template_of: dict[str, str] = {}
    for t, p, m, tpl in zip(truth, parsed, messages, templates, strict=True):
        ids_in[p][t] += 1
        groups_of[t][p] += 1
        example.setdefault((t, p), m)
        template_of[p] = tpl
    merged: list[dict[str, Any]] = [
        {
            "lines": sum(c.values()),
            "template": template_of[p][:160],
            "ids": [
                {"id": t, "lines": n, "example": example[(t, p)][:160]} for t, n in c.most_common(4)
            ],
            "ids_total": len(c),
        }
        for p, c in ids_in.items()
        if len(c) > 1
    ]
    split: list[dict[str, Any]] = [
        {
            "id": t,
            "lines": sum(c.values()),
            "templates_total": len(c),
            # same token count: a word the miner kept constant varies within the id
            # (otherwise the id's messages differ in length, e.g. an optional "%s" piece)
            "same_length": len({len(template_of[p].split()) for p in c}) == 1,
            "templates": [
                {"template": template_of[p][:160], "lines": n, "example": example[(t, p)][:160]}
                for p, n in c.most_common(3)
            ],
        }
        for t, c in groups_of.items()
        if len(c) > 1
    ]
    merged.sort(key=lambda d: -d["lines"])
    split.sort(key=lambda d: -d["lines"])
    return {
        "merged_lines": sum(d["lines"] for d in merged),
        "merged_templates": len(merged),
        "split_lines": sum(d["lines"] for d in split),
        "split_ids": len(split),
        "split_lines_same_length": sum(d["lines"] for d in split if d["same_length"]),
        "merged": merged[:top],
        "split": split[:top],
    }


def _mine(messages: list[str]) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        return mine_cli_rows(messages, Path(tmp))


def score(rows: Sequence[dict[str, str]], *, top: int = 8) -> dict[str, Any]:
    """Grouping accuracy of NetVigil (CLI, defaults) and drain3 (defaults), whole and per daemon."""
    messages = [r["body"] for r in rows]
    truth = [r["uid"] for r in rows]
    _progress(f"mining {len(messages)} lines (netvigil logs mine, then drain3)")
    mined = _mine(messages)
    parsed = [e for e, _ in mined]
    drain = mine_drain3_default(messages)
    out: dict[str, Any] = {
        "lines": len(rows),
        "ids": len(set(truth)),
        "netvigil": {"all": grouping_accuracy(truth, parsed)},
        "drain3_default": {"all": grouping_accuracy(truth, drain)},
        "templates": {"netvigil": len(set(parsed)), "drain3_default": len(set(drain))},
        "daemons": {},
    }
    by_daemon: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_daemon[r["daemon"]].append(i)
    for daemon, idx in sorted(by_daemon.items()):
        _progress(f"mining {daemon}'s {len(idx)} lines alone")
        sub_msgs = [messages[i] for i in idx]
        sub_truth = [truth[i] for i in idx]
        sub_parsed = [e for e, _ in _mine(sub_msgs)]
        out["daemons"][daemon] = {"lines": len(idx), "ids": len(set(sub_truth))}
        out["netvigil"][daemon] = grouping_accuracy(sub_truth, sub_parsed)
        out["drain3_default"][daemon] = grouping_accuracy(sub_truth, mine_drain3_default(sub_msgs))
    out["confusions"] = confusions(truth, parsed, messages, [t for _, t in mined], top=top)
    return out


def _print(report: dict[str, Any]) -> None:
    ids = report["id_check"]
    print(
        f"{report['lines']} lines, {report['ids']} distinct ids; "
        f"{ids['consistent']}/{ids['ids']} ids fit one format string, "
        f"{ids['same_text_ids']} ids share a text with another id"
    )
    print(f"{'part':10s} {'lines':>7s} {'ids':>5s} {'netvigil':>9s} {'drain3':>9s}")
    parts = [("all", report["lines"], report["ids"])]
    parts += [(d, v["lines"], v["ids"]) for d, v in report["daemons"].items()]
    for name, lines, n in parts:
        nv, dr = report["netvigil"][name], report["drain3_default"][name]
        print(f"{name:10s} {lines:7d} {n:5d} {nv:9.3f} {dr:9.3f}")
    conf = report["confusions"]
    print(
        f"merged: {conf['merged_templates']} templates, {conf['merged_lines']} lines; "
        f"split: {conf['split_ids']} ids, {conf['split_lines']} lines "
        f"({conf['split_lines_same_length']} where the templates have the same length)"
    )
    for kind in ("merged", "split"):
        print(f"largest {kind}:")
        for c in report["confusions"][kind][:5]:
            what = c.get("template") or c.get("id")
            print(f"  {c['lines']:6d} lines  {what}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--out", type=Path, help="generate a corpus into this directory")
    src.add_argument("--corpus", type=Path, help="score an existing corpus file")
    ap.add_argument("--seed", type=int, default=1, help="event sequence seed (default 1)")
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of events (180)")
    ap.add_argument("--routers", type=int, default=4, help="routers on the ring, 2-5 (4)")
    ap.add_argument("--top", type=int, default=8, help="confusions listed per kind (8)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    if args.out is not None:
        corpus = generate(
            args.out,
            seed=args.seed,
            duration_s=args.duration,
            routers=args.routers,
            progress=_progress,
        )
    else:
        corpus = args.corpus
    rows, unparsed = read_corpus(corpus)
    if not rows:
        print(f"{corpus}: no FRR log line with a unique id", file=sys.stderr)
        return 1
    _progress(f"checking {len({r['uid'] for r in rows})} ids against FRR's format strings")
    report = {"corpus": str(corpus), "unparsed_lines": unparsed, **score(rows, top=args.top)}
    report["id_check"] = check_ids(rows)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
