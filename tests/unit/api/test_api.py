"""The console API over real stores: incidents, topology, actions, audit, metrics."""

from __future__ import annotations

from msgspec.structs import replace
from prometheus_client.parser import text_string_to_metric_families

from netvigil.analytics.slo import SLO
from netvigil.events import Anomaly, DeadLetter
from netvigil.graph.base import Service
from tests.unit.api.conftest import T0, Env, make_incident


async def test_incident_list_filters_and_detail(env: Env) -> None:
    c, h = env.client, env.auth("vera")
    rows = (await c.get("/api/incidents", headers=h)).json()
    assert [r["fingerprint"] for r in rows] == ["aaaa000000000002", "aaaa000000000001"]
    assert rows[0]["ticket"].startswith("NVI")
    assert (await c.get("/api/incidents?status=resolved", headers=h)).json() == []
    link = rows[0]["root_cause"]["entity"]
    assert len((await c.get(f"/api/incidents?entity={link}", headers=h)).json()) == 2
    assert (await c.get("/api/incidents?entity=nowhere", headers=h)).json() == []
    assert len((await c.get("/api/incidents?limit=1", headers=h)).json()) == 1
    assert (await c.get("/api/incidents?status=bogus", headers=h)).status_code == 422
    d = (await c.get("/api/incidents/aaaa000000000001", headers=h)).json()
    assert [rc["entity"] for rc in d["root_causes"]] == [link, link.split("--")[0]]
    assert d["root_causes"][0]["evidence"] == ["e1 (1.00)"]
    assert [t["signal"] for t in d["timeline"]] == ["oper_status", "cpu"]  # by onset
    assert (await c.get("/api/incidents/nope", headers=h)).status_code == 404


async def test_topology_around_an_incident_and_an_entity(env: Env) -> None:
    c, h = env.client, env.auth("vera")
    g = (await c.get("/api/incidents/aaaa000000000001/topology?hops=1", headers=h)).json()
    link = g["center"]
    a, b = link.split("--")
    ids = {n["id"] for n in g["nodes"]}
    assert {a, b} <= ids and len(ids) > 2
    assert all(0 <= n["x"] <= 1 and 0 <= n["y"] <= 1 for n in g["nodes"])
    assert [e["id"] for e in g["edges"] if e["affected"]] == [link]
    assert [e["id"] for e in g["edges"] if e["root"]] == [link]
    assert not any(n["root"] for n in g["nodes"])  # the root cause is the link, not a device
    assert {n["id"] for n in g["nodes"] if n["affected"]} == {a}  # the cpu anomaly's device
    g0 = (await c.get(f"/api/topology?entity={a}&hops=0", headers=h)).json()
    assert [n["id"] for n in g0["nodes"]] == [a] and g0["edges"] == []
    assert g0["nodes"][0]["root"] is True
    r = await c.get("/api/topology?entity=ghost&hops=1", headers=h)
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    assert (await c.get(f"/api/topology?entity={a}&hops=9", headers=h)).status_code == 422


async def test_approve_executes_as_dry_run_and_is_audited(env: Env) -> None:
    c = env.client
    acts = (await c.get("/api/actions?status=proposed", headers=env.auth("vera"))).json()
    assert {a["action"] for a in acts} == {"bounce-interfaces", "raise-igp-metric"}
    rid = acts[0]["request_id"]
    r = await c.post(
        f"/api/actions/{rid}/approve", json={"reason": "looks right"}, headers=env.auth("otto")
    )
    body = r.json()
    assert body["status"] == "executed" and body["outcome"] == "dry_run"
    assert body["decided_by"] == "otto"
    audit = (await c.get("/api/audit", headers=env.auth("vera"))).json()
    assert [a["action"] for a in audit[:2]] == ["action.executed", "action.approved"]
    assert audit[1]["actor"] == "user:otto" and audit[1]["detail"]["reason"] == "looks right"
    by_subject = await c.get(f"/api/audit?subject={acts[0]['incident']}", headers=env.auth("vera"))
    assert len(by_subject.json()) == 2
    v = (await c.get("/api/audit/verify", headers=env.auth("vera"))).json()
    assert v == {"ok": True, "records": 2, "problems": []}


async def test_an_open_breaker_refuses_execution(env: Env) -> None:
    c = env.client
    await c.post("/api/breaker/trip", json={"reason": "maintenance"}, headers=env.auth("otto"))
    rid = env.actions.list()[0].request_id
    r = await c.post(f"/api/actions/{rid}/approve", json={}, headers=env.auth("otto"))
    assert r.json()["status"] == "failed" and "breaker" in r.json()["outcome"]
    assert env.console.audit.records()[-1].action == "action.refused"


async def test_reject_and_unknown_action(env: Env) -> None:
    c = env.client
    rid = env.actions.list()[0].request_id
    r = await c.post(f"/api/actions/{rid}/reject", json={}, headers=env.auth("otto"))
    assert r.json()["status"] == "rejected" and r.json()["outcome"] is None
    r = await c.post("/api/actions/0000/approve", json={}, headers=env.auth("otto"))
    assert r.status_code == 404


