"""``python -m bench.frr_logs``: a short FRRouting corpus generated in namespaces, then scored.

Needs root and the ``frr`` package (zebra, staticd, bfdd, ospfd, bgpd, vtysh); skipped with
the reason otherwise. Checks the corpus (every line carries an id, every id fits one format
string of FRR's binaries), that the scores come from mining this corpus (recomputed here from
the same contract), and that no namespace, pathspace or daemon of the run is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.frr_corpus import FRR_RUN, missing, read_corpus
from bench.loghub_eval import grouping_accuracy, mine_cli
from tests.conftest import REPO, clean_env

pytestmark = pytest.mark.e2e

#: about 25 s of events on 3 routers, plus start-up, teardown and mining: under a minute
SHORT = ["--duration", "25", "--routers", "3", "--seed", "7", "--json"]


def _ours(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith("nvfrr-")}


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_a_short_frr_corpus_has_an_id_per_line_and_scores_from_real_mining(
    tmp_path: Path,
) -> None:
    problems = missing()
    if problems:
        pytest.skip("cannot run FRRouting in namespaces here: " + "; ".join(problems))
    ns_before = _ours(_netns())
    run_before = _ours([p.name for p in FRR_RUN.iterdir()]) if FRR_RUN.exists() else set()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.frr_logs", "--out", str(tmp_path), *SHORT],
        capture_output=True,
        cwd=REPO,
        text=True,
        timeout=170,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert "event 1:" in proc.stderr  # events were driven, and said so on stderr

    assert _ours(_netns()) == ns_before
    assert (_ours([p.name for p in FRR_RUN.iterdir()]) if FRR_RUN.exists() else set()) == (
        run_before
    )

    corpus = Path(report["corpus"])
    assert corpus.parent == tmp_path
    rows, unparsed = read_corpus(corpus)
    assert unparsed == 0
    assert len(rows) == report["lines"] == len(corpus.read_text().splitlines())
    assert {r["daemon"] for r in rows} >= {"ZEBRA", "OSPF", "BGP"}
    assert len({r["uid"] for r in rows}) == report["ids"] > 20
    check = report["id_check"]
    assert check["ids"] == report["ids"]
    assert check["consistent"] == check["ids"], check["no_format_examples"]

    truth = [r["uid"] for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        again = grouping_accuracy(truth, mine_cli([r["body"] for r in rows], Path(tmp)))
    assert 0.0 < report["netvigil"]["all"] <= 1.0
    assert report["netvigil"]["all"] == pytest.approx(again)
    assert 0.0 < report["drain3_default"]["all"] <= 1.0
    for daemon in report["daemons"]:
        assert 0.0 <= report["netvigil"][daemon] <= 1.0
    lines_in_daemons = sum(d["lines"] for d in report["daemons"].values())
    assert lines_in_daemons == report["lines"]
