"""An incident whose first revision named a root cause no action remedies is decided on
again when a later revision names another root cause; any other decision binds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.config import load_settings
from netvigil.events import AnomalyRef, AuditRecord, Event, Incident, RootCause
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets

T0 = 1_767_571_200.0


class Inline:
    name = "inline"
    runs_inline = True

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        return ExecOutcome(True, f"{action} applied", dry_run)


def _coordinator(tmp: Path) -> tuple[CoordinatorProcessor, str]:
    s = load_settings()
    s.coordinator.phase = "autonomous"  # type: ignore[assignment]
    topo = MemoryTopology()
    load_topology(None, topo)
    coord, _, _, _ = build_coordinator(
        s,
        tmp,
        topo=topo,
        incidents=IncidentStore(tmp / "incidents.db"),
        tickets=LocalTickets(tmp / "tickets.db"),
        audit=AuditLog(tmp / "audit.db"),
        executor=Inline(),
    )
    return coord, sorted(lk.id for lk in topo.links())[0]


def _revision(link: str, rev: int, fault: str) -> Incident:
    a = link.split("--")[0]
    ts = T0 + rev
    return Incident(
        ts=ts,
        fingerprint="fp1",
        status="open",
        revision=rev,
        opened_ts=T0 + 1,
        title=f"link {link} {fault}",
        severity="major",
        root_causes=[RootCause(entity=link, kind="link", score=0.9, fault=fault)],
        anomalies=[
            AnomalyRef(entity=a, signal="routing.ospf", kind="down", score=1, onset_ts=T0 + 1)
        ],
        impact=[a],
    )


def _audited(events: list[Event]) -> list[str]:
    return [
        e.action for e in events if isinstance(e, AuditRecord) and e.action.startswith("action")
    ]


async def test_a_new_root_cause_after_no_remedy_is_decided_on_and_a_decision_binds(
    tmp_path: Path,
) -> None:
    coord, link = _coordinator(tmp_path)
    assert coord.remediator is not None
    # the routing protocol's log came first: no catalog action remedies an adjacency
    first = await coord.process(_revision(link, 1, "adjacency_down"), None)
    assert _audited(list(first)) == ["action.none"]
    # the same revision again, or the same root cause: nothing new is decided
    assert _audited(list(await coord.process(_revision(link, 2, "adjacency_down"), None))) == []
    # the interfaces' state arrived: the link is down, which an interface reset remedies
    second = _audited(list(await coord.process(_revision(link, 3, "down"), None)))
    assert second[0] == "action.decided", second
    actions = [r.action for r in coord.remediator.store.of_incident("fp1")]
    assert actions == ["none", "interface_reset"]
    # a decision that acted binds the incident, whatever a later revision names
    assert _audited(list(await coord.process(_revision(link, 4, "adjacency_down"), None))) == []
    assert len(coord.remediator.store.of_incident("fp1")) == 2