async def test_policy_validation(env: Env) -> None:
    c, h = env.client, env.auth("ada")
    assert (await c.get("/api/policy", headers=h)).json()["phases"]["routing"] == "passive"
    r = await c.put("/api/policy/routing", json={"phase": "reckless"}, headers=h)
    assert r.status_code == 422
    r = await c.put("/api/policy/nowhere", json={"phase": "passive"}, headers=h)
    assert r.status_code == 404


async def test_health_readiness_and_metrics(env: Env) -> None:
    c = env.client
    assert (await c.get("/healthz")).json()["status"] == "ok"
    env.console.ready = lambda: False
    assert (await c.get("/readyz")).status_code == 503
    env.console.stats = lambda: {
        "published": {"netvigil.metrics": 42},
        "processed": {"detector": 40},
        "failed": {"detector": 1},
        "queued": {"detector": 2},
    }
    await c.get("/api/me")  # one refused request
    meters = env.console.meters
    meters.on_dead_letter(
        "netvigil.dlq", DeadLetter(ts=T0, source="syslog:10.0.0.1", reason="bad", raw=b"x")
    )
    for delay in (10.0, 30.0):
        meters.on_anomaly(
            "netvigil.anomalies",
            Anomaly(
                ts=T0 + delay,
                device="d",
                entity="d",
                signal="cpu",
                kind="deviation",
                score=1.0,
                onset_ts=T0,
            ),
        )
    text = (await c.get("/metrics", headers=env.auth("vera"))).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert samples[("netvigil_events_published_total", (("topic", "netvigil.metrics"),))] == 42
    assert samples[("netvigil_consumer_lag", (("processor", "detector"),))] == 2
    assert samples[("netvigil_processor_errors_total", (("processor", "detector"),))] == 1
    assert samples[("netvigil_incidents", (("status", "open"),))] == 2
    assert samples[("netvigil_tickets", (("state", "open"),))] == 2
    assert samples[("netvigil_actions", (("status", "proposed"),))] == 2
    assert samples[("netvigil_breaker_open", ())] == 0
    assert samples[("netvigil_api_auth_failures_total", ())] == 1
    assert samples[("netvigil_dead_letters_by_source_total", (("source", "syslog"),))] == 1
    assert samples[("netvigil_detection_delay_seconds_count", ())] == 2
    assert samples[("netvigil_detection_delay_seconds_sum", ())] == 40
    assert samples[("netvigil_detection_delay_seconds_bucket", (("le", "20.0"),))] == 1


async def test_services_with_their_paths_slo_state_and_open_incidents(env: Env) -> None:
    link = sorted(lk.id for lk in env.console.topology.links())[0]
    env.console.topology.add_service(
        Service(name="shop", kind="http", links=(link,), devices=("edge1",), props={"x": "1"})
    )
    env.console.slos = [
        SLO(service="shop", objective=0.99),
        SLO(service="shop", objective=0.9, kind="latency", latency_ms=200),
        SLO(service="ledger", objective=0.999),  # an SLO with no node in the graph
    ]
    burn = Anomaly(
        ts=T0 + 120, device="edge1", entity="shop", signal="slo.success", kind="slo_burn",
        score=1.0, state="active", value=14.5, detector="slo:burn-rate",
        evidence={"objective": "0.99", "severity": "page", "budget_remaining": "0.944"},
    )  # fmt: skip
    env.console.slo_board.observe("netvigil.anomalies", burn)
    hurt = replace(make_incident("bbbb000000000001", link), services=["shop"])
    env.console.incidents.put(hurt, None)
    r = await env.client.get("/api/services", headers=env.auth("vera"))
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()}
    assert sorted(by_name) == ["ledger", "shop"]
    shop = by_name["shop"]
    assert (shop["links"], shop["devices"], shop["in_topology"]) == ([link], ["edge1"], True)
    assert shop["incidents"] == ["bbbb000000000001"]
    slos = {s["key"]: s for s in shop["slos"]}
    assert slos["shop:success"]["status"] == "page"
    assert (
        slos["shop:success"]["burn"] == 14.5 and slos["shop:success"]["budget_remaining"] == 0.944
    )
    assert slos["shop:latency"]["status"] == "no alert yet"
    assert by_name["ledger"]["in_topology"] is False
    # the alert clears: the SLO is ok again, its budget as last reported
    env.console.slo_board.observe(
        "netvigil.anomalies", replace(burn, state="cleared", ts=T0 + 600, score=0.0)
    )
    r = await env.client.get("/api/services", headers=env.auth("vera"))
    cleared = {s["key"]: s for s in r.json()[1]["slos"]}["shop:success"]
    assert (cleared["status"], cleared["burn"]) == ("ok", 0.0)
    assert (await env.client.get("/api/services")).status_code == 401
