"""Start-up cost of the ``netvigil`` command: CPU seconds and peak memory before work begins.

Each case is a fresh process (``python -m netvigil.cli ...``), run ``--repeats`` times; its
user+system CPU time and peak resident memory come from ``wait4``'s resource usage, medians
over the repeats. Baselines in the same run: ``python -c pass`` (the interpreter alone) and
``python -c "import drain3"`` (the library a plain miner needs). ``logs mine`` runs on a one
line file, so its figure is the start-up, not the mining.

    python -m bench.startup [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path


def _run(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of one child process."""
    pid = os.posix_spawn(argv[0], argv, dict(os.environ))
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} exited with {status}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "m.txt", Path(tmp) / "t.csv"
        src.write_text("link down on eth0\n")
        devnull = ["--help"]
        cases = {
            "python -c pass (baseline)": [py, "-c", "pass"],
            "python -c 'import drain3' (baseline)": [py, "-c", "import drain3"],
            "netvigil --help": [py, "-m", "netvigil.cli", *devnull],
            "netvigil version": [py, "-m", "netvigil.cli", "version"],
            "netvigil logs mine (1 line)": [
                py, "-m", "netvigil.cli", "logs", "mine", "--input", str(src), "--output", str(dst)
            ],
        }  # fmt: skip
        saved = os.dup(1), os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
        try:
            os.dup2(null, 1)
            os.dup2(null, 2)
            for _ in range(args.repeats):  # interleaved: a load change hits every case alike
                for name, argv in cases.items():
                    runs[name].append(_run(argv))
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    base = statistics.median(c for c, _ in runs["python -c pass (baseline)"])
    report = {
        name: {
            "cpu_s": round(statistics.median(c for c, _ in r), 3),
            "peak_mb": round(statistics.median(m for _, m in r), 1),
            "cpu_ratio_to_python": round(statistics.median(c for c, _ in r) / base, 2),
        }
        for name, r in runs.items()
    }
    report["meta"] = {"repeats": args.repeats, "load_average_1m": os.getloadavg()[0]}  # type: ignore[dict-item]
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"{'case':40s} {'CPU s':>8s} {'peak MB':>8s} {'x python':>9s}")
    for name, r in report.items():
        if name != "meta":
            print(
                f"{name:40s} {r['cpu_s']:8.3f} {r['peak_mb']:8.1f} {r['cpu_ratio_to_python']:9.2f}"
            )


if __name__ == "__main__":
    main()
