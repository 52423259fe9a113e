"""The lab benchmark: one fault schedule on the lab's real routers and on the twin, scored alike.

``run_lab_bench`` brings a lab up (``netvigil lab up``: FRRouting in namespaces) for a
topology, runs NetVigil on it as ``netvigil run --lab`` does (LLDP-learned topology, SNMP
polls every 10 s, link traps, FRRouting's syslog, softflowd's IPFIX; phase passive, so
nothing is changed by NetVigil), and injects ``faults`` faults of the eight lab kinds one at a
time (kinds in rotation, targets drawn with the seed: :func:`netvigil.lab.faults.schedule`).
Then the twin of the same lab (:func:`netvigil.lab.plan.lab_topology`: its hostnames,
interfaces, scaled capacities, costs, and the demand model the lab's traffic follows) runs
the *same* schedule, on a simulated clock set to the lab's own times (so the twin's demand is
at the same time of day), its telemetry straight on the bus every 10 s like the lab's polls.
Both runs are scored by the same :class:`~netvigil.eval.scoreboard.Scoreboard`, so the twin's
fidelity is measured, not assumed; ``differ`` lists every fault kind where they disagree.

Faults map to the twin's kinds one to one (``link_loss`` -> ``packet_loss`` at the lab's
share, its lost frames counted as input errors by the receiving interface as the lab's
receiving agent counts them; ``flapping`` -> ``flap``
with the lab's period; a link the lab shuts at one end is that end shut on the twin); see
:data:`LAB_TO_TWIN` and :func:`twin_fault`.

Harm: a fault is *harmful* if it takes something out of service or loses traffic (every kind
but ``cost_misconfig``), or, for a ``cost_misconfig``, if it congests a link: an interface
other than the fault's own at or over the detector's utilization threshold during the fault
that was under its clear level in the minute before (measured on each side from the
utilization the pipeline received: the lab's SNMP counters, the twin's model). The floor asks
every harmful fault detected; a harmless cost change may go unreported.

Scores (each side): ``detected``, ``top1``, ``top3`` (the true root cause first / in the
first three of the fault's incident; an undetected fault is a miss), ``top1_harmful`` and
``top3_harmful`` (the same over the harmful faults only), ``mttd_p50_s`` (median
from injection to the incident's first revision, event time; the twin's is in simulated
seconds), ``false_incidents`` (incidents belonging to no fault: not opened between a fault's
start and ``GRACE_S`` after its end). ``traffic``: the lab's traffic generator's offered and
sent rates over the fault schedule (:mod:`netvigil.lab.achieved`), how much of the demand
model the lab actually carried. Incidents opened during the what-if (below) are not
scored. Afterwards the lab makes one IGP cost change and compares the twin's predicted link
loads with the lab's measured ones (:mod:`netvigil.eval.lab_whatif`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netvigil.config import Settings, load_settings
from netvigil.eval.lab_whatif import MEASURE_S, whatif_on_lab
from netvigil.eval.loads import LoadRecorder
from netvigil.eval.rescore import Recording, save_recording
from netvigil.eval.scoreboard import Scoreboard, by_kind, scores
from netvigil.events import Anomaly, Event, Metric, interface_id
from netvigil.graph.importers import load_topology
from netvigil.lab import faults as lab_faults
from netvigil.lab import runner
from netvigil.lab.achieved import rates_between, read_counters
from netvigil.lab.faults import SCHEDULED_KINDS, LabFault
from netvigil.lab.hook import POLL_S, lab_settings
from netvigil.lab.plan import LabPlan, plan_lab
from netvigil.lab.state import LabState, lab_dir
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault

__all__ = [
    "LAB_TO_TWIN",
    "LabBench",
    "harmful",
    "run_lab_bench",
    "run_twin_only",
    "twin_fault",
]

#: lab fault kind -> the twin's kind for it
LAB_TO_TWIN: dict[str, str] = {
    "link_down": "link_down",
    "link_loss": "packet_loss",
    "congestion": "congestion",
    "node_down": "node_down",
    "routing_crash": "routing_crash",
    "mtu_mismatch": "mtu_mismatch",
    "cost_misconfig": "cost_misconfig",
    "flapping": "flap",
    "growth_ramp": "growth_ramp",
}
#: an incident opened this long after its fault's end still belongs to it (recovery shows)
GRACE_S = 60.0
HARMLESS_UNLESS_CONGESTING = frozenset({"cost_misconfig"})


@dataclass(frozen=True)
class LabBench:
    """What to run (see the module docstring)."""

    topology: str
    faults: int = 20
    seed: int = 7
    max_routers: int | None = None
    kinds: tuple[str, ...] = SCHEDULED_KINDS
    duration_s: float = 60.0
    interval_s: float = 120.0
    warmup_s: float = 90.0
    settle_s: float = 60.0
    config: str | None = None
    """A settings file for NetVigil (both runs); None: the defaults and NETVIGIL_* variables."""
    twin: bool = True
    whatif: bool = True
    whatif_measure_s: float = MEASURE_S
    """Seconds the lab's loads are averaged over, before and after the what-if change."""
    keep: bool = False
    """Leave the lab up afterwards."""
    record: str | None = None
    """A folder to write each run's recording to (faults, anomalies and metrics, for
    rescoring and detecting again: :mod:`netvigil.eval.rescore`)."""
    up_timeout_s: float = 300.0


