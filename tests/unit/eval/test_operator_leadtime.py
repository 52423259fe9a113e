"""The modelled level-1 operator, and lead times scored against the twin's saturation."""

from __future__ import annotations

from netvigil.eval.leadtime import LeadTimes
from netvigil.eval.operator import Operator, OperatorModel
from netvigil.eval.recovery import RecoveryWatch
from netvigil.events import ActionRequest, Anomaly, Metric
from netvigil.graph.importers import load_topology
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork

T0 = 1_767_571_200.0


def proposal(rid: str, ts: float, status: str = "proposed") -> ActionRequest:
    return ActionRequest(
        ts=ts,
        request_id=rid,
        incident=rid.split("-")[0],
        action="interface_reset",
        target="a--b",
        level=1,
        status=status,  # type: ignore[arg-type]
    )


def test_operator_approves_after_its_response_time_only() -> None:
    tickets = LocalTickets()
    for rid in ("i1-x", "i2-y"):
        tickets.open_change(
            rid, incident=rid[:2], kind="normal", title="t", description="d", devices=["a"], ts=0
        )
    op = Operator(OperatorModel(ack_s=600, approve_s=300), tickets)
    op.on_action("netvigil.actions", proposal("i1-x", T0))
    op.on_action("netvigil.actions", proposal("i2-y", T0 + 100))
    op.on_action("netvigil.actions", proposal("i3-z", T0, status="approved"))  # level 2: no human
    op(T0 + 899)
    assert tickets.sync() == [] and op.approved == {}
    op(T0 + 900)
    (upd,) = tickets.sync()
    assert upd.kind == "change_approved" and upd.correlation_id == "i1-x"
    assert "600 s acknowledge + 300 s approve" in upd.note
    # the second change was cancelled meanwhile: nothing to approve
    ch = tickets.find_change("i2-y")
    assert ch is not None
    tickets.update_change(ch, "closed", "cancelled", ts=T0 + 500)
    op(T0 + 2000)
    assert tickets.sync() == [] and set(op.approved) == {"i1-x"} and op.due == {}


def predicted(entity: str, ts: float) -> Anomaly:
    return Anomaly(
        ts=ts,
        device=entity.split(":")[0],
        entity=entity,
        signal="if.out_util",
        kind="predicted_congestion",
        score=0.5,
        state="active",
        onset_ts=ts,
    )


def test_lead_time_is_saturation_minus_first_prediction() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    ramp = Fault("growth_ramp", lk.id, T0 + 600, T0 + 600 + 7200, magnitude=1.3, direction=lk.a)
    net = TwinNetwork(topo, [ramp], seed=1)
    watch = RecoveryWatch(net, [ramp])
    t = T0
    while t <= ramp.end:
        net.step(t)
        watch(t)
        t += 60
    sat = watch.recoveries[0].onset
    assert sat is not None
    leads = LeadTimes.of(topo, [ramp], horizon_s=2700, threshold=0.9)
    iface = lk.end(lk.a)
    leads.on_anomaly("netvigil.anomalies", predicted(iface, T0 + 300))  # before the ramp
    leads.on_anomaly("netvigil.anomalies", predicted(iface, sat - 2000))
    leads.on_anomaly("netvigil.anomalies", predicted(iface, sat - 100))
    leads.on_anomaly("netvigil.anomalies", predicted("core2:eth9", T0 + 900))  # never congests
    leads.on_metric(
        "netvigil.metrics",
        Metric(
            ts=sat,
            device=lk.a,
            name="if.out_util",
            value=0.95,
            labels={"interface": iface.split(":")[1]},
        ),
    )
    rep = leads.report(watch)
    (row,) = rep["per_ramp"]
    assert row["saturated_at_s"] == sat and row["first_prediction_s"] == sat - 2000
    assert row["lead_s"] == 2000 and row["in_time"]
    assert rep["predicted_in_time"] == 1 and rep["in_time_share"] == 1.0
    # the one before the ramp is within 1.5 x horizon of the saturation only if close enough
    assert rep["predictions"] == 4
    assert rep["false_predictions"] == (1 if sat - (T0 + 300) > 1.5 * 2700 else 0) + 1
