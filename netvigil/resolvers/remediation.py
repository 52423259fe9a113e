"""The closed loop of one action: decide, (validate,) lock, execute, verify, roll back, escalate.

Every step is a decision written to the audit log with who or what decided, why, the policy
rule, the evidence, the approval and the result, and every step that changes something shows
on the incident's ticket and its change request. Actions live in SQLite (``actions.db``) so a
restart finds proposals still awaiting approval and changes still being verified.

Executors that talk to devices run off the event loop (:mod:`netvigil.resolvers.calls`):
an action is ``executing`` (or ``rolling_back``) until its call returns, and a call that has
not returned by its deadline (``timeout_s``) fails the action as ``timed_out``: the change may
be partly applied, so the target's lock is kept until its lease expires and a human decides.
An action found ``executing`` after a restart has the same fate (its outcome is unknown).

Verification runs on event time: the KPI the catalog names must hold on every watched series
in samples taken after the change took effect (the executor's ``applied_ts`` where the
network's clock runs ahead of the pipeline's), before ``within_s`` more seconds have passed.
The series come from the sampler (:mod:`netvigil.resolvers.sampler`), asked for by
:class:`~netvigil.events.Watch` events. Otherwise the change is rolled back, the failure is
counted (it may trip the domain's breaker or its fallback to passive), and the incident is
escalated to level 1: a human decides.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from netvigil.events import ActionRequest, ActionResult, Event, Sample, Watch
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Executor, Lease, LockManager, Op, TicketBackend
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.calls import Calls
from netvigil.resolvers.catalog import ActionSpec, Catalog, Facts
from netvigil.resolvers.policy import Policy
from netvigil.resolvers.sqlitedb import connect

__all__ = ["ActionRecord", "ActionStore", "Owns", "Remediator", "Validator"]

ACTOR = "netvigil/resolver"

Owns = Callable[[str], bool]
"""Whether an incident's or a risk's actions are this caller's (a coordinator partition)."""

Validator = Callable[[ActionSpec, Facts, list[Any], float], tuple[bool, list[str], dict[str, Any]]]
"""(action, facts, ops, t) -> (ok, reasons, numbers): the twin's what-if gate."""


@dataclass
class ActionRecord:
    request_id: str
    incident: str
    action: str
    target: str
    level: int
    domain: str
    rule: str
    status: str
    params: dict[str, Any]
    facts: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    change: str = ""
    created_ts: float = 0.0
    executed_ts: float = 0.0
    deadline: float = 0.0
    lease: dict[str, Any] | None = None
    verdict: dict[str, Any] = field(default_factory=dict)
    escalated: bool = False
    """Decided at level 1 because an earlier change for the same incident failed."""
    failure: str = ""
    """Why a verification or an execution failed (kept while the rollback runs)."""
    preemptive: dict[str, Any] = field(default_factory=dict)
    """For a change made before a predicted harm (:mod:`netvigil.resolvers.prevention`): the
    risk, its deadline, the forecast and the verdict that justified it; ``withdrawn`` once it
    was rolled back because the prediction did not come true."""

    @property
    def done(self) -> bool:
        return self.status in {
            "verified",
            "rolled_back",
            "timed_out",
            "refused",
            "rejected",
            "cancelled",
            "dry_run",
        }


def _lease(got: Lease) -> dict[str, Any]:
    """A lease as the action record keeps it."""
    return {
        "entities": list(got.entities),
        "holder": got.holder,
        "token": got.token,
        "expires": got.expires,
    }


def _deadline(rec: ActionRecord) -> str:
    """``; saturation expected 14:38 UTC; approve by 14:20 UTC`` for a preemptive change."""
    p = rec.preemptive
    if not p.get("deadline"):
        return ""

    def hhmm(ts: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))

    text = f"; {p.get('what', 'harm')} expected {hhmm(float(p['deadline']))}"
    if rec.level == 1 and p.get("approve_by"):
        text += f"; approve by {hhmm(float(p['approve_by']))}"
    return text


class ActionStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path, wal=True)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS actions (request_id TEXT PRIMARY KEY, incident TEXT,"
            " status TEXT, body TEXT)"
        )

    def put(self, rec: ActionRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?)",
            (rec.request_id, rec.incident, rec.status, msgspec.json.encode(asdict(rec)).decode()),
        )

    def _load(self, rows: list[tuple[str]]) -> list[ActionRecord]:
        return [ActionRecord(**msgspec.json.decode(r[0])) for r in rows]

    def of_incident(self, incident: str) -> list[ActionRecord]:
        rows = self._db.execute(
            "SELECT body FROM actions WHERE incident = ? ORDER BY rowid", (incident,)
        ).fetchall()
        return self._load(rows)

    def open(self) -> list[ActionRecord]:
        rows = self._db.execute(
            "SELECT body FROM actions WHERE status IN ('waiting', 'awaiting_approval',"
            " 'approved', 'executing', 'verifying', 'rolling_back') ORDER BY rowid"
        ).fetchall()
        return self._load(rows)

    def get(self, request_id: str) -> ActionRecord | None:
        row = self._db.execute(
            "SELECT body FROM actions WHERE request_id = ?", (request_id,)
        ).fetchone()
        return self._load([row])[0] if row else None

    def all(self) -> list[ActionRecord]:
        return self._load(self._db.execute("SELECT body FROM actions ORDER BY rowid").fetchall())

    def by_change(self, change: str) -> ActionRecord | None:
        for rec in self.open():
            if rec.change == change:
                return rec
        return None

    def close(self) -> None:
        self._db.close()


