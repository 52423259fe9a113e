"""NAB score of ``netvigil detect`` on ../shared/data/nab-dev (standard profile by default).

Runs the command-line contract itself on every file (one configuration for all), then scores
with :mod:`bench.nabscore` (NAB's rules, corpus-wide threshold optimisation). Baselines in the
same run: a random detector (seeded) and NAB's null detector (score 0 for every row).

    python -m bench.nab_eval [--data ../shared/data/nab-dev] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.nabscore import PROFILES, FileScoring, prepare, score_corpus

DEFAULT = (
    Path(
        os.environ.get(
            "NETVIGIL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "nab-dev"
)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))[1:]


def corpus(data: Path) -> dict[str, tuple[list[str], list[tuple[int, int]]]]:
    """Per file (relative name): its timestamps and its labelled windows as row ranges."""
    windows = json.loads((data / "combined_windows.json").read_text())
    out = {}
    for name, spans in sorted(windows.items()):
        stamps = [r[0] for r in _rows(data / "data" / name)]
        index = {t: i for i, t in enumerate(stamps)}
        rows = [(index[a.split(".")[0]], index[b.split(".")[0]]) for a, b in spans]
        out[name] = (stamps, rows)
    return out


def run_netvigil(data: Path, names: list[str], out_dir: Path) -> dict[str, list[float]]:
    scores = {}
    for name in names:
        out = out_dir / name.replace("/", "__")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "netvigil.cli",
                "detect",
                "--input",
                str(data / "data" / name),
                "--output",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        scores[name] = [float(r[2]) for r in _rows(out)]
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    files = corpus(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ours = run_netvigil(args.data, list(files), Path(tmp))
        wall = time.perf_counter() - t0
    rng = random.Random(42)
    detectors = {
        "netvigil": ours,
        "random": {n: [rng.random() for _ in files[n][0]] for n in files},
        "null": {n: [0.0] * len(files[n][0]) for n in files},
    }
    report: dict[str, object] = {
        "files": len(files),
        "points": sum(len(s) for s, _ in files.values()),
    }
    for det, scores in detectors.items():
        prepared: dict[str, FileScoring] = {
            n: prepare(len(files[n][0]), files[n][1], scores[n]) for n in files
        }
        report[det] = {p: score_corpus(prepared, p) for p in PROFILES}
    report["netvigil_wall_s"] = round(wall, 2)
    if args.json:
        print(json.dumps(report, indent=1, default=float))
        return
    for det in detectors:
        parts = report[det]
        assert isinstance(parts, dict)
        line = ", ".join(f"{p} {parts[p]['score']:.1f}" for p in PROFILES)
        print(f"{det:9s} {line}  (threshold {parts['standard']['threshold']:.3f})")
    std = report["netvigil"]["standard"]  # type: ignore[index]
    for name, raw in std["per_file"].items():
        print(f"  {name:58s} {raw:+.3f}")
    print(f"{report['points']} points in {report['netvigil_wall_s']} s (including process starts)")


if __name__ == "__main__":
    main()
