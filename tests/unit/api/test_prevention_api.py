"""The console's prevention routes over real stores: risks with their preemptive change, the
track record and promotion (only when earned, admin), judgements (operator) and suppressions
(listed to viewers, lifted by operators), with 404/409/403 where they belong."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.api.base import Conflict
from netvigil.api.prevention import PreventionDesk
from netvigil.api.resolvers import AutonomyPolicy
from netvigil.events import Pattern, Risk
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.feedback import FeedbackStore
from netvigil.resolvers.policy import parse_policy
from netvigil.resolvers.record import TrackRecord
from netvigil.resolvers.remediation import ActionRecord, ActionStore
from netvigil.resolvers.riskstore import RiskRecord, RiskStore
from tests.unit.api.conftest import T0, Env

POLICY = parse_policy(
    {
        "domains": {
            "all": {
                "phase": "passive",
                "promotion": {
                    "semi-autonomous": {"min_verified_recommendations": 2, "min_judged": 1}
                },
            }
        }
    }
)


def desk(env: Env, tmp: Path) -> PreventionDesk:
    d = PreventionDesk(
        risks=RiskStore(tmp / "risks.db"),
        record=TrackRecord(tmp / "record.db"),
        feedback=FeedbackStore(tmp / "feedback.db"),
        actions=ActionStore(tmp / "actions.db"),
        policy=POLICY,
        autonomy=AutonomyState(tmp / "autonomy.db"),
        audit=env.console.audit,
        incidents=env.console.incidents,
        clock=lambda: T0 + 600,
    )
    env.console.prevention = d
    return d


def add_risk(d: PreventionDesk) -> str:
    risk = Risk(
        ts=T0,
        risk_id="risk-abc",
        status="open",
        revision=1,
        kind="congestion",
        device="edge1",
        entity="edge1:Ethernet0",
        signal="if.out_util",
        opened_ts=T0,
        predicted_ts=T0 + 2700,
        confidence=0.9,
        threshold=0.9,
        level=0.5,
        trend_per_s=0.0002,
        services=["shop"],
    )
    rec = ActionRecord(
        request_id="risk-abc-1",
        incident="risk-abc",
        action="qos_adjust",
        target="core1--edge1",
        level=1,
        domain="all",
        rule="r",
        status="awaiting_approval",
        params={},
        facts={"target": "core1--edge1", "fault": "congestion", "confidence": 0.9},
        preemptive={"deadline": T0 + 2700, "approve_by": T0 + 1800},
        verdict={"ok": True, "on": "forecast", "target_util_after": 0.6},
    )
    d.actions.put(rec)
    d.risks.put(RiskRecord(risk=risk, domain="all", link="core1--edge1", request_id="risk-abc-1"))
    return risk.risk_id


async def test_without_the_stores_the_routes_say_so(env: Env) -> None:
    r = await env.client.get("/api/risks", headers=env.auth("vera"))
    assert r.status_code == 503


async def test_risks_show_their_deadline_and_preemptive_change(env: Env, tmp_path: Path) -> None:
    rid = add_risk(desk(env, tmp_path))
    r = await env.client.get("/api/risks", headers=env.auth("vera"))
    assert r.status_code == 200
    (risk,) = r.json()
    assert risk["predicted_ts"] == T0 + 2700 and risk["services"] == ["shop"]
    assert risk["change"]["approve_by"] == T0 + 1800 and risk["change"]["level"] == 1
    assert abs(risk["trend_per_h"] - 0.72) < 1e-9
    one = await env.client.get(f"/api/risks/{rid}", headers=env.auth("vera"))
    assert one.json()["risk_id"] == rid
    assert (await env.client.get("/api/risks/nope", headers=env.auth("vera"))).status_code == 404


async def test_judgements_need_an_operator_and_a_known_subject(env: Env, tmp_path: Path) -> None:
    d = desk(env, tmp_path)
    rid = add_risk(d)
    body = {"verdict": "false", "reason": "backup window"}
    path = "/api/incidents/aaaa000000000002/judgement"
    assert (await env.client.post(path, json=body, headers=env.auth("vera"))).status_code == 403
    r = await env.client.post(path, json=body, headers=env.auth("otto"))
    assert r.status_code == 200 and r.json()["actor"] == "otto" and not r.json()["taken"]
    missing = "/api/incidents/ffff000000000000/judgement"
    assert (await env.client.post(missing, json=body, headers=env.auth("otto"))).status_code == 404
    bad = await env.client.post(path, json={"verdict": "maybe"}, headers=env.auth("otto"))
    assert bad.status_code == 422
    ok = await env.client.post(
        f"/api/risks/{rid}/judgement", json={"verdict": "confirmed"}, headers=env.auth("olga")
    )
    assert ok.status_code == 200
    listed = await env.client.get("/api/judgements", headers=env.auth("vera"))
    assert [(j["subject"], j["verdict"]) for j in listed.json()] == [
        ("aaaa000000000002", "false"),
        (rid, "confirmed"),
    ]
    said = [r for r in env.console.audit.records() if r.action == "feedback.received"]
    assert [r.actor for r in said] == ["otto", "olga"]


async def test_suppressions_are_listed_and_lifted_once(env: Env, tmp_path: Path) -> None:
    d = desk(env, tmp_path)
    p = Pattern(
        entity="edge1:Ethernet0", signal="if.out_util", kind="threshold", start_min=60, end_min=150
    )
    sup, _ = d.feedback.suppress(p, subject="aaaa000000000002", actor="otto", reason="b", ts=T0)
    d.feedback.hit(sup.id, "f1", T0 + 86400)
    (row,) = (await env.client.get("/api/suppressions", headers=env.auth("vera"))).json()
    assert row["hits"] == 1 and row["active"] and "daily 01:00-02:30 UTC" in row["pattern"]
    url = f"/api/suppressions/{sup.id}/lift"
    assert (await env.client.post(url, json={}, headers=env.auth("vera"))).status_code == 403
    r = await env.client.post(url, json={"reason": "moved"}, headers=env.auth("otto"))
    assert r.status_code == 200 and not r.json()["active"] and r.json()["lifted_by"] == "otto"
    assert (await env.client.post(url, json={}, headers=env.auth("olga"))).status_code == 409
    nope = "/api/suppressions/sup-none/lift"
    assert (await env.client.post(nope, json={}, headers=env.auth("otto"))).status_code == 404
    assert any(r.action == "suppression.lifted" for r in env.console.audit.records())


async def test_promotion_only_when_earned_and_by_an_admin(env: Env, tmp_path: Path) -> None:
    d = desk(env, tmp_path)
    (row,) = (await env.client.get("/api/record", headers=env.auth("vera"))).json()
    assert row["phase"] == "passive" and not row["promotion_earned"] and row["missing"]
    url = "/api/record/all/promote"
    body = {"phase": "semi-autonomous", "reason": "looks good"}
    assert (await env.client.post(url, json=body, headers=env.auth("otto"))).status_code == 403
    r = await env.client.post(url, json=body, headers=env.auth("ada"))
    assert r.status_code == 409 and "has not earned semi-autonomous" in r.json()["detail"]
    for i in range(2):
        d.record.record("all", "recommendation", f"r{i}", True, ts=T0 + i)
    r = await env.client.post(url, json=body, headers=env.auth("ada"))
    assert r.status_code == 200 and r.json()["phase"] == "semi-autonomous"
    assert d.autonomy.phase("all") == "semi-autonomous"
    missing = await env.client.post("/api/record/none/promote", json=body, headers=env.auth("ada"))
    assert missing.status_code == 404


async def test_setting_a_phase_by_hand_also_needs_the_record(tmp_path: Path) -> None:
    st, rec, audit = AutonomyState(), TrackRecord(), AuditLog()
    adapter = AutonomyPolicy(POLICY, st, audit, rec)
    with pytest.raises(Conflict, match="has not earned semi-autonomous"):
        await adapter.set_phase("all", "semi-autonomous", "ada")
    for i in range(2):
        rec.record("all", "recommendation", f"r{i}", True, ts=float(i))
    assert (await adapter.set_phase("all", "semi-autonomous", "ada"))["all"] == "semi-autonomous"
    assert (await adapter.set_phase("all", "passive", "ada"))["all"] == "passive"  # down: free
