"""Operators' feedback reaches the analytics through the coordinator: judgements from the
console's store or from ticket close codes count in the track record and make a suppression,
published once to the correlator; incidents held back are counted and audited, never opened;
a lift is published too."""

from __future__ import annotations

from pathlib import Path

from netvigil.config import load_settings
from netvigil.events import AnomalyRef, AuditRecord, Event, Feedback, Incident, RootCause, Sample
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import PreventionParts, build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets

DAY = 86400.0
T0 = 30 * DAY + 3 * 3600


def burst_incident(fp: str, ts: float, suppressed: str = "") -> Incident:
    return Incident(
        ts=ts,
        fingerprint=fp,
        status="open",
        revision=1,
        opened_ts=ts,
        title="link core1--edge1 congestion",
        severity="minor",
        root_causes=[RootCause(entity="core1--edge1", kind="link", score=0.9, fault="congestion")],
        anomalies=[
            AnomalyRef(
                entity="edge1:Ethernet0",
                signal="if.out_util",
                kind="threshold",
                score=1,
                onset_ts=ts,
            )
        ],
        suppressed=suppressed,
    )


def build(tmp: Path) -> tuple[CoordinatorProcessor, LocalTickets, AuditLog, PreventionParts]:
    s = load_settings()
    topo = MemoryTopology()
    load_topology(None, topo)
    tickets, audit = LocalTickets(tmp / "tickets.db"), AuditLog(tmp / "audit.db")
    coord, _, _, parts = build_coordinator(
        s,
        tmp,
        topo=topo,
        incidents=IncidentStore(tmp / "incidents.db"),
        tickets=tickets,
        audit=audit,
    )
    return coord, tickets, audit, parts


async def poll(coord: CoordinatorProcessor, ts: float) -> list[Event]:
    return list(await coord.process(Sample(ts=ts, device="core1"), None))


def actions(events: list[Event]) -> list[str]:
    return [e.action for e in events if isinstance(e, AuditRecord)]


async def test_a_false_judgement_suppresses_its_pattern_once_and_counts(tmp_path: Path) -> None:
    coord, tickets, audit, parts = build(tmp_path)
    assert "netvigil.feedback" in coord.outputs
    await coord.process(burst_incident("fp1", T0), None)
    parts.feedback.judge("fp1", "incident", "false", actor="alice", ts=T0 + 60, reason="backup")
    out = await poll(coord, T0 + 600)
    assert actions(out) == ["feedback.judged", "suppression.made"]
    (fb,) = [e for e in out if isinstance(e, Feedback)]
    assert fb.verdict == "suppress" and fb.pattern is not None
    assert (fb.pattern.entity, fb.pattern.kind) == ("edge1:Ethernet0", "threshold")
    assert parts.record.of("all").rate("incident") == 0.0
    assert not [e for e in await poll(coord, T0 + 1200) if isinstance(e, Feedback)]  # once
    # the next day the correlator holds the pattern back: nothing opens, it is counted once
    held = burst_incident("fp2", T0 + DAY, suppressed=fb.suppression)
    assert actions(list(await coord.process(held, None))) == ["incident.suppressed"]
    assert list(await coord.process(held, None)) == []
    assert tickets.find("fp2") is None
    (sup,) = parts.feedback.suppressions()
    assert sup.hits == 1 and sup.actor == "alice" and sup.active
    # lifting it is published to the correlator on the next poll
    parts.feedback.lift(sup.id, actor="bob", reason="the backup moved", ts=T0 + DAY + 100)
    (lift,) = [e for e in await poll(coord, T0 + DAY + 600) if isinstance(e, Feedback)]
    assert (lift.verdict, lift.suppression, lift.actor) == ("lift", sup.id, "bob")
    assert audit.verify().ok


async def test_a_confirmation_suppresses_nothing_and_raises_precision(tmp_path: Path) -> None:
    coord, _, _, parts = build(tmp_path)
    await coord.process(burst_incident("fp1", T0), None)
    parts.feedback.judge("fp1", "incident", "confirmed", actor="alice", ts=T0 + 60)
    out = await poll(coord, T0 + 600)
    assert actions(out) == ["feedback.judged"] and not parts.feedback.suppressions()
    assert parts.record.of("all").rate("incident") == 1.0


async def test_a_close_code_in_the_ticket_system_is_a_judgement(tmp_path: Path) -> None:
    coord, tickets, _, parts = build(tmp_path)
    await coord.process(burst_incident("fp1", T0), None)
    tickets.resolve_by_human("fp1", "carol", close_code="False positive")
    out = await poll(coord, T0 + 600)
    assert "incident.resolved_by_human" in actions(out)
    out += await poll(coord, T0 + 1200)  # taken up on the poll after it was read
    (j,) = parts.feedback.judgements(subject="fp1")
    assert (j.verdict, j.source, j.actor) == ("false", "ticket", "carol")
    assert [e for e in out if isinstance(e, Feedback)]
    # a judgement after the fact (a code set on an incident NetVigil resolved) counts too
    await coord.process(burst_incident("fp3", T0 + 2000), None)
    tickets.judge_by_human("fp3", "dave", "Solved (Permanently)")
    await poll(coord, T0 + 2400)
    (j3,) = parts.feedback.judgements(subject="fp3")
    assert j3.verdict == "confirmed" and j3.source == "ticket"


async def test_a_restarted_coordinator_publishes_active_suppressions_again(
    tmp_path: Path,
) -> None:
    coord, _, _, parts = build(tmp_path)
    await coord.process(burst_incident("fp1", T0), None)
    parts.feedback.judge("fp1", "incident", "false", actor="alice", ts=T0 + 60)
    first = [e for e in await poll(coord, T0 + 600) if isinstance(e, Feedback)]
    assert len(first) == 1
    parts.close()
    again, _, _, _ = build(tmp_path)  # a new process over the same data directory
    (back,) = [e for e in await poll(again, T0 + 1200) if isinstance(e, Feedback)]
    assert (back.suppression, back.verdict) == (first[0].suppression, "suppress")
