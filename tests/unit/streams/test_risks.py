"""The risk processor: a prediction becomes a risk with a time to impact, a confidence and
what it would hurt; it is revised, materializes when the harm comes, clears when it no longer
holds; an SLO's budget heading for exhaustion is a risk too."""

from __future__ import annotations

from netvigil.events import Anomaly, Event, Forecast, Risk
from netvigil.graph.base import Service
from netvigil.graph.importers import load_topology
from netvigil.streams.risks import RiskProcessor, RiskState

LINK = "core1--edge1"


def topo():  # type: ignore[no-untyped-def]
    t = load_topology(None)
    t.add_service(Service(name="shop", links=(LINK,), devices=("edge1",)))
    return t


def prediction(ts: float, predicted: float, *, state: str = "active") -> Anomaly:
    return Anomaly(
        ts=ts,
        device="edge1",
        entity="edge1:Ethernet0",
        signal="if.out_util",
        kind="predicted_congestion",
        score=0.3,
        state=state,  # type: ignore[arg-type]
        expected=0.55,
        evidence={"trend_per_h": "0.600"},
        forecast=None
        if state == "cleared"
        else Forecast(
            threshold=0.9, predicted_ts=predicted, lead_time_s=predicted - ts, uncertainty_s=300
        ),
    )


async def feed(proc: RiskProcessor, state: RiskState, events: list[Anomaly]) -> list[Risk]:
    out: list[Event] = []
    for e in events:
        out += await proc.process(e, state)
    return [e for e in out if isinstance(e, Risk)]


async def test_a_congestion_forecast_becomes_a_risk_and_materializes() -> None:
    proc, state = RiskProcessor(topo()), RiskState()
    (risk,) = await feed(proc, state, [prediction(1000.0, 3700.0)])
    assert risk.status == "open" and risk.kind == "congestion"
    assert risk.time_to_impact_s == 2700.0
    assert risk.confidence == round(2700 / 3000, 3)
    far = "core1:GigabitEthernet0/0/3"
    assert set(risk.entities) == {LINK, "edge1", "core1", "edge1:Ethernet0", far}
    assert risk.services == ["shop"]
    assert abs((risk.trend_per_s or 0) * 3600 - 0.6) < 1e-9 and risk.level == 0.55
    # a small move of the forecast is no revision; a big one is
    assert await feed(proc, state, [prediction(1060.0, 3750.0)]) == []
    (revised,) = await feed(proc, state, [prediction(1200.0, 4500.0)])
    assert (revised.risk_id, revised.revision, revised.predicted_ts) == (risk.risk_id, 2, 4500.0)
    threshold = Anomaly(
        ts=4400.0,
        device="edge1",
        entity="edge1:Ethernet0",
        signal="if.out_util",
        kind="threshold",
        score=1.0,
    )
    (done,) = await feed(proc, state, [threshold])
    assert done.status == "materialized" and done.revision == 3
    assert await feed(proc, state, [threshold]) == []  # nothing open any more


async def test_a_prediction_that_clears_clears_its_risk() -> None:
    proc, state = RiskProcessor(topo()), RiskState()
    (risk,) = await feed(proc, state, [prediction(1000.0, 3700.0)])
    (gone,) = await feed(proc, state, [prediction(2000.0, 0.0, state="cleared")])
    assert gone.status == "cleared" and gone.risk_id == risk.risk_id


async def test_an_slo_budget_heading_for_exhaustion_is_a_risk() -> None:
    proc, state = RiskProcessor(topo()), RiskState()
    burn = Anomaly(
        ts=500.0,
        device="edge1",
        entity="shop",
        signal="slo.success",
        kind="slo_burn",
        score=0.6,
        evidence={"budget_remaining": "0.400", "exhausted_in_s": "7200"},
    )
    (risk,) = await feed(proc, state, [burn])
    assert (risk.kind, risk.predicted_ts, risk.services) == ("slo_budget", 7700.0, ["shop"])
    spent = Anomaly(
        ts=900.0,
        device="edge1",
        entity="shop",
        signal="slo.success",
        kind="slo_burn",
        score=1.0,
        evidence={"budget_remaining": "-0.100"},
    )
    (done,) = await feed(proc, state, [spent])
    assert done.status == "materialized"


def test_risks_are_keyed_like_the_anomalies_and_written_to_their_topic() -> None:
    proc = RiskProcessor(topo())
    assert proc.inputs == ("netvigil.anomalies",) and proc.outputs == ("netvigil.risks",)
    assert proc.key(prediction(1.0, 2.0)) == "edge1"


async def test_a_prediction_back_soon_after_clearing_is_the_same_risk() -> None:
    proc, state = RiskProcessor(topo(), linger_s=1800), RiskState()
    (risk,) = await feed(proc, state, [prediction(1000.0, 3700.0)])
    await feed(proc, state, [prediction(1100.0, 0.0, state="cleared")])
    (back,) = await feed(proc, state, [prediction(1500.0, 4200.0)])
    assert (back.risk_id, back.status, back.revision) == (risk.risk_id, "open", 3)
    await feed(proc, state, [prediction(1600.0, 0.0, state="cleared")])
    (later,) = await feed(proc, state, [prediction(9000.0, 11700.0)])
    assert later.risk_id != risk.risk_id and later.revision == 1  # long after: a new one


def error_prediction(ts: float, predicted: float | None, crossed: str = "") -> Anomaly:
    return Anomaly(
        ts=ts,
        device="edge1",
        entity="edge1:Ethernet0",
        signal="if.in_errors",
        kind="predicted_errors",
        score=0.3,
        state="active" if predicted is not None else "cleared",
        expected=0.0004,
        evidence={"trend_per_h": "0.0015", **({"crossed": crossed} if crossed else {})},
        forecast=None
        if predicted is None
        else Forecast(
            threshold=0.001, predicted_ts=predicted, lead_time_s=predicted - ts, uncertainty_s=120
        ),
    )


async def test_a_rising_error_share_becomes_a_link_errors_risk() -> None:
    proc, state = RiskProcessor(topo()), RiskState()
    (risk,) = await feed(proc, state, [error_prediction(1000.0, 2400.0)])
    assert risk.status == "open" and risk.kind == "link_errors"
    assert risk.signal == "if.in_errors" and risk.threshold == 0.001
    assert risk.time_to_impact_s == 1400.0 and risk.confidence == round(1400 / 1520, 3)
    assert LINK in risk.entities and risk.services == ["shop"]  # what its loss would hurt
    assert abs((risk.trend_per_s or 0) * 3600 - 0.0015) < 1e-12
    # the share crossed the harm share: the harm came
    (done,) = await feed(proc, state, [error_prediction(2460.0, None, crossed="0.001025")])
    assert done.status == "materialized" and "error share" in done.evidence["closed"]
    # a trend that fades without crossing only clears
    (again,) = await feed(proc, state, [error_prediction(5000.0, 6400.0)])
    (gone,) = await feed(proc, state, [error_prediction(5600.0, None)])
    assert again.risk_id != risk.risk_id and gone.status == "cleared"
