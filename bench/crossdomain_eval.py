"""Cross-domain evaluation: ``python -m bench.crossdomain_eval [--seeds 5] [--json out.json]``.

Runs the ``service-loss`` mission (3 % packet loss on one link under the ``shop`` service's
path; both services probed over real HTTP on every twin step) once per seed, and in the same
run two baselines per seed:

- ``off-path``: the same fault on a link drawn from all links (no ``on_path_of``): how often
  the incident carries no service impact, and at what severity;
- ``no-services``: the same scenario with no services at all (no HTTP, no SLOs): the cost of
  the services and probes in wall time, and the severity the lossy link gets on its own.

Per run it keeps the scoreboard's cross-domain row; it prints medians over the seeds: time to
the incident, time until the SLO joined it, time until the budget would be exhausted, share of
the budget spent at detection, and what SLO alerting alone would have raised (first burn
alert and first page after the fault).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "netvigil" / "eval" / "scenarios" / "service-loss.yaml"


def run(variant: str, seed: int, tmp: Path) -> dict[str, Any]:
    raw = yaml.safe_load(SCENARIO.read_text())
    if variant == "off-path":
        raw["schedule"].pop("on_path_of")
    elif variant == "no-services":
        raw.pop("services")
        raw["schedule"].pop("on_path_of")
    raw["name"] = f"service-loss-{variant}"
    path = tmp / f"{variant}-{seed}.yaml"
    path.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "netvigil.cli", "bench", "mission", "--scenario", str(path)]
    out = subprocess.run(
        [*cmd, "--seed", str(seed), "--json"], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _med(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r["per_fault"][0] for r in runs]
    cross = [r["cross_domain"][0] for r in runs if r.get("cross_domain")]
    out: dict[str, Any] = {
        "runs": len(runs),
        "rca_top1": _med([r["rca_top1"] for r in runs]),
        "false_incidents": sum(r["false_incidents"] for r in runs),
        "detection_s_median": _med([r["detection_latency_s"] for r in rows]),
        "wall_s_median": _med([r["wall_s"] for r in runs]),
    }
    if cross:
        budgets = [c["budget:shop"] for c in cross if "budget:shop" in c]
        out |= {
            "one_incident_naming_link": sum(
                1 for c in cross if c["incidents_during_fault"] == 1 and c["incidents_naming_link"]
            ),
            "with_shop_slo": sum(1 for c in cross if "shop:success" in c.get("slos", [])),
            "severity_max": sorted({c.get("severity_max", "none") for c in cross}),
            "slo_joined_s_median": _med([c.get("slo_impact_after_s") for c in cross]),
            "budget_exhausted_s_median": _med([b["exhausted_after_s"] for b in budgets]),
            "budget_spent_at_detection_median": _med([b["spent_at_detection"] for b in budgets]),
            "detected_before_exhaustion": sum(
                1 for b in budgets if b["detected_before_exhaustion"]
            ),
            "slo_alert_alone_s_median": _med([b["slo_alert_after_s"] for b in budgets]),
            "slo_page_alone_s_median": _med([b["slo_page_after_s"] for b in budgets]),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="nv-crossdomain-") as tmp:
        for seed in range(1, args.seeds + 1):
            for variant in ("on-path", "off-path", "no-services"):
                r = run(variant, seed, Path(tmp))
                results.setdefault(variant, []).append(r)
                if args.json:  # kept as it goes: a long evaluation is never lost at the end
                    args.json.write_text(json.dumps({"runs": results}, indent=1))
                row = r["per_fault"][0]
                print(
                    f"{variant:12} seed {seed}: link {row['true_root_cause']:14} "
                    f"rc {row['detected_root_cause']} wall {r['wall_s']} s",
                    file=sys.stderr,
                )
    summary = {v: summarize(rs) for v, rs in results.items()}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
