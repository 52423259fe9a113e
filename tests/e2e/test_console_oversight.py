"""One oversight path: the console over a running service acts through the resolvers' own
objects, for the local and the ServiceNow (emulator) ticket backends.

- A breaker tripped through the console API stops the remediator's next autonomous action.
- A change approved through the console API is approved in the ticket system, and then runs.
- The actions the console proposes are the remediator's, and only those.

Each run is the embedded pipeline on the twin (as fast as it goes); the console is driven over
HTTP (FastAPI through an ASGI transport, in the service's own loop) from a twin step hook, so
every request happens at a known point of simulated time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from netvigil.api.app import create_app
from netvigil.api.server import build_console
from netvigil.config import Settings, load_settings
from netvigil.resolvers.tickets.emulator.server import EmulatorServer
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets
from netvigil.service import Service
from netvigil.streams.base import Emit

pytestmark = pytest.mark.e2e


@dataclass
class Backend:
    name: str
    server: EmulatorServer | None

    def configure(self, s: Settings) -> None:
        if self.server is not None:
            s.tickets.url = f"servicenow://127.0.0.1:{self.server.port}?tls=0"
            s.tickets.user = "netvigil"
            s.tickets.password = "netvigil"  # type: ignore[assignment]

    def settle(self, svc: Service) -> None:
        """Wait until the ticket system has every operation and was polled once."""
        if isinstance(svc.tickets, ServiceNowTickets):
            svc.tickets.flush(30)


@pytest.fixture(params=["local", "servicenow"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "local":
        yield Backend("local", None)
        return
    server = EmulatorServer().start()
    try:
        yield Backend("servicenow", server)
    finally:
        server.stop()


class Console:
    """An operator's and an admin's HTTP session on the console of ``svc``."""

    def __init__(self, svc: Service) -> None:
        console = build_console(svc)
        self.operator = {"Authorization": f"Bearer {console.tokens.create('operator', 'otto')[1]}"}
        transport = httpx.ASGITransport(app=create_app(console))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://console")

    async def post(self, path: str, body: dict[str, str]) -> httpx.Response:
        r = await self.http.post(path, json=body, headers=self.operator)
        assert r.status_code == 200, r.text
        return r

    async def get(self, path: str) -> list[dict[str, object]]:
        r = await self.http.get(path, headers=self.operator)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _service(tmp: Path, backend: Backend, *, phase: str, kind: str, faults: int) -> Service:
    s = load_settings()
    backend.configure(s)
    s.coordinator.phase = phase  # type: ignore[assignment]
    s.coordinator.poll_s = 10.0
    s.twin.fault_kinds = [kind]  # type: ignore[assignment]
    return Service.build(s, twin=Service.plan_twin(s, fault_count=faults, speed=0.0), data_dir=tmp)


def _proposals(svc: Service) -> set[tuple[object, ...]]:
    """The remediator's actions (a refusal without an action is not one)."""
    return {(r.request_id, r.action, r.target) for r in svc.actions.all() if r.action != "none"}


def _decisions(svc: Service) -> list[dict[str, object]]:
    return [r.detail for r in svc.audit.records() if r.action == "action.decided"]


async def test_a_breaker_tripped_in_the_console_stops_the_next_autonomous_action(
    tmp_path: Path, backend: Backend
) -> None:
    """Two congestions at phase semi-autonomous: the first one's QoS change runs on its own;
    the operator then trips the breaker in the console; the second one's is only proposed."""
    svc = _service(tmp_path, backend, phase="semi-autonomous", kind="congestion", faults=2)
    assert svc.twin is not None
    console = Console(svc)
    tripped: list[float] = []

    async def trip_after_the_first_change(t: float, emit: Emit) -> None:
        if not tripped and any(r.status == "verified" for r in svc.actions.all()):
            state = await console.post("/api/breaker/trip", {"reason": "change freeze"})
            assert state.json()["open"] is True
            tripped.append(t)

    svc.twin.async_step_hooks.append(trip_after_the_first_change)
    await svc.run()
    backend.settle(svc)

    assert tripped, "the first change never completed"
    first, second = _decisions(svc)
    assert first["level"] == 2
    assert second["level"] == 1  # the breaker capped it to a proposal
    assert any("change freeze" in str(w) and "otto" in str(w) for w in second["why"])  # type: ignore[attr-defined]
    executed = [r for r in svc.audit.records() if r.action == "action.executed"]
    assert len(executed) == 1 and executed[0].ts < tripped[0]
    assert svc.autonomy.status("global").open
    assert svc.audit.verify().ok
    await console.http.aclose()
    svc.close()


async def test_a_change_approved_in_the_console_is_approved_in_the_ticket_system_and_runs(
    tmp_path: Path, backend: Backend
) -> None:
    """A link down at phase passive: the remediator proposes; the console shows exactly the
    remediator's proposals; the operator approves there; the ticket system holds the approval;
    the coordinator picks it up, executes and verifies the change."""
    svc = _service(tmp_path, backend, phase="passive", kind="link_down", faults=1)
    assert svc.twin is not None
    console = Console(svc)
    approved: list[str] = []

    async def approve_what_the_console_proposes(t: float, emit: Emit) -> None:
        before = _proposals(svc)
        shown = await console.get("/api/actions")  # the pipeline may move on meanwhile
        assert before <= {(a["request_id"], a["action"], a["target"]) for a in shown}
        assert {(a["request_id"], a["action"], a["target"]) for a in shown} <= _proposals(svc)
        for a in shown:
            if a["status"] == "proposed" and a["request_id"] not in approved:
                rid = str(a["request_id"])
                r = await console.post(f"/api/actions/{rid}/approve", {"reason": "go"})
                assert r.json()["status"] == "approved"
                approved.append(rid)
                backend.settle(svc)  # the approval reached the ticket system and came back

    svc.twin.async_step_hooks.append(approve_what_the_console_proposes)
    await svc.run()
    backend.settle(svc)

    assert len(approved) == 1
    acts = [r.action for r in svc.audit.records()]
    assert {"console.approved", "action.approved", "action.executed", "action.verified"} <= set(
        acts
    )
    assert acts.index("console.approved") < acts.index("action.approved")
    approval = next(r for r in svc.audit.records() if r.action == "action.approved")
    assert approval.detail["approval"] == "approved by otto"
    (rec,) = [r for r in svc.actions.all() if r.request_id == approved[0]]
    assert rec.status == "verified"
    if backend.server is not None:  # ServiceNow holds the decision, on its approval record
        tables = backend.server.state.tables
        (chg,) = tables["change_request"].values()
        (vote,) = tables["sysapproval_approver"].values()
        assert chg["approval"] == "approved" and vote["sysapproval"] == chg["sys_id"]
        assert vote["state"] == "approved"
        notes = backend.server.state.journal(chg["sys_id"])
        assert any("Approved by otto through NetVigil" in n for n in notes)
    assert svc.audit.verify().ok
    await console.http.aclose()
    svc.close()
