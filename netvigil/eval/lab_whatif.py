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

The lab's traffic generator may carry less than the demand it was asked for (one Python
process on a shared machine: :mod:`netvigil.lab.achieved`), and then the twin's prediction
for the demand model is off by the generator's shortfall, not by its routing. So each
window is measured live, with the generator's counters read at its start and end, and the
twin predicts twice: for the demand model (``before`` / ``after``, what the gate sees) and
for the demand the generator actually sent in that window, per router pair
(``before_achieved`` / ``after_achieved``: the twin's routing alone, which is what the 15 %
floor is about); ``traffic`` gives the offered and sent rates of each window.

Equal-cost paths: the lab's routers hash each flow (layer 4) onto one next hop, and a demand
is :data:`~netvigil.lab.traffic.FLOWS_PER_DEMAND` flows, while the twin splits a demand in
equal shares. Each row says whether the twin splits some demand it carries (``split``), and
each comparison gives the median relative error of split and unsplit directions apart
(``rel_error_p50_split`` / ``rel_error_p50_unsplit``): a hash too lumpy for so few flows
shows as a larger error on the split directions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from netvigil.eval.loads import LoadRecorder
from netvigil.events import interface_id
from netvigil.lab.achieved import Achieved, TrafficCounters, rates_between, read_counters
from netvigil.lab.faults import set_cost
from netvigil.lab.plan import LabPlan, lab_topology
from netvigil.lab.state import LabState, lab_dir
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
    split: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, Any]:
    """Per-direction errors of a prediction against a measurement (see the module docstring);
    ``split``: the directions where the twin splits a demand over equal-cost paths."""
    rows: list[dict[str, Any]] = []
    rels: list[float] = []
    by_split: dict[bool, list[float]] = {True: [], False: []}
    for key, m in sorted(measured.items()):
        p = predicted.get(key, 0.0)
        if m is None:
            continue
        rel = abs(p - m) / m if m >= MIN_UTIL else None
        if rel is not None:
            rels.append(rel)
            by_split[key in split].append(rel)
        rows.append(
            {
                "link": key[0],
                "from": key[1],
                "predicted": round(p, 4),
                "measured": round(m, 4),
                "abs_error": round(abs(p - m), 4),
                "rel_error": None if rel is None else round(rel, 4),
                "split": key in split,
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
        "rel_error_p50_split": _median(by_split[True]),
        "rel_error_p50_unsplit": _median(by_split[False]),
        "abs_error_mean": (
            round(statistics.fmean(float(r["abs_error"]) for r in rows), 4) if rows else None
        ),
        "rows": rows,
    }


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 4) if xs else None


def _split(net: TwinNetwork, plan: LabPlan, t: float) -> frozenset[tuple[str, str]]:
    """The directions over which the twin splits some demand at ``t`` (a share under 1)."""
    return frozenset(
        (lk, src)
        for lk, src, _ in _directions(plan)
        if any(share < 0.999 for _, _, share, _ in net.crossing(lk, src, t))
    )


def _measure(
    loads: LoadRecorder, plan: LabPlan, start: float, end: float
) -> dict[tuple[str, str], float | None]:
    return {(lk, src): loads.mean(ent, start, end) for lk, src, ent in _directions(plan)}


def _window(measure_s: float) -> tuple[float, float, Achieved | None]:
    """Wait ``measure_s`` seconds; the window's start, end, and the generator's rates in it."""
    c0: TrafficCounters | None = read_counters(lab_dir())
    t0 = time.time()
    time.sleep(measure_s)
    t1 = time.time()
    c1 = read_counters(lab_dir())
    return t0, t1, (rates_between(c0, c1) if c0 is not None and c1 is not None else None)


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
    b0, b1, sent_before = _window(measure_s)
    say(f"what-if: {link} cost {plan.link(link).cost} -> {cost}")
    set_cost(plan, link, cost)
    try:
        time.sleep(converge_s)
        t0, t1, sent_after = _window(measure_s)
    finally:
        set_cost(plan, link, plan.link(link).cost)
    mid, mid_before = (t0 + t1) / 2, (b0 + b1) / 2
    verdict = what_if(net, change, t=mid, target=link)
    before_pred, _ = net.expected_load(mid_before)
    after_net = TwinNetwork(topo, seed=state.seed)
    apply_change(after_net, change, mid)
    after_pred, _ = after_net.expected_load(mid)
    split_before, split_after = _split(net, plan, mid_before), _split(after_net, plan, mid)
    measured_before = _measure(loads, plan, b0, b1)
    measured_after = _measure(loads, plan, t0, t1)
    out: dict[str, Any] = {
        "link": link,
        "cost": [plan.link(link).cost, cost],
        "gate": {"ok": verdict.ok, "reasons": verdict.reasons, **verdict.numbers},
        "before": compare_loads(before_pred, measured_before, split_before),
        "after": compare_loads(after_pred, measured_after, split_after),
        "measure_s": measure_s,
        "traffic": {
            "before": sent_before.summary() if sent_before else None,
            "after": sent_after.summary() if sent_after else None,
        },
    }
    if sent_before is not None:
        pred = net.load_for(sent_before.sent(), mid_before)
        out["before_achieved"] = compare_loads(pred, measured_before, split_before)
    if sent_after is not None:
        pred = after_net.load_for(sent_after.sent(), mid)
        out["after_achieved"] = compare_loads(pred, measured_after, split_after)
    return out
