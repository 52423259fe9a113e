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

An incident is decided on once per root cause: a revision that names another root cause
after "no catalog action remedies it" (the first revision may rest on partial evidence, e.g.
a routing protocol's log of the adjacency before the interface's state arrives) is decided
on again; any other decision binds the incident.

Partitions (``coordinator.partitions``, docs/scale.md "Partitioned coordination"): with one
(the default) every event is keyed ``resolver``, one ordered stream. With N > 1 an incident
goes to partition ``partition_of(fingerprint)``, a risk to ``partition_of(risk_id)`` (a stable
hash), and every sample (clock ticks and watched series) to all N; each partition has its
own :class:`Lane` (queue, clock, poll time). A partition acts only on the changes of its own
incidents and risks (an action's owner is the partition of its ``incident``); the ticket
system and operators' judgements are polled by partition 0 for all. ``max_active`` is global:
every partition counts the busy actions of the shared action store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
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

__all__ = ["KEY", "CoordinatorProcessor", "Lane", "describe_incident", "partition_of"]

KEY = "resolver"
"""The coordinator's one key with one partition; ``resolver-<i>`` with more."""


def partition_of(subject: str, n: int) -> int:
    """The partition, of ``n``, of an incident (its fingerprint) or a risk (its id): a stable
    hash (BLAKE2b), the same in every process and release, unlike :func:`hash`."""
    if n <= 1:
        return 0
    digest = hashlib.blake2b(subject.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def partition_key(index: int, n: int) -> str:
    """The state key of partition ``index`` of ``n``."""
    return KEY if n <= 1 else f"{KEY}-{index}"


@dataclass
class Lane:
    """One partition's part of the coordinator: what waits for an action, its event-time
    clock, when it last polled the ticket system (only partition 0 polls)."""

    index: int
    queue: IncidentQueue = field(default_factory=IncidentQueue)
    why: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Queued item -> the factors of its priority (what the decision record shows)."""
    now: float = 0.0
    last_poll: float = 0.0


class CoordinatorProcessor(Processor[str | None]):
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
        partitions: int = 1,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        self.partitions = partitions
        self.lanes: dict[str, Lane] = {KEY: Lane(0)} if partitions == 1 else {}
        """The partitions this process has seen, by key (with one: ``resolver`` only)."""
        self._lane = Lane(0) if partitions > 1 else self.lanes[KEY]
        """The partition of the event being handled."""
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
        return KEY  # one ordered stream; entity locks guard changes across workers

    def keys(self, event: Event) -> Sequence[str]:
        n = self.partitions
        if n == 1:
            return (KEY,)
        if isinstance(event, Incident):
            return (partition_key(partition_of(event.fingerprint, n), n),)
        if isinstance(event, Risk):
            return (partition_key(partition_of(event.risk_id, n), n),)
        # samples: every partition's clock and verification; anything else goes nowhere
        return tuple(partition_key(i, n) for i in range(n)) if isinstance(event, Sample) else ()

    def new_state(self) -> None:
        return None

    def new_state_for(self, key: str) -> str | None:
        return None if self.partitions == 1 else key

    def lane(self, key: str | None) -> Lane:
        """The partition of state key ``key`` (None: the one partition)."""
        if key is None:
            return self.lanes[KEY]
        got = self.lanes.get(key)
        if got is None:
            # a key of another partition count (records re-keyed before it changed) is
            # refused: its events become dead letters rather than going to a wrong owner
            index = {partition_key(i, self.partitions): i for i in range(self.partitions)}
            if key not in index:
                raise ValueError(f"no coordinator partition {key!r} of {self.partitions}")
            got = self.lanes[key] = Lane(index[key])
        return got

    def _owns(self, subject: str) -> bool:
        """Whether the partition being handled owns an incident or risk (and its changes)."""
        return partition_of(subject, self.partitions) == self._lane.index

    @property
    def _owner(self) -> Callable[[str], bool] | None:
        """What the remediator and prevention are told they own (None: everything)."""
        return None if self.partitions == 1 else self._owns

    # the partition being handled's state, under the names it had before partitions
    @property
    def queue(self) -> IncidentQueue:
        return self._lane.queue

    @property
    def why(self) -> dict[str, dict[str, Any]]:
        return self._lane.why

    @property
    def now(self) -> float:
        return self._lane.now

    @now.setter
    def now(self, value: float) -> None:
        self._lane.now = value

    async def process(self, event: Event, state: str | None) -> Sequence[Event]:
        self._lane = self.lane(state)
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
        if inc.root_cause is None or self._decided(inc):
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

    def _decided(self, inc: Incident) -> bool:
        """Whether the incident's current root cause was decided on (see the module
        docstring): a refusal for want of an action binds only the root cause it judged."""
        assert self.remediator is not None and inc.root_cause is not None
        rc = inc.root_cause
        return any(
            r.action != "none"
            or (r.facts.get("target"), r.facts.get("fault")) == (rc.entity, rc.fault)
            for r in self.remediator.store.of_incident(inc.fingerprint)
        )

    def _active(self) -> int:
        assert self.remediator is not None
        busy = ("waiting", "executing", "verifying", "rolling_back")
        return sum(1 for r in self.remediator.store.open() if r.status in busy)

    def _escalate(self, out: list[Event]) -> set[str]:
        """The open incidents whose change failed in ``out`` (rolled back, or timed out):
        queued first, to be decided on again at level 1 (a human decides)."""
        failed = {
            e.request_id.rsplit("-", 1)[0]
            for e in out
            if isinstance(e, ActionResult) and e.outcome in ("rolled_back", "failed")
        }
        for fp in failed:
            got = self.incidents.get(fp)
            if got is not None and got[0].status == "open":
                self.queue.push(fp, 1e9, got[0].opened_ts)  # escalations go first
        return failed

    def _dispatch(self, ts: float, *, escalate: Collection[str] = ()) -> list[Event]:
        """Start actions for what waits, best first, while fewer than ``max_active`` are
        busy; a change that fails at once (the executor runs inline) is escalated as one
        that fails later is (:meth:`_escalate`)."""
        assert self.remediator is not None and self.topo is not None
        out: list[Event] = []
        escalate = set(escalate)
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
            planned = self.remediator.plan(
                inc.fingerprint,
                facts,
                devices=devices,
                blast_radius=blast_radius(self.topo, inc),
                evidence=list(rc.evidence) if rc else [],
                ts=ts,
                force_level1=inc.fingerprint in escalate,
                queue=why,
            )
            if inc.fingerprint not in escalate:  # an escalation is not escalated again
                escalate |= self._escalate(planned)
            out += planned
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
        owns = self._owner
        out = self.remediator.collect(s.ts, owns=owns) + self.remediator.tick(s.ts, owns=owns)
        escalate = self._escalate(out)
        if self.prevention is not None:
            out += self.prevention.tick(s.ts, owns=owns)
        lane = self._lane
        if lane.index == 0 and s.ts - lane.last_poll >= self.poll_s:  # global: partition 0
            lane.last_poll = s.ts
            out += self._poll(s.ts)
            out += self._take_feedback(s.ts)
        return out + self._dispatch(s.ts, escalate=escalate)

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
        owns = self._owner
        for upd in self.tickets.sync():
            if upd.kind in ("change_approved", "change_rejected"):
                out += self.remediator.on_approval(
                    upd.correlation_id, upd.kind == "change_approved", upd.note, ts, owns=owns
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
