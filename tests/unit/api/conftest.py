"""A console over real stores (SQLite in a temp dir, the demo backbone) and three tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from netvigil.api.app import Console, create_app
from netvigil.api.auth import FailureLimiter, TokenStore
from netvigil.events import AnomalyRef, Incident, RootCause
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from tests.unit.api.fakes import MemoryActionQueue, MemoryBreaker, MemoryPolicy

T0 = 1_767_571_200.0


def make_incident(fp: str, target: str, fault: str = "down", status: str = "open") -> Incident:
    return Incident(
        ts=T0 + 60,
        fingerprint=fp,
        status=status,  # type: ignore[arg-type]
        revision=1,
        opened_ts=T0,
        title=f"link {target} {fault}",
        severity="major",
        root_causes=[
            RootCause(entity=target, kind="link", score=0.8, fault=fault, evidence=["e1 (1.00)"]),
            RootCause(entity=target.split("--")[0], kind="device", score=0.4, fault=fault),
        ],
        anomalies=[
            AnomalyRef(entity=target, signal="oper_status", kind="down", score=1.0, onset_ts=T0),
            AnomalyRef(
                entity=target.split("--")[0],
                signal="cpu",
                kind="deviation",
                score=0.5,
                onset_ts=T0 + 20,
            ),
        ],
    )


@dataclass
class Env:
    console: Console
    client: httpx.AsyncClient
    tokens: dict[str, str]
    actions: MemoryActionQueue
    token_file: Path

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    topo = MemoryTopology()
    load_topology(None, topo)
    link = sorted(lk.id for lk in topo.links())[0]
    audit = AuditLog(tmp_path / "audit.db")
    incidents = IncidentStore(tmp_path / "incidents.db")
    tickets = LocalTickets(tmp_path / "tickets.db")
    actions = MemoryActionQueue(audit)
    breaker = MemoryBreaker(audit)
    actions.breaker = breaker
    for fp, fault in (("aaaa000000000001", "down"), ("aaaa000000000002", "congestion")):
        inc = make_incident(fp, link, fault)
        t = tickets.open(fp, inc.title, "x", severity="major", ts=inc.ts)
        incidents.put(inc, t.number)
        actions.propose(inc)
    store = TokenStore(tmp_path / "tokens.json")
    toks = {}
    for name, role in (
        ("vera", "viewer"),
        ("otto", "operator"),
        ("olga", "operator"),
        ("ada", "admin"),
    ):
        toks[name] = store.create(role, name)[1]
    console = Console(
        incidents=incidents,
        audit=audit,
        topology=topo,
        tickets=tickets,
        actions=actions,
        breaker=breaker,
        policy=MemoryPolicy(audit),
        tokens=store,
        limiter=FailureLimiter(limit=5, window_s=60),
    )
    transport = httpx.ASGITransport(app=create_app(console))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield Env(console, client, toks, actions, tmp_path / "tokens.json")
    for c in (audit, incidents, tickets):
        c.close()
