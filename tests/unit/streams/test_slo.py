"""The SLO processor: an outage burns the budget into a page; recovery clears it."""

from __future__ import annotations

from netvigil.analytics.slo import SLO
from netvigil.events import Anomaly, Metric
from netvigil.streams.slo import SloProcessor


def probe(ts: float, ok: bool, service: str = "checkout") -> Metric:
    return Metric(
        ts=ts,
        device="edge1",
        name="probe.success",
        value=1.0 if ok else 0.0,
        labels={"probe": "co", "service": service},
    )


async def test_outage_pages_then_clears_and_other_services_are_ignored() -> None:
    proc = SloProcessor([SLO("checkout", 0.999)])
    state = proc.new_state()
    out: list[Anomaly] = []
    t = 0.0
    for _ in range(360):  # a healthy hour, a check every 10 s
        out += await proc.process(probe(t, True), state)  # type: ignore[arg-type]
        t += 10
    assert out == []
    for _ in range(30):  # five minutes down
        out += await proc.process(probe(t, False), state)  # type: ignore[arg-type]
        t += 10
    # the slow rule (a ticket) may fire first; within the five minutes it escalates to a page
    assert {(a.state, a.kind, a.entity) for a in out} == {("active", "slo_burn", "checkout")}
    assert out[-1].evidence["severity"] == "page"
    assert out[-1].score == 1.0 and out[-1].value is not None and out[-1].value > 6.0
    for _ in range(2520):  # seven healthy hours: past the slowest rule's short window (6 h)
        out += await proc.process(probe(t, True), state)  # type: ignore[arg-type]
        t += 10
    assert out[-1].state == "cleared"
    assert all(a.state == "active" for a in out[:-1])
    assert await proc.process(probe(t, False, service="other"), state) == []


def test_key_is_the_service() -> None:
    proc = SloProcessor([SLO("checkout", 0.99)])
    assert proc.key(probe(0, True)) == "checkout"
