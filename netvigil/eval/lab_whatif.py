"""The twin's what-if against the lab: predicted link loads after an IGP cost change, measured.

The level-3 gate trusts the twin's prediction of where traffic goes after a metric change
(:func:`netvigil.twin.whatif.what_if`). Here the prediction is checked on real routers: on a
running lab, the twin of the lab (its topology, scaled capacities and costs, and the demand
model its traffic generator follows, same seed) predicts every link direction's utilization
with the change made; the lab then makes the change for real (``ip ospf cost`` on both ends,
through ``vtysh``), FRRouting reconverges, and the lab's SNMP counters, as the pipeline
receives them (``if.out_util`` per interface), give the measured loads. Both are also taken
before the change, so the twin's baseline error is known apart from its error about the change.

The link changed is chosen by rule: the link the twin expects to be busiest now (its traffic
must go somewhere, so the change moves the most), set to :data:`WHATIF_COST`. Loads are
compared per link direction: ``rel_error`` = |predicted - measured| / measured on the
directions carrying at least :data:`MIN_UTIL` (a relative error of an idle direction says
nothing), and the absolute error in utilization points on every direction.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from netvigil.eval.loads import LoadRecorder
from netvigil.events import interface_id
from netvigil.lab.faults import set_cost
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.lab.state import LabState
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import Change, apply_change, what_if

__all__ = ["MIN_UTIL", "TOLERANCE", "WHATIF_COST", "compare_loads", "whatif_on_lab"]

WHATIF_COST = 100
#: directions below this utilization are compared in absolute terms only
MIN_UTIL = 0.05
#: the floor: predicted within this share of the measured load
TOLERANCE = 0.15
#: seconds for OSPF to reconverge and one poll to cover only the new state
CONVERGE_S = 15.0
MEASURE_S = 40.0


def _directions(plan: LabPlan) -> list[tuple[str, str, str]]:
    """(link id, sending router, sending interface entity) of every link direction."""
    out = []
    for lk in plan.links:
        out.append((lk.id, lk.a, interface_id(lk.a, lk.a_if)))
        out.append((lk.id, lk.b, interface_id(lk.b, lk.b_if)))
    return out


def compare_loads(
    predicted: dict[tuple[str, str], float],
    measured: dict[tuple[str, str], float | None],
) -> dict[str, Any]:
    """Per-direction errors of a prediction against a measurement (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    rels: list[float] = []
    for key, m in sorted(measured.items()):
        p = predicted.get(key, 0.0)
        if m is None:
            continue
        rel = abs(p - m) / m if m >= MIN_UTIL else None
        if rel is not None:
            rels.append(rel)
        rows.append(
            {
                "link": key[0],
                "from": key[1],
                "predicted": round(p, 4),
                "measured": round(m, 4),
                "abs_error": round(abs(p - m), 4),
                "rel_error": None if rel is None else round(rel, 4),
            }
        )
    within = sum(1 for r in rels if r <= TOLERANCE)
    return {
        "directions": len(rows),
        "loaded_directions": len(rels),
        "within_tolerance": within,
        "share_within_tolerance": round(within / len(rels), 4) if rels else None,
        "rel_error_p50": round(statistics.median(rels), 4) if rels else None,
        "rel_error_max": round(max(rels), 4) if rels else None,
        "abs_error_mean": (
            round(statistics.fmean(float(r["abs_error"]) for r in rows), 4) if rows else None
        ),
        "rows": rows,
    }


def _measure(
    loads: LoadRecorder, plan: LabPlan, start: float, end: float
) -> dict[tuple[str, str], float | None]:
    return {(lk, src): loads.mean(ent, start, end) for lk, src, ent in _directions(plan)}


def whatif_on_lab(
    state: LabState,
    loads: LoadRecorder,
    *,
    cost: int = WHATIF_COST,
    converge_s: float = CONVERGE_S,
    measure_s: float = MEASURE_S,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Predict, make and measure one cost change on the running lab; restores the cost."""
    say = say or (lambda msg: None)
    plan = state.plan
    topo = lab_topology(plan)
    now = time.time()
    net = TwinNetwork(topo, seed=state.seed)
    expected, _ = net.expected_load(now)
    link = max(
        plan.links, key=lambda lk: (max(expected[(lk.id, lk.a)], expected[(lk.id, lk.b)]), lk.id)
    ).id
    change = Change(metric={link: cost})
    measured_before = _measure(loads, plan, now - measure_s, now)
    say(f"what-if: {link} cost {plan.link(link).cost} -> {cost}")
    set_cost(plan, link, cost)
    try:
        time.sleep(converge_s)
        t0 = time.time()
        time.sleep(measure_s)
        t1 = time.time()
    finally:
        set_cost(plan, link, plan.link(link).cost)
    mid = (t0 + t1) / 2
    verdict = what_if(net, change, t=mid, target=link)
    before_pred, _ = net.expected_load(now)
    after_net = TwinNetwork(topo, seed=state.seed)
    apply_change(after_net, change, mid)
    after_pred, _ = after_net.expected_load(mid)
    return {
        "link": link,
        "cost": [plan.link(link).cost, cost],
        "gate": {"ok": verdict.ok, "reasons": verdict.reasons, **verdict.numbers},
        "before": compare_loads(before_pred, measured_before),
        "after": compare_loads(after_pred, _measure(loads, plan, t0, t1)),
        "measure_s": measure_s,
    }
