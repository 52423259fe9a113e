"""The coordinator: incidents in; tickets, actions and audit records out.

For each incident revision it keeps the latest state, opens one ticket per incident (the
fingerprint is the ticket's correlation id, so a redelivered incident never opens a second
ticket), adds a work note when the root cause changes, resolves the ticket with the incident,
and appends every decision to the hash-chained audit log, in an order a crash cannot break
(:mod:`netvigil.resolvers.ticketing`; :meth:`CoordinatorProcessor.recover` at start finishes a
revision a dead process left half-applied). Stale or repeated revisions (at-least-once
delivery, replays) change nothing; they are counted in ``ignored``.

With a :class:`~netvigil.resolvers.remediation.Remediator` it also acts: open incidents wait
in a priority queue (severity x blast radius x confidence) and at most ``max_active`` actions
are in flight; each goes through policy, the twin gate, a lock, the executor (off the loop,
with a deadline) and verification. It reads ``netvigil.samples`` from the sampler
(:mod:`netvigil.resolvers.sampler`): the series it verifies, which it asks for on
``netvigil.watches``, and clock ticks, its event-time clock, on which it also takes up
finished executor calls and polls the ticket system for approvals and human resolutions.

With a :class:`~netvigil.resolvers.prevention.PreventionManager` it also reads
``netvigil.risks`` (predicted harms): they are ticketed and wait in the same queue as
incidents, ordered by severity, impact and time to impact, and a preemptive change is planned
for them. With a :class:`~netvigil.resolvers.feedback.FeedbackLoop` it takes operators'
judgements up on each poll (console, CLI, ticket close codes), and publishes the suppressions
they make on ``netvigil.feedback``; an incident the correlator held back (``suppressed``) is
counted and audited, never opened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from netvigil.events import ActionResult, Event, Incident, Risk, Sample
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.feedback import FeedbackLoop
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.prevention import PreventionManager
from netvigil.resolvers.priority import (
    IncidentQueue,
    blast_radius,
    factors,
    facts_of,
    product,
    score,
)
from netvigil.resolvers.remediation import Remediator
from netvigil.resolvers.ticketing import Ticketing, describe_incident
from netvigil.streams.base import Processor
from netvigil.streams.ignored import Ignored

__all__ = ["CoordinatorProcessor", "describe_incident"]


class CoordinatorProcessor(Processor[None]):
    name = "coordinator"
    inputs: tuple[str, ...] = ("netvigil.incidents",)
    outputs: tuple[str, ...] = ("netvigil.audit",)

    def __init__(
        self,
        incidents: IncidentStore,
        tickets: TicketBackend,
        audit: AuditLog,
        *,
        remediator: Remediator | None = None,
        topo: TopologyStore | None = None,
        max_active: int = 4,
        poll_s: float = 30.0,
        metric_of: Callable[[], dict[str, int]] | None = None,
        prevention: PreventionManager | None = None,
        feedback: FeedbackLoop | None = None,
    ) -> None:
        self.incidents = incidents
        self.tickets = tickets
        self.audit = audit
        self.remediator = remediator
        self.topo = topo
        self.max_active = max_active
        self.poll_s = poll_s
        self.metric_of = metric_of or dict
        self.ignored = Ignored(self.name)
        self.ticketing = Ticketing(incidents, tickets, audit, self.ignored)
        self.prevention = prevention
        self.learning = feedback
        """Operators' judgements and suppressions (``feedback`` is the processor's feedback
        inputs, a different thing)."""
        self.queue = IncidentQueue()
        self.why: dict[str, dict[str, Any]] = {}
        """Queued item -> the factors of its priority (what the decision record shows)."""
        self.now = 0.0
        self._last_poll = 0.0
        if remediator is not None:
            if topo is None:
                raise ValueError("a coordinator that acts needs the topology (topo=)")
            self.inputs = ("netvigil.incidents", "netvigil.samples")
            self.outputs = ("netvigil.audit", "netvigil.actions", "netvigil.watches")
            if prevention is not None:
                self.inputs = (*self.inputs, "netvigil.risks")
        if feedback is not None:
            self.outputs = (*self.outputs, "netvigil.feedback")

    def key(self, event: Event) -> str:
        return "resolver"  # one ordered stream; entity locks guard changes across workers

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if isinstance(event, Sample):
            return self._observed(self._on_sample(event))
        if isinstance(event, Risk):
            return self._observed(self._on_risk(event))
        if not isinstance(event, Incident):
            return []
        if event.suppressed:
            return self.learning.held_back(event) if self.learning is not None else []
        out = list(self._on_incident(event))
        if self.prevention is not None:
            out += self.prevention.on_incident(event)
        if self.remediator is not None:
            out += self._act(event)
        return self._observed(out)

    def _observed(self, out: list[Event]) -> list[Event]:
        """What happened to changes and proposals counts in the domains' track records."""
        if self.prevention is not None:
            self.prevention.observe(out)
        return out

    # ------------------------------------------------------------------ risks

    def _on_risk(self, risk: Risk) -> list[Event]:
        if self.prevention is None:
            return []
        self.now = max(self.now, risk.ts)
        out, why = self.prevention.on_risk(risk)
        if why is not None:
            self.why[risk.risk_id] = why
            self.queue.push(risk.risk_id, product(why), risk.opened_ts)
        elif risk.status != "open":
            self.queue.discard(risk.risk_id)
        return out + self._dispatch(risk.ts)

    # ------------------------------------------------------------------ acting

    def _act(self, inc: Incident) -> list[Event]:
        assert self.remediator is not None and self.topo is not None
        self.now = max(self.now, inc.ts)
        if inc.status == "resolved":
            self.queue.discard(inc.fingerprint)
            return self.remediator.cancel(inc.fingerprint, inc.ts, "the incident resolved")
        if inc.root_cause is None or self.remediator.store.of_incident(inc.fingerprint):
            return []
        radius = blast_radius(self.topo, inc)
        rc = inc.root_cause
        self.why[inc.fingerprint] = {
            **factors(inc.severity, radius, rc.score, services=len(inc.services)),
            "radius": radius,
            "services": len(inc.services),
            "tti_s": 0.0,
        }
        self.queue.push(inc.fingerprint, score(inc, radius), inc.opened_ts)
        return self._dispatch(inc.ts)

    def _active(self) -> int:
        assert self.remediator is not None
        busy = ("waiting", "executing", "verifying", "rolling_back")
        return sum(1 for r in self.remediator.store.open() if r.status in busy)

    def _dispatch(self, ts: float, *, escalate: frozenset[str] = frozenset()) -> list[Event]:
        assert self.remediator is not None and self.topo is not None
        out: list[Event] = []
        while len(self.queue) and self._active() < self.max_active:
            waiting = self.queue.scored()
            fp = self.queue.pop()
            why = self._queue_why(fp, waiting)
            if fp and self.prevention is not None and self.prevention.is_risk(fp):
                out += self.prevention.dispatch(fp, ts, queue=why)
                continue
            got = self.incidents.get(fp) if fp else None
            if got is None or got[0].status != "open":
                continue
            inc = got[0]
            facts = facts_of(self.topo, inc, self.metric_of())
            if facts is None:
                continue
            names = [d for d in entity_devices(facts.target) if self.topo.has(d)]
            devices = [(d, self.topo.device(d).role, self.topo.device(d).site) for d in names]
            rc = inc.root_cause
            out += self.remediator.plan(
                inc.fingerprint,
                facts,
                devices=devices,
                blast_radius=blast_radius(self.topo, inc),
                evidence=list(rc.evidence) if rc else [],
                ts=ts,
                force_level1=inc.fingerprint in escalate,
                queue=why,
            )
        return out

    def _queue_why(self, item: str | None, waiting: list[tuple[str, float]]) -> dict[str, Any]:
        """Why ``item`` goes now: its priority's factors, and what it went before."""
        if item is None:
            return {}
        score_of = dict(waiting)
        return {
            "priority": round(score_of.get(item, 0.0), 4),
            **{k: round(v, 4) for k, v in self.why.pop(item, {}).items()},
            "ahead_of": [
                {"item": other, "priority": round(p, 4)} for other, p in waiting if other != item
            ][:5],
        }

    def _on_sample(self, s: Sample) -> list[Event]:
        if self.remediator is None:
            return []
        if not s.tick:
            self.remediator.on_sample(s)
        if s.ts <= self.now:
            return []
        self.now = s.ts
        out = self.remediator.collect(s.ts) + self.remediator.tick(s.ts)
        escalate = {
            e.request_id.rsplit("-", 1)[0]
            for e in out
            if isinstance(e, ActionResult) and e.outcome in ("rolled_back", "failed")
        }
        for fp in escalate:
            got = self.incidents.get(fp)
            if got is not None and got[0].status == "open":
                self.queue.push(fp, 1e9, got[0].opened_ts)  # escalations go first
        if self.prevention is not None:
            out += self.prevention.tick(s.ts)
        if s.ts - self._last_poll >= self.poll_s:
            self._last_poll = s.ts
            out += self._poll(s.ts)
            out += self._take_feedback(s.ts)
        return out + self._dispatch(s.ts, escalate=frozenset(escalate))

    def _take_feedback(self, ts: float) -> list[Event]:
        if self.learning is None:
            return []
        out, risks = self.learning.take(ts)
        if self.prevention is not None:
            if risks:
                out += self.prevention.on_judgements(risks, ts)
            out += self.prevention.check_records(ts)
        return out

    def _poll(self, ts: float) -> list[Event]:
        assert self.remediator is not None
        out: list[Event] = []
        for upd in self.tickets.sync():
            if upd.kind in ("change_approved", "change_rejected"):
                out += self.remediator.on_approval(
                    upd.correlation_id, upd.kind == "change_approved", upd.note, ts
                )
            else:
                if upd.close_code:
                    self._judged_by_close_code(upd.correlation_id, upd.close_code, upd.note, ts)
                if upd.kind == "incident_judged":
                    continue
                out.append(
                    self.audit.append(
                        ts=ts,
                        actor="human/ticket-system",
                        action="incident.resolved_by_human",
                        subject=upd.correlation_id,
                        detail={"ticket": upd.number, "note": upd.note},
                    )
                )
                out += self.remediator.cancel(upd.correlation_id, ts, "resolved by a human")
        return out

    def _judged_by_close_code(self, incident: str, code: str, who: str, ts: float) -> None:
        """A close code the policy maps to a judgement becomes one (taken on this poll)."""
        if self.learning is None:
            return
        fb = self.learning.policy.feedback
        verdict: Literal["false", "confirmed"]
        if code in fb.false_close_codes:
            verdict = "false"
        elif code in fb.confirm_close_codes:
            verdict = "confirmed"
        else:
            return
        self.learning.store.judge(
            incident,
            "incident",
            verdict,
            actor=who or "human/ticket-system",
            ts=ts,
            reason=f"close code {code!r}",
            source="ticket",
        )

    # ------------------------------------------------------------------ tickets

    def recover(self) -> list[Event]:
        """Finish the incident revision a dead process left half-applied (see
        :mod:`netvigil.resolvers.ticketing`); run once at start, before any event."""
        return list(self.ticketing.recover())

    def _on_incident(self, event: Incident) -> list[Event]:
        return list(self.ticketing.apply(event))
