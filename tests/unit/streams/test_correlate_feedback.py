"""The correlator learns from operators: a pattern judged false stops opening incidents, a
real fault is never hidden by it, and lifting the suppression releases what it held."""

from __future__ import annotations

from netvigil.analytics.suppression import pattern_of, suppression_id
from netvigil.events import Anomaly, AnomalyRef, Event, Feedback, Incident
from netvigil.streams.correlate import CorrelationState, CorrelatorProcessor
from tests.unit.streams.test_correlate import TOPO, anomaly, link_ends

DAY = 86400.0
T0 = 20 * DAY + 2 * 3600  # 02:00 UTC


def burst(entity: str, ts: float) -> Anomaly:
    return anomaly(entity, ts, kind="threshold", signal="if.out_util", score=1.0)


def suppress(entity: str, ts: float) -> Feedback:
    ref = AnomalyRef(entity=entity, signal="if.out_util", kind="threshold", score=1, onset_ts=ts)
    p = pattern_of(ref, window_min=45)
    return Feedback(ts=ts, suppression=suppression_id(p), verdict="suppress", pattern=p)


async def run(
    proc: CorrelatorProcessor, state: CorrelationState, events: list[Event]
) -> list[Incident]:
    out: list[Event] = []
    for e in events:
        out += await proc.process(e, state)
    return [e for e in out if isinstance(e, Incident)]


async def test_a_suppressed_pattern_comes_back_held_back_and_a_real_fault_is_not() -> None:
    proc, state = CorrelatorProcessor(TOPO), CorrelationState()
    a, _ = link_ends("core1--edge1")
    fb = suppress(a, T0)
    # the next day, same interface, same symptom, same hour: held back
    held = await run(proc, state, [fb, burst(a, T0 + DAY + 300)])
    assert held and all(i.suppressed == fb.suppression for i in held)
    # the same symptom at another hour opens an incident as usual
    other = await run(
        proc,
        state,
        [
            anomaly(a, T0 + DAY + 300, state="cleared", kind="threshold", signal="if.out_util"),
            burst(a, T0 + DAY + 6 * 3600),
        ],
    )
    assert [i for i in other if i.status == "open" and not i.suppressed]
    # a real fault: both ends of another link down, during the suppressed hour
    c, d = link_ends("core2--core3")
    real = await run(proc, state, [anomaly(c, T0 + 2 * DAY), anomaly(d, T0 + 2 * DAY)])
    assert real and not any(i.suppressed for i in real)


async def test_a_strong_symptom_the_pattern_does_not_explain_releases_the_group() -> None:
    proc, state = CorrelatorProcessor(TOPO), CorrelationState()
    a, b = link_ends("core1--edge1")
    fb = suppress(a, T0)
    first = await run(proc, state, [fb, burst(a, T0 + DAY)])
    assert first[-1].suppressed
    # the link then goes down inside the same group: that is not the benign pattern
    released = await run(proc, state, [anomaly(a, T0 + DAY + 60), anomaly(b, T0 + DAY + 60)])
    assert released[-1].suppressed == "" and released[-1].fingerprint == first[-1].fingerprint


async def test_lifting_a_suppression_releases_the_group_it_holds() -> None:
    proc, state = CorrelatorProcessor(TOPO), CorrelationState()
    a, _ = link_ends("core1--edge1")
    fb = suppress(a, T0)
    held = await run(proc, state, [fb, burst(a, T0 + DAY)])
    assert held[-1].suppressed
    lift = Feedback(ts=T0 + DAY + 120, suppression=fb.suppression, verdict="lift")
    out = await run(proc, state, [lift])
    assert len(out) == 1 and out[0].suppressed == "" and out[0].status == "open"
    assert not state.suppressions
    # and the pattern opens incidents again the next day
    again = await run(proc, state, [burst(a, T0 + 3 * DAY)])
    assert again and not again[-1].suppressed


def test_the_correlator_reads_feedback_as_a_declared_feedback_input() -> None:
    proc = CorrelatorProcessor(TOPO)
    assert "netvigil.feedback" in proc.inputs and proc.feedback == ("netvigil.feedback",)
