"""A ramp on the lab prevented by a real IGP cost change (``netvigil bench lab-ramp``).

``run_lab_ramp`` brings a lab up, runs NetVigil on it as ``netvigil run --lab`` does (SNMP
polls every 10 s, the lab executor, the lab's twin as the gate) at level 3 (phase
autonomous), and after a warm-up injects a ``growth_ramp`` (:mod:`netvigil.lab.faults`): a
demand between two routers whose shortest path crosses one link direction, growing
linearly from nothing to the link's shaped capacity over ``ramp_s``, then held at that
level for ``hold_s``. With the link's background the ramp alone would saturate it.

What it measures, from the pipeline's own events and the routers' own SNMP counters:

- the risk opened on the ramped interface (when, its deadline, its confidence);
- the preemptive change (the catalog action, the twin's verdict on the forecast load, when
  it was executed on the routers), from the audit log;
- the peak utilization (SNMP, 10 s polls) of the ramped link direction and of every other
  link direction from the ramp's start to its end, and which directions the change moved
  traffic to (their mean after the change exceeds their mean before the ramp by
  :data:`MOVED_MIN`), with their series. Two peaks: of single polls, and *sustained*, the
  highest level two consecutive polls both reached (the detector's congestion rule: two
  polls at or over the threshold). A single poll's rate carries the poll's timing error (the
  counters read a little after or before the poll's time, on a loaded machine up to a few
  seconds of a 10 s interval): a link shaped by HTB cannot carry more than its rate, so a
  single poll above 1.0 is that error, not traffic;
- the time the ramp would have saturated the link without a change: the direction's mean
  before the ramp plus the ramp's linear growth reaching the threshold.

The run's policy is the default one at phase autonomous, with ``prevention.lookahead_s``
set to ``lookahead_s`` (default 300 s): the forecaster's linear trend, extrapolated over the
default hour, would promise a growth no link of a few Mbit/s could take, while the lab's
ramp stops growing when its duration ends. The default link is chosen before the run, by
rule, not by trial on the lab: the first link direction (by id) that a growth ramp can
cross whole with a way round, and whose cost raised to 1000 keeps every other direction of
the lab's twin below the threshold with the ramp at its peak as a demand of its pair.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import load_settings
from netvigil.eval.loads import LoadRecorder
from netvigil.events import AuditRecord, Event, Risk, interface_id
from netvigil.lab import faults as lab_faults
from netvigil.lab import runner
from netvigil.lab.faults import LabFault, ramp_pair
from netvigil.lab.hook import lab_settings
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.lab.state import LabState, lab_dir
from netvigil.lab.system import LabError
from netvigil.resolvers.policy import default_policy
from netvigil.service import Service
from netvigil.twin.network import TwinNetwork

__all__ = ["MOVED_MIN", "LabRamp", "choose_ramp", "run_lab_ramp", "sustained_peak"]

#: a direction the change moved traffic to: its mean after the change this much above before
MOVED_MIN = 0.05
STEER_METRIC = 1000


@dataclass(frozen=True)
class LabRamp:
    """What to run (see the module docstring)."""

    topology: str
    link: str = ""
    """The ramped link; empty: chosen by :func:`choose_ramp`."""
    direction: str = ""
    """The end of the link the ramp leaves from; empty: its ``a`` end (or chosen)."""
    max_routers: int | None = 5
    seed: int = 7
    warmup_s: float = 240.0
    """NetVigil runs this long before the ramp (the forecaster learns 30 polls first)."""
    ramp_s: float = 900.0
    hold_s: float = 120.0
    lookahead_s: float = 300.0
    config: str | None = None
    keep: bool = False
    up_timeout_s: float = 300.0
    threshold: float = 0.9


def choose_ramp(plan: LabPlan, t: float, threshold: float = 0.9) -> tuple[str, str, str, str]:
    """(link, direction, source, destination) of the default ramp (see the module doc)."""
    for lk in sorted(plan.links, key=lambda x: x.id):
        for end in (lk.a, lk.b):
            try:
                src, dst = ramp_pair(plan, lk.id, end)
            except LabError:
                continue
            net = TwinNetwork(lab_topology(plan), seed=0)
            net.extra_demand = {(src, dst): lab_faults.RAMP_PEAK * lk.capacity_bps}
            net.igp_metric = {lk.id: STEER_METRIC}
            util, lost = net.expected_load(t)
            if lost == 0 and all(u < threshold for u in util.values()):
                return lk.id, end, src, dst
    raise LabError("no link of this lab has a ramp that a cost change could steer")


def _policy_file(folder: Path, lookahead_s: float) -> Path:
    policy = default_policy("autonomous").model_dump(mode="json")
    policy["prevention"]["lookahead_s"] = lookahead_s
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


@dataclass
class _Watch:
    entity: str
    loads: LoadRecorder
    risks: list[Risk]
    audit: list[AuditRecord]

    others: dict[str, list[Risk]] = field(default_factory=dict)
    """Risks on other interfaces (the links the ramp was moved to), by risk id."""

    def on_risk(self, topic: str, event: Event) -> None:
        if not isinstance(event, Risk):
            return
        if event.entity == self.entity:
            self.risks.append(event)
        else:
            self.others.setdefault(event.risk_id, []).append(event)

    def on_audit(self, topic: str, event: Event) -> None:
        if isinstance(event, AuditRecord) and event.action.split(".")[0] in ("risk", "action"):
            self.audit.append(event)


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None else round(x, n)


def sustained_peak(values: list[float]) -> float | None:
    """The highest level two consecutive samples both reached (None: fewer than two)."""
    pairs = [min(a, b) for a, b in pairwise(values)]
    return max(pairs) if pairs else None


def _no_plan(a: AuditRecord) -> str:
    """Why no preemptive change was planned (a ``risk.no_plan`` record), in one line."""
    if a.action != "risk.no_plan":
        return ""
    if "why" in a.detail:
        return str(a.detail["why"])
    return "; ".join(
        f"{c.get('action')}: {', '.join(c.get('refused') or [])}"
        for c in a.detail.get("candidates", [])
    )


def _report(
    w: _Watch, plan: LabPlan, fault: LabFault, src: str, dst: str, t0: float, t_end: float
) -> dict[str, Any]:
    lk = plan.link(fault.target)
    a_end = fault.direction == lk.a
    ramped = interface_id(fault.direction, lk.a_if if a_end else lk.b_if)
    before = w.loads.mean(ramped, fault.start - 120.0, fault.start)
    natural = None
    if before is not None:
        natural = fault.start + (0.9 - before) / lab_faults.RAMP_PEAK * fault.duration
    first = w.risks[0] if w.risks else None
    executed = [
        a
        for a in w.audit
        if a.action == "action.executed"
        and a.detail.get("target") == lk.id
        and a.detail.get("ok")
        and a.ts >= fault.start
    ]
    change = executed[0] if executed else None
    validated = [
        a.detail["verdict"]
        for a in w.audit
        if a.action == "action.validated"
        and a.detail.get("target") == lk.id
        and (a.detail.get("verdict") or {}).get("on") == "forecast"
    ]
    decided = [
        a
        for a in w.audit
        if a.action == "action.decided" and a.detail.get("preemptive") and a.ts >= fault.start
    ]
    peaks: dict[str, float] = {}
    held: dict[str, float] = {}
    series: dict[str, list[tuple[float, float]]] = {}
    moved: dict[str, dict[str, float | None]] = {}
    for entity, samples in w.loads.series.items():
        during = [(ts, v) for ts, v in samples if fault.start <= ts <= t_end]
        if not during:
            continue
        peaks[entity] = round(max(v for _, v in during), 3)
        sp = sustained_peak([v for _, v in during])
        if sp is not None:
            held[entity] = round(sp, 3)
        if change is not None and entity != ramped:
            pre = w.loads.mean(entity, fault.start - 120.0, fault.start)
            post = w.loads.mean(entity, change.ts + 30.0, t_end)
            if pre is not None and post is not None and post - pre >= MOVED_MIN:
                moved[entity] = {
                    "before": _r(pre),
                    "after": _r(post),
                    "peak": peaks.get(entity),
                    "peak_sustained": held.get(entity),
                }
        if entity == ramped or entity in moved:
            series[entity] = [(round(ts - fault.start, 1), round(v, 3)) for ts, v in samples]
    others = {e: p for e, p in peaks.items() if e != ramped}
    others_held = {e: p for e, p in held.items() if e != ramped}
    return {
        "link": lk.id,
        "direction_from": fault.direction,
        "ramped_interface": ramped,
        "demand": {"from": src, "to": dst, "peak_bps": lab_faults.RAMP_PEAK * lk.capacity_bps},
        "capacity_bps": lk.capacity_bps,
        "ramp_start": round(fault.start, 1),
        "ramp_s": fault.duration,
        "ramp_end": round(t_end, 1),
        "util_before_ramp": _r(before),
        "natural_saturation": _r(natural, 1),
        "risk": None
        if first is None
        else {
            "risk_id": first.risk_id,
            "opened": round(first.ts, 1),
            "opened_after_ramp_s": round(first.ts - fault.start, 1),
            "deadline": round(first.predicted_ts, 1),
            "confidence": round(first.confidence, 3),
            "revisions": len(w.risks),
            "last_status": w.risks[-1].status,
        },
        "change": None
        if change is None
        else {
            "action": change.detail.get("action"),
            "level": change.detail.get("level"),
            "applied": round(change.ts, 1),
            "applied_after_ramp_s": round(change.ts - fault.start, 1),
            "before_natural_saturation_s": _r(None if natural is None else natural - change.ts, 1),
            "executor_detail": change.detail.get("detail"),
            "decided": round(decided[0].ts, 1) if decided else None,
            "verdict": validated[0] if validated else None,
        },
        "peak_ramped": peaks.get(ramped),
        "peak_ramped_sustained": held.get(ramped),
        "peak_other": max(others.values()) if others else None,
        "peak_other_at": max(others, key=lambda e: others[e]) if others else None,
        "peak_other_sustained": max(others_held.values()) if others_held else None,
        "peak_other_sustained_at": (
            max(others_held, key=lambda e: others_held[e]) if others_held else None
        ),
        "moved_to": moved,
        "other_risks": [
            {
                "entity": rs[0].entity,
                "opened_after_ramp_s": round(rs[0].ts - fault.start, 1),
                "deadline_after_ramp_s": round(rs[0].predicted_ts - fault.start, 1),
                "last_status": rs[-1].status,
                "no_plan": sorted({_no_plan(a) for a in w.audit if a.subject == rid} - {""}),
            }
            for rid, rs in w.others.items()
        ],
        "series": series,
        "saturated": (peaks.get(ramped) or 0.0) >= 0.9,
        "audit": [
            {"ts": round(a.ts, 1), "action": a.action, "subject": a.subject}
            for a in w.audit
            if a.ts >= t0
        ],
        "wall_s": round(time.time() - t0, 1),
    }


def run_lab_ramp(cfg: LabRamp, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run it (see the module docstring); needs root and the lab's packages."""
    say = say or (lambda msg: None)
    t0 = time.time()
    state = runner.up(
        cfg.topology, max_routers=cfg.max_routers, seed=cfg.seed, timeout_s=cfg.up_timeout_s
    )
    plan = state.plan
    say(f"lab up in {state.ready_s} s: {len(plan.routers)} routers")
    try:
        if cfg.link:
            link, end = cfg.link, cfg.direction or plan.link(cfg.link).a
            src, dst = ramp_pair(plan, link, end)
        else:
            link, end, src, dst = choose_ramp(plan, time.time() + cfg.warmup_s, cfg.threshold)
        lk = plan.link(link)
        entity = interface_id(end, lk.a_if if end == lk.a else lk.b_if)
        say(f"ramp on {link} from {end}: a demand {src} -> {dst} growing over {cfg.ramp_s:.0f} s")
        with tempfile.TemporaryDirectory(prefix="netvigil-labramp-") as tmp:
            settings = lab_settings(load_settings(cfg.config), log=say)
            settings.coordinator.phase = "autonomous"
            settings.coordinator.policy = _policy_file(Path(tmp), cfg.lookahead_s)
            w = _Watch(entity, LoadRecorder(), [], [])
            svc = Service.build(settings, data_dir=Path(tmp) / "nv")
            svc.runtime.listen("netvigil.metrics", w.loads.on_metric)
            svc.runtime.listen("netvigil.risks", w.on_risk)
            svc.runtime.listen("netvigil.audit", w.on_audit)
            made: list[LabFault] = []
            ended: list[float] = []

            def ramp() -> None:
                time.sleep(cfg.warmup_s)
                f = LabFault("growth_ramp", link, time.time(), cfg.ramp_s, end, dst)
                lab_faults.inject(LabState.load() or state, f)
                made.append(f)
                say(f"ramp injected; saturation without a change in about {cfg.ramp_s:.0f} s")
                try:
                    time.sleep(cfg.ramp_s + cfg.hold_s)
                finally:
                    ended.append(time.time())
                    lab_faults.clear(LabState.load() or state, f)
                    say("ramp cleared")

            async def scenario() -> None:
                stop = asyncio.Event()
                task = asyncio.create_task(svc.run(stop))
                try:
                    await asyncio.to_thread(ramp)
                finally:
                    stop.set()
                    await task

            asyncio.run(scenario())
            svc.close()
        if not made:
            raise LabError("the ramp was not injected")
        out = _report(w, plan, made[0], src, dst, t0, ended[0])
        out["lab_dir"] = str(lab_dir())
        return out
    finally:
        if not cfg.keep:
            runner.down()
