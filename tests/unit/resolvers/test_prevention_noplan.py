"""A risk no change was made for (no plan passed the twin) that never comes true is a false
prediction all the same: it counts against the domain's prediction precision, marked apart
(``false_no_change``) from a false prediction whose change ran and was withdrawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.config import load_settings
from netvigil.events import AuditRecord, Event, Risk, Sample
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.resolvers.catalog import ActionSpec, Facts
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.twin.foresight import Outlook

T0 = 1_767_571_200.0


class Recorder:
    name = "recorder"
    runs_inline = True

    def __init__(self) -> None:
        self.calls: list[str] = []

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        self.calls.append(action)
        return ExecOutcome(True, "recorded", dry_run)


class Refuse:
    """The twin refuses every candidate (a detour with no room to steer into)."""

    def judge(
        self, spec: ActionSpec, facts: Facts, ops: list[Op], outlook: Outlook, **kw: float
    ) -> tuple[bool, list[str], dict[str, Any]]:
        return False, ["would overload another link"], {}

    def without(self, spec: ActionSpec, facts: Facts, ops: list[Op], t: float) -> float | None:
        return 0.5


def risk(kind: str) -> Risk:
    signal = "if.in_errors" if kind == "link_errors" else "if.out_util"
    return Risk(
        ts=T0,
        risk_id=f"risk-{kind}",
        status="open",
        revision=1,
        kind=kind,  # type: ignore[arg-type]
        device="edge1",
        entity="edge1:Ethernet0",
        signal=signal,
        opened_ts=T0,
        predicted_ts=T0 + 2700,
        confidence=0.9,
        threshold=0.001 if kind == "link_errors" else 0.9,
        level=0.0004 if kind == "link_errors" else 0.5,
        trend_per_s=1e-7 if kind == "link_errors" else 0.00015,
    )


async def test_a_false_prediction_with_no_change_counts_marked_apart(tmp_path: Path) -> None:
    s = load_settings()
    s.coordinator.phase = "autonomous"  # type: ignore[assignment]
    topo = MemoryTopology()
    load_topology(None, topo)
    executor = Recorder()
    coord, _, _, _ = build_coordinator(
        s,
        tmp_path,
        topo=topo,
        incidents=IncidentStore(tmp_path / "incidents.db"),
        tickets=LocalTickets(tmp_path / "tickets.db"),
        audit=AuditLog(tmp_path / "audit.db"),
        executor=executor,
    )
    assert isinstance(coord, CoordinatorProcessor) and coord.prevention is not None
    prev = coord.prevention
    prev.foresight = Refuse()
    out: list[Event] = []
    ticks = [Sample(ts=T0 + 30, device="core1")]
    ticks.append(Sample(ts=T0 + 2700 + prev.policy.prevention.hold_s + 60, device="core1"))
    for e in [risk("congestion"), risk("link_errors"), *ticks]:
        out += await coord.process(e, None)
    trail = [(e.subject, e.action) for e in out if isinstance(e, AuditRecord)]
    for kind in ("congestion", "link_errors"):
        rr = prev.store.get(f"risk-{kind}")
        assert rr is not None and rr.outcome == "false"
        assert (f"risk-{kind}", "risk.no_plan") in trail
        falsified = next(
            e
            for e in out
            if isinstance(e, AuditRecord)
            and e.action == "risk.false"
            and e.subject == f"risk-{kind}"
        )
        assert falsified.detail["change_made"] is False
    assert executor.calls == []  # nothing ran
    record = prev.record.of("all")
    assert record.judged("prediction") == 2 and record.rate("prediction") == 0.0
    for kind in ("congestion", "link_errors"):
        assert prev.record.detail("prediction", f"risk-{kind}") == "false_no_change"
