"""Console API latency over real SQLite stores and the resolvers' own objects, in process
(httpx ASGI transport, no sockets).

Baseline in the same run: ``/healthz`` (framework cost, no token, no store). Every other route
is timed with a viewer token, over stores holding ``--incidents`` incidents and ``--audit``
audit records on the built-in demo backbone. Reports the median and p90 over ``--repeats``
requests per route and the ratio of the median to the baseline's.

    python -m bench.console_api --incidents 1000 --audit 5000 --repeats 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from netvigil.api.app import Console, create_app
from netvigil.api.auth import TokenStore
from netvigil.api.resolvers import AutonomyBreaker, AutonomyPolicy, RemediationQueue
from netvigil.events import AnomalyRef, Incident, RootCause
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.policy import default_policy
from netvigil.resolvers.remediation import ActionRecord, ActionStore
from netvigil.resolvers.tickets.local import LocalTickets

__all__ = ["main"]

T0 = 1_767_571_200.0


def _fill(data: Path, n_incidents: int, n_audit: int) -> tuple[Console, str, str]:
    topo = MemoryTopology()
    load_topology(None, topo)
    links = sorted(lk.id for lk in topo.links())
    audit, incidents = AuditLog(data / "audit.db"), IncidentStore(data / "incidents.db")
    tickets = LocalTickets(data / "tickets.db")
    actions, autonomy = ActionStore(data / "actions.db"), AutonomyState(data / "autonomy.db")
    for i in range(n_incidents):
        link = links[i % len(links)]
        inc = Incident(
            ts=T0 + 60 * i + 30,
            fingerprint=f"{i:016x}",
            status="resolved" if i % 3 else "open",
            revision=2,
            opened_ts=T0 + 60 * i,
            title=f"link {link} down",
            root_causes=[RootCause(entity=link, kind="link", score=0.7, fault="down")],
            anomalies=[
                AnomalyRef(
                    entity=link, signal="if.oper_status", kind="down", score=1.0, onset_ts=T0
                )
            ],
        )
        t = tickets.open(inc.fingerprint, inc.title, "", severity="major", ts=inc.ts)
        incidents.put(inc, t.number)
        if inc.status == "open":  # a level-1 proposal awaiting approval, as the remediator makes
            rid = f"{inc.fingerprint}-bench"
            actions.put(
                ActionRecord(
                    request_id=rid,
                    incident=inc.fingerprint,
                    action="interface_reset",
                    target=link,
                    level=1,
                    domain="all",
                    rule="bench",
                    status="awaiting_approval",
                    params={},
                    facts={},
                    change=rid,
                    created_ts=inc.ts,
                )
            )
    for i in range(n_audit):
        audit.append(ts=T0 + i, actor="bench", action="incident.updated", subject=f"{i:016x}")
    store = TokenStore(data / "tokens.json")
    token = store.create("viewer", "bench")[1]
    console = Console(
        incidents=incidents,
        audit=audit,
        topology=topo,
        tickets=tickets,
        actions=RemediationQueue(actions, tickets, audit),
        breaker=AutonomyBreaker(autonomy, audit),
        policy=AutonomyPolicy(default_policy("passive"), autonomy, audit),
        tokens=store,
    )
    return console, token, f"{(n_incidents - 1):016x}"


async def _time(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int
) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get(path, headers=headers)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return out


async def run(n_incidents: int, n_audit: int, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="nv-bench-console-") as tmp:
        console, token, fp = _fill(Path(tmp), n_incidents, n_audit)
        transport = httpx.ASGITransport(app=create_app(console))
        auth = {"Authorization": f"Bearer {token}"}
        routes = {
            "/healthz (baseline)": ("/healthz", {}),
            "/api/me (token check)": ("/api/me", auth),
            "/api/incidents?limit=100": ("/api/incidents?limit=100", auth),
            "/api/incidents/{fp}": (f"/api/incidents/{fp}", auth),
            "/api/incidents/{fp}/topology": (f"/api/incidents/{fp}/topology", auth),
            "/api/actions?status=proposed": ("/api/actions?status=proposed", auth),
            "/api/audit?limit=100": ("/api/audit?limit=100", auth),
            "/metrics": ("/metrics", auth),
        }
        rows: dict[str, dict[str, float]] = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, (path, headers) in routes.items():
                await _time(client, path, headers, 5)  # warm-up
                samples = sorted(await _time(client, path, headers, repeats))
                rows[name] = {
                    "median_ms": round(statistics.median(samples) * 1e3, 3),
                    "p90_ms": round(samples[int(0.9 * (len(samples) - 1))] * 1e3, 3),
                }
        base = rows["/healthz (baseline)"]["median_ms"]
        for r in rows.values():
            r["x_baseline"] = round(r["median_ms"] / base, 1)
        return {
            "incidents": n_incidents,
            "audit_records": n_audit,
            "repeats": repeats,
            "routes": rows,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--audit", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.incidents, args.audit, args.repeats)), indent=1))


if __name__ == "__main__":
    main()
