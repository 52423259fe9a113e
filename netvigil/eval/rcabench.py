"""The RCA evaluation on the twin: inject faults one at a time, score the incidents.

On one topology, ``faults`` faults rotate through node failure, link failure, linecard failure,
congestion from a demand surge and a flapping link, one at a time (each lasts
``FAULT_DURATION_S`` and is followed by a quiet gap). Benign anomalies (CPU spikes, traffic
bursts below congestion) are injected at random times beside them, and the twin loses
``LOSS`` of its telemetry on the way to the pipeline. With ``poll_timeouts``, that share of
SNMP polls also time out alone, the device fine (the lab's loaded machine), and the twin's
poller says unreachable after ``snmp.down_after`` failed polls in a row. With
``silent_senders``, each congestion's sending router does not answer its polls while it lasts
(``Fault.sender_answers``: the lab's Marnet morning run) and every interface reports its
received utilization (``if.in_util``), so the far end is what shows the congestion. The
pipeline sees only the telemetry.

Scores: ``top1`` (share of faults whose incident ranks the true root cause first), ``top3``
(within the first three), ``mttd_p50_s`` (median simulated seconds from injection to the
incident's first revision, over detected faults) and ``false_incidents`` (incidents that belong
to no fault). An undetected fault counts as a miss for both accuracies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from netvigil.config import load_settings
from netvigil.eval.rescore import BenchRecording, save_recording
from netvigil.eval.scoreboard import Scoreboard, by_kind, scores
from netvigil.events import Anomaly, Event, Sample
from netvigil.graph.importers import load_topology
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault, schedule_benign, schedule_faults
from netvigil.twin.source import SIM_EPOCH

__all__ = ["BENCH_KINDS", "LOSS", "run_rca_bench"]

BENCH_KINDS = ["node_down", "link_down", "linecard", "congestion", "flap"]
LOSS = 0.10
WARMUP_S = 1800.0
FAULT_DURATION_S = 300.0
FAULT_INTERVAL_S = 600.0
#: benign anomalies per fault, on average
BENIGN_PER_FAULT = 1.0
SETTLE_S = 600.0


def run_rca_bench(
    topology: str | Path | None,
    faults: int,
    seed: int,
    *,
    regions: int = 1,
    poll_timeouts: float = 0.0,
    silent_senders: bool = False,
    record: Path | None = None,
) -> dict[str, Any]:
    """Run the evaluation once, the correlator split into ``regions``, with ``poll_timeouts``
    (that share of polls timing out alone, from start to end) and ``silent_senders``
    (congestions whose senders do not answer); returns the report (see the module
    docstring). ``record``: write what the correlator read there
    (:class:`~netvigil.eval.rescore.BenchRecording`), to correlate it again offline."""
    settings = load_settings()
    settings.correlator.regions = regions
    settings.twin.seed = seed
    settings.twin.topology = Path(topology) if topology else None
    topo = load_topology(settings.twin.topology)
    first = SIM_EPOCH + WARMUP_S
    plan_faults = schedule_faults(
        topo,
        kinds=BENCH_KINDS,
        count=faults,
        first=first,
        interval=FAULT_INTERVAL_S,
        duration=FAULT_DURATION_S,
        seed=seed,
    )
    if silent_senders:
        plan_faults = [
            dataclasses.replace(f, sender_answers=False) if f.kind == "congestion" else f
            for f in plan_faults
        ]
    last = first + faults * FAULT_INTERVAL_S
    benign = schedule_benign(
        topo,
        count=round(faults * BENIGN_PER_FAULT),
        first=first,
        last=last,
        duration=FAULT_DURATION_S / 2,
        seed=seed,
    )
    noise = []  # the monitoring's own: not a benign anomaly of the network
    if poll_timeouts > 0:
        nominal = min(d.name for d in topo.devices())
        noise.append(Fault("poll_timeouts", nominal, SIM_EPOCH, last + SETTLE_S, poll_timeouts))
    plan = TwinPlan(
        speed=0.0,
        faults=sorted(plan_faults + benign + noise, key=lambda f: f.start),
        until=last + SETTLE_S,
        loss=LOSS,
        poll_reachability=True,
        received_util=silent_senders,
    )
    board = Scoreboard(grace_s=3 * settings.twin.step_s)
    wall0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netvigil-rcabench-") as tmp:
        svc = Service.build(settings, twin=plan, data_dir=Path(tmp), on_fault=board.on_fault)
        svc.runtime.listen("netvigil.incidents", board.on_incident)
        read: list[Anomaly | Sample] = []
        if record is not None:

            def keep(_topic: str, event: Event) -> None:
                if isinstance(event, Anomaly | Sample):
                    read.append(event)

            for topic in ("netvigil.anomalies", "netvigil.samples"):
                svc.runtime.listen(topic, keep)
        asyncio.run(svc.run())
        svc.close()
    if record is not None:
        faults_made = [dataclasses.asdict(f) for f in plan.faults]
        rec = BenchRecording(
            topology=str(topology or ""), faults=faults_made, grace_s=board.grace_s, events=read
        )
        save_recording(record, rec)
    report = board.report()
    rows = report["faults"]
    return {
        **scores(report),
        "benign": len(benign),
        "by_kind": by_kind(rows),
        "misses": [
            {k: r.get(k) for k in ("kind", "true_root_cause", "detected_root_cause", "rank")}
            for r in rows
            if r["rank"] != 1
        ],
        "wall_s": round(time.monotonic() - wall0, 2),
        "incidents": [
            {
                "fingerprint": fp,
                "status": seen.latest.status,
                "root_causes": [rc.entity for rc in seen.latest.root_causes[:3]],
            }
            for fp, seen in sorted(board.incidents.items())
        ],
    }