class Remediator:
    """Runs actions through their life; every method returns the events to publish."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        policy: Policy,
        executor: Executor,
        locks: LockManager,
        autonomy: AutonomyState,
        tickets: TicketBackend,
        audit: AuditLog,
        store: ActionStore,
        validator: Validator | None = None,
        dry_run: bool = False,
        lock_ttl_s: float = 600.0,
        lock_wait_s: float = 300.0,
        timeout_s: float = 120.0,
        calls: Calls | None = None,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.executor = executor
        self.locks = locks
        self.autonomy = autonomy
        self.tickets = tickets
        self.audit = audit
        self.store = store
        self.validator = validator
        self.dry_run = dry_run
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s
        self.timeout_s = timeout_s
        self.calls = calls or Calls()
        self.latest: dict[tuple[str, str, str], tuple[float, float]] = {}
        """(device, kpi, interface) -> (ts, value) of watched series"""
        self.watched: set[tuple[str, str, str]] = set()

    # ------------------------------------------------------------------ helpers

    def _audit(self, rec: ActionRecord, what: str, ts: float, **detail: Any) -> Event:
        return self.audit.append(
            ts=ts,
            actor=detail.pop("actor", ACTOR),
            action=what,
            subject=rec.incident,
            detail={
                "request_id": rec.request_id,
                "action": rec.action,
                "target": rec.target,
                "level": rec.level,
                "rule": rec.rule,
                "domain": rec.domain,
                **detail,
            },
        )

    def _request(self, rec: ActionRecord, status: str, ts: float, reason: str = "") -> Event:
        return ActionRequest(
            ts=ts,
            request_id=rec.request_id,
            incident=rec.incident,
            action=rec.action,
            target=rec.target,
            level=rec.level,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            params={k: v for k, v in rec.params.items() if isinstance(v, int | float | str)},
            reason=reason or "; ".join(rec.reasons),
        )

    def _result(self, rec: ActionRecord, outcome: str, ts: float, detail: str) -> Event:
        return ActionResult(
            ts=ts,
            request_id=rec.request_id,
            action=rec.action,
            target=rec.target,
            outcome=outcome,  # type: ignore[arg-type]
            detail=detail,
        )

    def _note(self, rec: ActionRecord, text: str, ts: float) -> None:
        ticket = self.tickets.find(rec.incident)
        if ticket is not None:
            self.tickets.add_note(ticket, text, ts=ts)

    def _facts(self, rec: ActionRecord) -> Facts:
        d = dict(rec.facts)
        d["unreachable"] = frozenset(d.get("unreachable", ()))
        return Facts(**d)

    def _change(self, rec: ActionRecord, state: str, note: str, ts: float) -> None:
        change = self.tickets.find_change(rec.change) if rec.change else None
        if change is not None:
            self.tickets.update_change(change, state, note, ts=ts)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        incident: str,
        facts: Facts,
        *,
        devices: list[tuple[str, str, str]],
        blast_radius: int,
        evidence: list[str],
        ts: float,
        force_level1: bool = False,
        queue: dict[str, Any] | None = None,
    ) -> list[Event]:
        """Choose an action for the incident's root cause and start it per policy;
        ``queue`` says why it was taken from the queue now (its priority and what waits)."""
        kind = "link" if "--" in facts.target else "device"
        candidates = [s for s in self.catalog.for_fault(kind, facts.fault) if not s.unmet(facts)]
        if not candidates:
            unmet = [u for s in self.catalog.for_fault(kind, facts.fault) for u in s.unmet(facts)]
            why = "; ".join(unmet) or f"no catalog action remedies {facts.fault} on a {kind}"
            rec = self.new_record(incident, "none", facts, 1, "", "", ts)
            rec.status, rec.reasons = "refused", [why]
            self.store.put(rec)
            self._note(rec, f"No automatic remediation: {why}. A human must act.", ts)
            return [self._request(rec, "refused", ts), self._audit(rec, "action.none", ts, why=why)]
        from netvigil.resolvers.policy import decide

        since = ts - 3600
        options = []
        for spec in candidates:
            dom = self.policy.domain_of(*devices[0]) if devices else ""
            d = decide(
                self.policy,
                action=spec.name,
                risk=spec.risk,
                reversible=spec.reversible,
                devices=devices,
                blast_radius=blast_radius,
                ts=ts,
                changes_last_hour=self.autonomy.changes_since(dom, since),
                breaker_open=self.autonomy.open_reason(dom),
                phase_override=self.autonomy.fallback(dom),
                phase_set=self.autonomy.phase(dom),
            )
            if force_level1:  # a human decides, whatever the policy would have let run
                d = type(d)(1, False, d.domain, d.rule, [*d.reasons, "escalated: a human decides"])
            options.append((d.level == 1, spec, d))
        _, spec, decision = min(options, key=lambda o: o[0])  # autonomous first, then low risk
        rec = self.new_record(
            incident, spec.name, facts, decision.level, decision.domain, decision.rule, ts
        )
        rec.params = spec.params()
        rec.reasons = list(decision.reasons)
        rec.escalated = force_level1
        events: list[Event] = [
            self._audit(
                rec,
                "action.decided",
                ts,
                why=decision.reasons,
                evidence=evidence,
                blast_radius=blast_radius,
                autonomous=decision.autonomous,
                **({"queue": queue} if queue else {}),
            )
        ]
        ops = spec.render(facts, rec.params)
        if decision.level >= 2 and decision.twin_validation and self.validator is not None:
            ok, refusals, numbers = self.validator(spec, facts, ops, ts)
            rec.verdict = {"ok": ok, "reasons": refusals, **numbers}
            events.append(self._audit(rec, "action.validated", ts, verdict=rec.verdict))
            if not ok:
                rec.level = 1
                rec.reasons.append("twin refused: " + "; ".join(refusals))
        return events + self.launch(rec, spec, facts, ops, ts)

    def launch(
        self, rec: ActionRecord, spec: ActionSpec, facts: Facts, ops: list[Op], ts: float
    ) -> list[Event]:
        """File the change request for a decided action and start it: a level-1 proposal
        waits for a human (a normal change); levels 2 and 3 run now (a standard change)."""
        events: list[Event] = []
        incident = rec.incident
        title = f"NetVigil {spec.name} on {facts.target}"
        if rec.preemptive:
            title = f"NetVigil preemptive {spec.name} on {facts.target}"
        description = self._describe(rec, spec, ops)
        devs = sorted({o.device for o in ops} or {facts.a})
        # level 1 waits for a human (a normal change); levels 2 and 3 are pre-approved (standard)
        change = self.tickets.open_change(
            rec.request_id,
            incident=incident,
            kind="normal" if rec.level == 1 else "standard",
            title=title,
            description=description,
            devices=devs,
            ts=ts,
        )
        if rec.level == 1:
            rec.change, rec.status = rec.request_id, "awaiting_approval"
            self.store.put(rec)
            self._note(
                rec,
                f"Proposed {spec.name} on {facts.target} as change {change.number}; "
                f"awaiting approval{_deadline(rec)}. {'; '.join(rec.reasons)}",
                ts,
            )
            events += [
                self._request(rec, "proposed", ts),
                self._audit(
                    rec,
                    "action.proposed",
                    ts,
                    change=change.number,
                    approval="awaiting a human (normal change)",
                ),
            ]
            return events
        rec.change, rec.status = rec.request_id, "approved"
        self.store.put(rec)
        events += [
            self._request(rec, "approved", ts),
            self._audit(
                rec,
                "action.approved",
                ts,
                change=change.number,
                approval=f"pre-approved by policy {rec.rule} (standard change)",
            ),
        ]
        return events + self.execute(rec, ts)

    def new_record(
        self,
        incident: str,
        action: str,
        facts: Facts,
        level: int,
        domain: str,
        rule: str,
        ts: float,
    ) -> ActionRecord:
        """A new action record (not stored yet) for ``incident`` (or a risk)."""
        f = asdict(facts)
        f["unreachable"] = sorted(facts.unreachable)
        return ActionRecord(
            request_id=f"{incident}-{uuid.uuid4().hex[:8]}",
            incident=incident,
            action=action,
            target=facts.target,
            level=level,
            domain=domain,
            rule=rule,
            status="new",
            params={},
            facts=f,
            created_ts=ts,
        )

    def audit_action(self, rec: ActionRecord, what: str, ts: float, **detail: Any) -> Event:
        """An audit record about ``rec`` (its request, action, target, level, rule, domain)."""
        return self._audit(rec, what, ts, **detail)

    def _describe(self, rec: ActionRecord, spec: ActionSpec, ops: list[Any]) -> str:
        lines = [spec.description, f"Level {rec.level}; policy rule {rec.rule}."]
        if rec.preemptive:
            p = rec.preemptive
            lines.append(
                f"Preemptive: {p.get('risk')} predicts {p.get('what', 'harm')}{_deadline(rec)}."
            )
        lines += [f"Why: {r}" for r in rec.reasons]
        lines += [f"Operation: {o.device} {o.op} {o.path} = {o.value!r}" for o in ops]
        if spec.playbook and spec.executor == "ansible":
            lines.append(f"Playbook: {spec.playbook}")
        v = spec.verification
        lines.append(
            f"Verification: {v.kpi} {v.op} {v.threshold} on {v.entities} within {v.within_s:.0f} s"
        )
        if rec.verdict:
            lines.append("Twin verdict: " + msgspec.json.encode(rec.verdict).decode())
        return "\n".join(lines)

    # ------------------------------------------------------------------ execution

    def _lock_entities(self, rec: ActionRecord) -> list[str]:
        f = rec.facts
        ents = [rec.target]
        if f.get("a_if"):
            ents.append(f"{f['a']}:{f['a_if']}")
        if f.get("b_if"):
            ents.append(f"{f['b']}:{f['b_if']}")
        return ents

    def execute(self, rec: ActionRecord, ts: float) -> list[Event]:
        """Lock the target, check the lease, run the executor (off the loop unless it runs
        inline); an inline run goes on to verification at once."""
        got = self.locks.acquire(
            self._lock_entities(rec), rec.request_id, ttl_s=self.lock_ttl_s, now=ts
        )
        if not isinstance(got, Lease):
            if rec.status != "waiting":
                rec.status, rec.executed_ts = "waiting", ts
                self.store.put(rec)
                return [self._audit(rec, "action.waiting", ts, why=got.reason)]
            if ts - rec.executed_ts >= self.lock_wait_s:
                rec.status = "refused"
                self.store.put(rec)
                why = f"{got.reason}; waited {ts - rec.executed_ts:.0f} s"
                self._change(rec, "closed", f"Refused: {why}", ts)
                self._note(rec, f"{rec.action} on {rec.target} refused: {why}", ts)
                return [
                    self._request(rec, "refused", ts, why),
                    self._audit(rec, "action.refused", ts, why=why),
                ]
            return []
        rec.lease = _lease(got)
        if not self.locks.valid(got, now=ts):  # fencing: never act on a lost lease
            rec.status = "waiting"
            self.store.put(rec)
            return []
        ops = self.catalog.get(rec.action).render(self._facts(rec), rec.params)
        run = self._runner(rec, ops, dry_run=self.dry_run)
        if self.executor.runs_inline:
            return self._applied(rec, run(), ts)
        rec.status, rec.executed_ts = "executing", ts
        self.store.put(rec)
        self.calls.start(rec.request_id, run, self.timeout_s)
        return [
            self._audit(
                rec,
                "action.started",
                ts,
                executor=self.executor.name,
                timeout_s=self.timeout_s,
                lock_token=got.token,
            )
        ]

    def _runner(
        self, rec: ActionRecord, ops: list[Op], *, dry_run: bool
    ) -> Callable[[], ExecOutcome]:
        return functools.partial(
            self.executor.execute, rec.action, rec.target, ops, rec.params, dry_run=dry_run
        )

    def _applied(self, rec: ActionRecord, out: ExecOutcome, ts: float) -> list[Event]:
        """The executor returned: audit it, then verify (or finish a dry run, or roll back)."""
        spec = self.catalog.get(rec.action)
        self.autonomy.record_change(rec.domain, rec.request_id, ts=ts)
        events: list[Event] = [
            self._audit(
                rec,
                "action.executed",
                ts,
                executor=self.executor.name,
                ok=out.ok,
                detail=out.detail,
                dry_run=out.dry_run,
                lock_token=(rec.lease or {}).get("token"),
            )
        ]
        if out.dry_run:
            rec.status = "dry_run"
            self._release(rec)
            self._change(rec, "closed", f"Dry run: {out.detail}", ts)
            self._note(rec, f"Dry run of {rec.action} on {rec.target}: {out.detail}", ts)
            self.store.put(rec)
            return [*events, self._result(rec, "dry_run", ts, out.detail)]
        self._change(rec, "implemented", f"Executed by {self.executor.name}: {out.detail}", ts)
        self._note(
            rec, f"Executed {rec.action} on {rec.target} ({self.executor.name}): {out.detail}", ts
        )
        # samples count from when the change took effect: on the Kafka runtime the twin (the
        # network) is ahead of the event time the pipeline decides on
        rec.executed_ts = max(ts, out.applied_ts or ts)
        if not out.ok:
            return events + self._fail(rec, ts, f"execution failed: {out.detail}")
        rec.status = "verifying"
        rec.deadline = rec.executed_ts + spec.verification.within_s
        self.store.put(rec)
        watched = self._watch(rec)
        self.watched |= set(watched)
        until = rec.deadline + spec.verification.within_s  # samples at the deadline still count
        events += [
            Watch(ts=ts, device=d, kpi=k, interface=i, until=until, request_id=rec.request_id)
            for d, k, i in watched
        ]
        return events

    def collect(self, ts: float, *, owns: Owns | None = None) -> list[Event]:
        """Take up the executor calls that returned or timed out, and the actions a previous
        run of the service left ``executing`` or ``rolling_back`` (their outcome is unknown);
        with ``owns``, only of the actions whose incident (or risk) it owns (a partition of
        the coordinator: another's calls may run in another process)."""
        events: list[Event] = []
        for done in self.calls.finished(None if owns is None else self._owned_calls(owns)):
            rec = self.store.get(done.key)
            if rec is None:
                continue
            if done.outcome is None:
                events += self._timed_out(rec, ts, f"no answer within {done.elapsed_s:.0f} s")
            elif rec.status == "executing":
                events += self._applied(rec, done.outcome, ts)
            elif rec.status == "rolling_back":
                events += self._rolled_back(rec, done.outcome, ts)
        for rec in self.store.open():
            if owns is not None and not owns(rec.incident):
                continue
            if rec.status in ("executing", "rolling_back") and not self.calls.running(
                rec.request_id
            ):
                why = "the service stopped while the executor ran; its outcome is unknown"
                events += self._timed_out(rec, ts, why)
        return events

    def _owned_calls(self, owns: Owns) -> Callable[[str], bool]:
        """Whether a call (by request id) is of an action ``owns`` owns."""

        def mine(request_id: str) -> bool:
            rec = self.store.get(request_id)
            return rec is None or owns(rec.incident)

        return mine

    def _timed_out(self, rec: ActionRecord, ts: float, why: str) -> list[Event]:
        """An executor call that did not return: the change may be partly applied. Keep the
        lock until its lease expires (nothing else may touch the target meanwhile), fail the
        change and escalate: a human checks the device."""
        step = "rollback" if rec.status == "rolling_back" else "execution"
        rec.status = "timed_out"
        self.store.put(rec)
        text = (
            f"{rec.action} on {rec.target}: {step} by {self.executor.name} timed out ({why}); "
            "the change may be partly applied; the target stays locked until its lease expires"
        )
        self._change(rec, "failed", text, ts)
        self._note(rec, text + ". Escalated to level 1: a human decides.", ts)
        return [
            self._result(rec, "failed", ts, text),
            self._audit(rec, "action.timed_out", ts, step=step, why=why, escalated_to=1),
        ]

    def _watch(self, rec: ActionRecord) -> list[tuple[str, str, str]]:
        v = self.catalog.get(rec.action).verification
        f = rec.facts
        if v.entities == "link_ends":
            return [(f["a"], v.kpi, f["a_if"]), (f["b"], v.kpi, f["b_if"])]
        if v.entities == "src_if":
            return [(f["src"] or f["a"], v.kpi, f["src_if"] or f["a_if"])]
        return [(f["a"] or rec.target, v.kpi, "")]

    # ------------------------------------------------------------------ verification

    def on_sample(self, s: Sample) -> None:
        key = (s.device, s.kpi, s.interface)
        if key in self.watched:
            self.latest[key] = (s.ts, s.value)

    def tick(self, ts: float, *, owns: Owns | None = None) -> list[Event]:
        """Verify what can be verified, time out what cannot, retry what waits for a lock
        (with ``owns``, of the actions whose incident or risk it owns)."""
        events: list[Event] = []
        for rec in self.store.open():
            if owns is not None and not owns(rec.incident):
                continue
            if rec.status == "verifying":
                v = self.catalog.get(rec.action).verification
                seen = [self.latest.get(k) for k in self._watch(rec)]
                fresh = [s for s in seen if s is not None and s[0] > rec.executed_ts]
                if len(fresh) == len(seen) and all(v.holds(val) for _, val in fresh):
                    events += self._verified(rec, ts, [val for _, val in fresh])
                elif ts > rec.deadline:  # samples taken at the deadline still count: they
                    # arrive after the tick their timestamp's first sample triggers
                    vals = [None if s is None else s[1] for s in seen]
                    events += self._fail(
                        rec,
                        ts,
                        f"{v.kpi} {v.op} {v.threshold} did not hold "
                        f"within {v.within_s:.0f} s (last {vals})",
                    )
            elif rec.status in ("waiting", "approved"):
                events += self.execute(rec, ts)
        return events

    def _release(self, rec: ActionRecord) -> None:
        if rec.lease:
            self.locks.release(
                Lease(
                    tuple(rec.lease["entities"]),
                    rec.lease["holder"],
                    rec.lease["token"],
                    rec.lease["expires"],
                )
            )

    def _verified(self, rec: ActionRecord, ts: float, values: list[float]) -> list[Event]:
        rec.status = "verified"
        self._release(rec)
        self.store.put(rec)
        fb = self.policy.domains[rec.domain].fallback if rec.domain in self.policy.domains else None
        tripped = (
            self.autonomy.record_verification(rec.domain, rec.request_id, True, ts=ts, fallback=fb)
            if fb
            else []
        )
        detail = f"verified after {ts - rec.executed_ts:.0f} s: {values}"
        self._change(rec, "closed", f"Verification passed: {detail}", ts)
        self._note(rec, f"{rec.action} on {rec.target} {detail}", ts)
        return [
            self._result(rec, "succeeded", ts, detail),
            self._audit(rec, "action.verified", ts, result=detail, also=tripped),
        ]

    def _fail(self, rec: ActionRecord, ts: float, why: str) -> list[Event]:
        """Roll the change back (off the loop unless the executor runs inline)."""
        spec = self.catalog.get(rec.action)
        ops = spec.render(self._facts(rec), rec.params, rollback=True)
        run = self._runner(rec, ops, dry_run=False)
        rec.failure = why
        if self.executor.runs_inline:
            return self._rolled_back(rec, run(), ts)
        rec.status = "rolling_back"
        self.store.put(rec)
        self.calls.start(rec.request_id, run, self.timeout_s)
        return [self._audit(rec, "action.rolling_back", ts, why=why)]

    def withdraw(self, rec: ActionRecord, ts: float, why: str) -> list[Event]:
        """Roll back a verified preemptive change whose prediction did not come true. Not a
        failure of the change (nothing counts against the breaker or the fallback, nobody is
        escalated to); it takes the target's lock for the rollback, and returns nothing (to
        be asked again) while another action holds it."""
        if rec.status != "verified" or rec.preemptive.get("withdrawn"):
            return []
        got = self.locks.acquire(
            self._lock_entities(rec), rec.request_id, ttl_s=self.lock_ttl_s, now=ts
        )
        if not isinstance(got, Lease):
            return []
        rec.lease = _lease(got)
        rec.preemptive = {**rec.preemptive, "withdrawn": why}
        return self._fail(rec, ts, why)

    def _rolled_back(self, rec: ActionRecord, back: ExecOutcome, ts: float) -> list[Event]:
        if rec.preemptive.get("withdrawn"):
            return self._withdrawn(rec, back, ts)
        why = rec.failure
        rec.status = "rolled_back"
        self._release(rec)
        self.store.put(rec)
        fb = self.policy.domains[rec.domain].fallback if rec.domain in self.policy.domains else None
        tripped = (
            self.autonomy.record_verification(rec.domain, rec.request_id, False, ts=ts, fallback=fb)
            if fb
            else []
        )
        text = f"{rec.action} on {rec.target} failed ({why}); rollback: {back.detail}"
        self._change(rec, "failed", text, ts)
        self._note(rec, text + ". Escalated to level 1: a human decides.", ts)
        return [
            self._result(rec, "rolled_back", ts, text),
            self._audit(
                rec,
                "action.rolled_back",
                ts,
                why=why,
                rollback_ok=back.ok,
                rollback=back.detail,
                escalated_to=1,
                also=tripped,
            ),
        ]

    def _withdrawn(self, rec: ActionRecord, back: ExecOutcome, ts: float) -> list[Event]:
        why = rec.failure
        rec.status = "rolled_back"
        self._release(rec)
        self.store.put(rec)
        text = f"{rec.action} on {rec.target} withdrawn ({why}); rollback: {back.detail}"
        self._change(rec, "closed", text, ts)
        self._note(rec, text, ts)
        return [
            self._result(rec, "rolled_back", ts, text),
            self._audit(
                rec,
                "action.rolled_back",
                ts,
                why=why,
                withdrawn=True,
                rollback_ok=back.ok,
                rollback=back.detail,
                forecast=rec.preemptive,
            ),
        ]

    # ------------------------------------------------------------------ humans

    def on_approval(
        self, change: str, approved: bool, note: str, ts: float, *, owns: Owns | None = None
    ) -> list[Event]:
        """A human's answer to a change request; an approved change runs at once, or, when
        ``owns`` does not own it, on its owner's next :meth:`tick` (its executor call must
        run where its owner takes it up)."""
        rec = self.store.by_change(change)
        if rec is None or rec.status != "awaiting_approval":
            return []
        who = note or "a human in the ticket system"
        if not approved:
            rec.status = "rejected"
            self.store.put(rec)
            self._note(rec, f"Change for {rec.action} on {rec.target} rejected.", ts)
            return [
                self._request(rec, "rejected", ts, who),
                self._audit(rec, "action.rejected", ts, approval=f"rejected by {who}"),
            ]
        rec.status = "approved"
        self.store.put(rec)
        return [
            self._request(rec, "approved", ts, who),
            self._audit(rec, "action.approved", ts, approval=f"approved by {who}"),
            *(self.execute(rec, ts) if owns is None or owns(rec.incident) else []),
        ]

    def cancel(self, incident: str, ts: float, why: str) -> list[Event]:
        events: list[Event] = []
        for rec in self.store.of_incident(incident):
            if rec.status in ("waiting", "awaiting_approval", "approved"):
                rec.status = "cancelled"
                self.store.put(rec)
                self._change(rec, "closed", f"Cancelled: {why}", ts)
                events.append(self._audit(rec, "action.cancelled", ts, why=why))
        return events