def twin_fault(f: LabFault, plan: LabPlan) -> Fault:
    """The twin's fault for a lab fault: same target, same times, same magnitude; a link the
    lab takes down by shutting one end (``link_down``, ``flapping``) is that end shut, and
    the end whose MTU it lowers (``mtu_mismatch``) is the twin's lowered end."""
    kind = LAB_TO_TWIN[f.kind]
    magnitude = {
        "link_loss": lab_faults.LOSS_SHARE,
        "congestion": lab_faults.SURGE,
        "growth_ramp": lab_faults.RAMP_PEAK,
    }.get(f.kind, 1.0)
    direction = f.direction
    if f.kind in ("link_down", "flapping", "mtu_mismatch"):
        direction = plan.link(f.target).a  # lab.faults._end: the a end is shut or lowered
    return Fault(
        kind,
        f.target,
        f.start,
        f.end,
        magnitude=magnitude,
        direction=direction,
        flap_period_s=lab_faults.FLAP_PERIOD_S,
        flap_down_s=lab_faults.FLAP_DOWN_S,
    )


def _fault_ifaces(plan: LabPlan, f: Fault) -> set[str]:
    if f.kind in ("node_down", "routing_crash"):
        r = plan.router(f.target)
        return {interface_id(r.name, i.name) for i in r.interfaces}
    lk = plan.link(f.target)
    return {interface_id(lk.a, lk.a_if), interface_id(lk.b, lk.b_if)}


def harmful(f: Fault, lab_kind: str, plan: LabPlan, loads: LoadRecorder, s: Settings) -> bool:
    """Whether ``f`` did harm (see the module docstring); ``loads`` is that run's."""
    if lab_kind not in HARMLESS_UNLESS_CONGESTING:
        return True
    hot = loads.congested_by(
        f.start,
        f.end,
        exclude=_fault_ifaces(plan, f),
        threshold=s.detector.util_threshold,
        clear=s.detector.util_clear,
    )
    return bool(hot)


@dataclass
class _Run:
    board: Scoreboard = field(default_factory=lambda: Scoreboard(grace_s=GRACE_S))
    loads: LoadRecorder = field(default_factory=LoadRecorder)
    anomalies: list[Anomaly] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    scoring: bool = True
    keep_metrics: bool = False
    """Keep every metric for the recording (``LabBench.record``)."""

    def on_incident(self, topic: str, event: Event) -> None:
        if self.scoring:
            self.board.on_incident(topic, event)

    def on_anomaly(self, topic: str, event: Event) -> None:
        if self.scoring and isinstance(event, Anomaly):
            self.anomalies.append(event)

    def on_metric(self, topic: str, event: Event) -> None:
        self.loads.on_metric(topic, event)
        if self.keep_metrics and self.scoring and isinstance(event, Metric):
            self.metrics.append(event)

    def attach(self, svc: Service) -> None:
        svc.runtime.listen("netvigil.incidents", self.on_incident)
        svc.runtime.listen("netvigil.anomalies", self.on_anomaly)
        svc.runtime.listen("netvigil.metrics", self.on_metric)

    def recording(
        self,
        side: str,
        cfg: LabBench,
        plan: LabPlan,
        made: Sequence[LabFault],
        summary: dict[str, Any],
    ) -> Recording:
        return Recording(
            side=side,
            topology=Path(cfg.topology).name,
            plan=plan.to_dict(),
            faults=[asdict(twin_fault(f, plan)) for f in made],
            lab_kinds=[f.kind for f in made],
            harmful=[bool(r["harmful"]) for r in summary["per_fault"]],
            anomalies=self.anomalies,
            grace_s=GRACE_S,
            metrics=self.metrics,
        )


class LoadSampler:
    """The machine's 1-minute load average every ``every_s`` seconds, in a thread, while the
    lab side runs: a lab on a machine whose cores are taken measures the machine."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lab-load", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def routing_losses_outside_faults(
    anomalies: Sequence[Anomaly], faults: Sequence[LabFault], grace_s: float = GRACE_S
) -> int:
    """Routing adjacency losses (``routing.ospf`` anomalies opened, from the routers' own
    syslog) outside every fault's window (its start to ``grace_s`` after its end). A lab
    whose routers lose adjacencies with no fault injected is not a quiet network: on this
    two-core machine that happens when other work starves the routers (a Marnet run with the
    load average between 39 and 87 when looked at: 104 such losses and top-1 0.39 on the
    harmful faults; the three earlier lab runs on a quieter machine: 0)."""
    windows = [(f.start, f.end + grace_s) for f in faults]
    return sum(
        1
        for a in anomalies
        if a.signal == "routing.ospf" and a.state == "active"
        if not any(lo <= a.ts <= hi for lo, hi in windows)
    )


def conditions(
    anomalies: Sequence[Anomaly], faults: Sequence[LabFault], load: Sequence[float]
) -> dict[str, Any]:
    """What the machine was like while the lab side ran (``conditions`` of the report)."""
    return {
        "cores": os.cpu_count(),
        "load_1m_median": round(statistics.median(load), 1) if load else None,
        "load_1m_max": round(max(load), 1) if load else None,
        "routing_losses_outside_faults": routing_losses_outside_faults(anomalies, faults),
    }


def _settings(cfg: LabBench) -> Settings:
    settings = load_settings(cfg.config)
    settings.coordinator.phase = "passive"  # the benchmark watches; it changes nothing
    return settings


def _summary(
    run: _Run, made: Sequence[LabFault], plan: LabPlan, settings: Settings
) -> dict[str, Any]:
    report = run.board.report()
    rows = report["faults"]
    for row, f in zip(rows, made, strict=True):
        row["kind"] = f.kind
        row["harmful"] = harmful(twin_fault(f, plan), f.kind, plan, run.loads, settings)
    harm = [r for r in rows if r["harmful"]]
    n = max(len(rows), 1)
    on_harm = scores({**report, "faults": harm})
    return {
        **scores(report),
        "harmful": len(harm),
        "harmful_detected": sum(1 for r in harm if r["detected_root_cause"] is not None),
        "top1_harmful": on_harm["top1"],
        "top3_harmful": on_harm["top3"],
        "false_per_10_faults": round(10 * report["false_incidents"] / n, 2),
        "by_kind": by_kind(rows),
        "per_fault": rows,
    }


def _lab_run(
    cfg: LabBench, state: LabState, say: Callable[[str], None]
) -> tuple[_Run, list[LabFault], dict[str, Any] | None, dict[str, Any] | None]:
    settings = lab_settings(_settings(cfg), log=say)
    run = _Run(keep_metrics=cfg.record is not None)
    plan = state.plan
    sched = lab_faults.schedule(
        plan,
        kinds=cfg.kinds,
        count=cfg.faults,
        first=time.time() + cfg.warmup_s,
        interval=cfg.interval_s,
        duration=cfg.duration_s,
        seed=cfg.seed,
    )
    made: list[LabFault] = []
    whatif: dict[str, Any] | None = None
    traffic: dict[str, Any] | None = None

    def heard(what: str, f: LabFault) -> None:
        say(f"{what} {f.kind} on {f.target}")
        if what == "injected":
            run.board.on_fault("injected", twin_fault(f, plan), f.start)

    with tempfile.TemporaryDirectory(prefix="netvigil-labbench-") as tmp:
        svc = Service.build(settings, data_dir=Path(tmp))
        run.attach(svc)

        async def scenario() -> None:
            nonlocal whatif, traffic
            stop = asyncio.Event()
            task = asyncio.create_task(svc.run(stop))
            try:
                first = read_counters(lab_dir())
                made.extend(await asyncio.to_thread(lab_faults.run_schedule, sched, heard))
                await asyncio.sleep(cfg.settle_s)
                last = read_counters(lab_dir())
                sent = rates_between(first, last) if first and last else None
                traffic = sent.summary() if sent else None
                run.scoring = False  # a deliberate change is no fault
                if cfg.whatif:
                    whatif = await asyncio.to_thread(
                        whatif_on_lab,
                        LabState.load() or state,
                        run.loads,
                        measure_s=cfg.whatif_measure_s,
                        say=say,
                    )
            finally:
                stop.set()
                await task

        asyncio.run(scenario())
        svc.close()
    return run, made, whatif, traffic


def _twin_run(cfg: LabBench, plan: LabPlan, seed: int, made: Sequence[LabFault]) -> _Run:
    settings = _settings(cfg)
    run = _Run(keep_metrics=cfg.record is not None)
    with tempfile.TemporaryDirectory(prefix="netvigil-labtwin-") as tmp:
        topo_file = Path(tmp) / "lab-topology.yaml"
        runner.write_topology(plan, topo_file)
        settings.twin.topology = topo_file
        settings.graph.topology = None
        settings.twin.seed = seed
        settings.twin.step_s = POLL_S
        faults = [twin_fault(f, plan) for f in made]
        first = min(f.start for f in faults)
        tplan = TwinPlan(
            speed=0.0,
            faults=faults,
            until=max(f.end for f in faults) + cfg.settle_s,
            poll_reachability=True,
            start=first - cfg.warmup_s,
        )
        svc = Service.build(
            settings, twin=tplan, data_dir=Path(tmp) / "nv", on_fault=run.board.on_fault
        )
        run.attach(svc)
        asyncio.run(svc.run())
        svc.close()
    return run


def _differ(lab: dict[str, Any], twin: dict[str, Any]) -> list[dict[str, Any]]:
    """Fault kinds where the lab and the twin disagree (detection, top-1, harm), with the
    faults that differ."""
    out: dict[str, dict[str, Any]] = {}
    for a, b in zip(lab["per_fault"], twin["per_fault"], strict=True):
        keys = ("harmful", "detected_root_cause", "rank")
        if any(a.get(k) != b.get(k) for k in keys):
            d = out.setdefault(a["kind"], {"kind": a["kind"], "faults": []})
            d["faults"].append(
                {
                    "target": a["true_root_cause"],
                    "lab": {k: a.get(k) for k in (*keys, "detection_latency_s")},
                    "twin": {k: b.get(k) for k in (*keys, "detection_latency_s")},
                }
            )
    return list(out.values())


def run_lab_bench(cfg: LabBench, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); needs root and the lab's packages."""
    say = say or (lambda msg: None)
    wall0 = time.monotonic()
    state = runner.up(
        cfg.topology, max_routers=cfg.max_routers, seed=cfg.seed, timeout_s=cfg.up_timeout_s
    )
    plan = state.plan
    say(f"lab up in {state.ready_s} s: {len(plan.routers)} routers")
    try:
        with LoadSampler() as load:
            lab_run, made, whatif, traffic = _lab_run(cfg, state, say)
    finally:
        if not cfg.keep:
            runner.down()
    settings = _settings(cfg)
    lab = _summary(lab_run, made, plan, settings)
    machine = conditions(lab_run.anomalies, made, load.samples)
    if machine["routing_losses_outside_faults"]:
        say(
            f"warning: the lab's routers lost {machine['routing_losses_outside_faults']} OSPF "
            f"adjacencies outside the faults (load average up to {machine['load_1m_max']} on "
            f"{machine['cores']} cores): the network was not quiet, so these figures measure "
            "the machine as much as NetVigil"
        )
    runs = [("lab", lab_run, lab)]
    out: dict[str, Any] = {
        "topology": Path(cfg.topology).name,
        "routers": len(plan.routers),
        "links": len(plan.links),
        "correlator_window_s": settings.correlator.window_s,
        **lab,
        "traffic": traffic,
        "conditions": machine,
        "wall_s": round(time.monotonic() - wall0, 1),
    }
    if cfg.twin and made:
        say("the same schedule on the twin ...")
        twin_run = _twin_run(cfg, plan, state.seed, made)
        out["twin"] = _summary(twin_run, made, plan, settings)
        runs.append(("twin", twin_run, out["twin"]))
        out["differ"] = _differ(lab, out["twin"])
    if whatif is not None:
        out["whatif"] = whatif
    if cfg.record:
        folder = Path(cfg.record)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{Path(cfg.topology).stem}-{len(plan.routers)}r-s{cfg.seed}"
        for side, run, summary in runs:
            rec = run.recording(side, cfg, plan, made, summary)
            save_recording(folder / f"{stem}-{side}.json", rec)
    return out


def run_twin_only(cfg: LabBench, start: float) -> tuple[dict[str, Any], Recording]:
    """The lab's schedule for ``cfg`` on the twin alone, its first step at ``start``
    (simulated): no lab, no root. The plan is the one ``lab up`` would build."""
    plan = plan_lab(load_topology(cfg.topology), max_routers=cfg.max_routers)
    sched = lab_faults.schedule(
        plan,
        kinds=cfg.kinds,
        count=cfg.faults,
        first=start + cfg.warmup_s,
        interval=cfg.interval_s,
        duration=cfg.duration_s,
        seed=cfg.seed,
    )
    run = _twin_run(cfg, plan, cfg.seed, sched)
    summary = _summary(run, sched, plan, _settings(cfg))
    return summary, run.recording("twin", cfg, plan, sched, summary)
