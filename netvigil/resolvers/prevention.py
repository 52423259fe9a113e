"""Prevention: a predicted harm (a :class:`~netvigil.events.Risk`) becomes work, and the
resolver changes the network before the deadline when the policy lets it.

- **Ticketed as the policy says** (``prevention.ticket``): a *problem* record (not an
  incident) with the deadline, confidence, entities and services the harm would hurt, or only
  the change request. Every step is a work note and an audit record (``risk.*``).
- **One queue**: the coordinator puts risks in the queue it keeps for incidents, ordered by
  severity, impact (blast radius, services) and time to impact
  (:func:`netvigil.resolvers.priority.priority`); the decision record says why.
- **Preemptive change**: the catalog's actions that remedy congestion on a link, in the
  policy's order of preference (steer before policing), are each simulated in the twin on the
  *forecast* load from the deadline to ``lookahead_s`` past it
  (:func:`netvigil.twin.foresight.forecast_what_if`); a plan that leaves the link at the
  threshold, pushes another link to it, strands demand or cuts a service's path is refused.
  Of those that pass, one the policy lets run on its own comes first: level 3 runs any (the
  IGP metric change), level 2 only the pre-approved ones (QoS policing), level 1 proposes
  one with the deadline ("saturation expected 14:38 UTC; approve by 14:20 UTC"). Without a
  twin nothing can be simulated and nothing runs on its own.
- **A degrading link** (a ``link_errors`` risk: its error share heading for the harm share)
  is planned the same way with the catalog's actions that remedy ``link_errors`` (draining
  the link: the IGP metric change), judged on the present's load at and after the deadline
  (``drain``: the link must be emptied, both ways, and nothing else overloaded, stranded or
  cut); it is averted when the twin says the link corrupts at least the harm share while the
  change keeps traffic off it.
- **Outcome**: the risk *came true* when the harm happened anyway, was *averted* when, with
  the change in force, the twin says the harm would be there without it
  (:func:`netvigil.twin.foresight.counterfactual`, checked every ``check_s``), and was
  *false* when neither happened by the deadline plus ``hold_s``: then the change is rolled
  back (withdrawn, not a failure) and the proposal, if still waiting, cancelled. The outcome
  counts in the domain's track record (:mod:`netvigil.resolvers.record`), and closes the
  problem with it as the code.
- **What the coordinator sees happen** to changes (verified, rolled back, accepted, rejected)
  and which harms were predicted feed the same record (:meth:`PreventionManager.observe`,
  :meth:`PreventionManager.on_incident`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from netvigil.errors import TopologyError
from netvigil.events import ActionRequest, ActionResult, Event, Incident, Risk
from netvigil.graph.base import TopologyStore
from netvigil.resolvers.base import Op, ProblemDesk, TicketBackend
from netvigil.resolvers.catalog import ActionSpec, Facts
from netvigil.resolvers.feedback import Judgement, domain_of_entity
from netvigil.resolvers.policy import Policy, decide
from netvigil.resolvers.priority import factors, link_facts
from netvigil.resolvers.record import TrackRecord, check_fallback
from netvigil.resolvers.remediation import ActionRecord, Owns, Remediator
from netvigil.resolvers.riskstore import RiskRecord, RiskStore
from netvigil.twin.foresight import Outlook

__all__ = ["Foresight", "PreventionManager", "facts_of_risk"]

ACTOR = "netvigil/prevention"

#: the severity a risk is queued with (an incident of the same harm has the same)
RISK_SEVERITY = {"congestion": "minor", "link_errors": "minor", "slo_budget": "major"}
#: risk kinds on a link for which a preemptive change is planned
LINK_RISKS = frozenset({"congestion", "link_errors"})


class Foresight(Protocol):
    """The twin's view forward (built from the twin in :mod:`netvigil.resolvers.assemble`)."""

    def judge(
        self,
        spec: ActionSpec,
        facts: Facts,
        ops: list[Op],
        outlook: Outlook,
        *,
        at: float,
        lookahead_s: float,
    ) -> tuple[bool, list[str], dict[str, Any]]:
        """Simulate the change on the forecast load: (ok, refusals, numbers)."""
        ...

    def without(self, spec: ActionSpec, facts: Facts, ops: list[Op], t: float) -> float | None:
        """The at-risk direction's utilization at ``t`` had the change not been made (for a
        ``link_errors`` risk, ``facts.fault``: the share of frames the link corrupts at ``t``)."""
        ...


def facts_of_risk(topo: TopologyStore, risk: Risk, metric_of: dict[str, int]) -> Facts | None:
    """What the catalog needs to know of the link a congestion or link-errors risk is about
    (``fault`` is the risk's kind: what the catalog's actions must remedy)."""
    try:
        iface = topo.interface(risk.entity)
        if iface.link is None:
            return None
        link = topo.link(iface.link)
    except (TopologyError, ValueError):
        return None
    return link_facts(
        link, risk.entity, fault=risk.kind, confidence=risk.confidence, metric_of=metric_of
    )


def _in_force(rec: ActionRecord) -> bool:
    """A preemptive change that ran, verified, and was not withdrawn."""
    return rec.status == "verified" and not rec.preemptive.get("withdrawn")


def _hhmm(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


class PreventionManager:
    """Risks through their life; every method returns the events to publish."""

    def __init__(
        self,
        *,
        remediator: Remediator,
        store: RiskStore,
        record: TrackRecord,
        topo: TopologyStore,
        foresight: Foresight | None = None,
        metric_of: Callable[[], dict[str, int]] | None = None,
        check_s: float = 300.0,
        harm_window_s: float = 5400.0,
        settle_s: float = 600.0,
    ) -> None:
        self.remediator = remediator
        self.store = store
        self.record = record
        self.topo = topo
        self.foresight = foresight
        self.metric_of = metric_of or dict
        self.check_s = check_s
        self.harm_window_s = harm_window_s
        """A congestion incident counts as predicted when a risk on its link opened at most
        this long before it."""
        self.settle_s = settle_s
        """A forecast made this long after a change took effect reads data the change
        shaped: if it still predicts the crossing, the change does not hold."""
        self._drained: dict[str, float] = {
            rr.risk.risk_id: 0.0
            for rr in store.all()
            if rr.risk.kind == "link_errors" and rr.outcome == "averted"
        }
        """Averted link-errors risks whose drain may still be in force -> last checked."""

    @property
    def policy(self) -> Policy:
        return self.remediator.policy

    @property
    def tickets(self) -> TicketBackend:
        return self.remediator.tickets

    @property
    def problems(self) -> ProblemDesk | None:
        t = self.tickets
        return t if isinstance(t, ProblemDesk) else None

    @staticmethod
    def is_risk(item: str) -> bool:
        return item.startswith("risk-")

    def _audit(
        self, rr: RiskRecord, what: str, ts: float, actor: str = ACTOR, **detail: Any
    ) -> Event:
        r = rr.risk
        return self.remediator.audit.append(
            ts=ts,
            actor=actor,
            action=what,
            subject=r.risk_id,
            detail={
                "kind": r.kind,
                "entity": r.entity,
                "domain": rr.domain,
                "predicted_ts": r.predicted_ts,
                **detail,
            },
        )

    def _note(self, rr: RiskRecord, text: str, ts: float) -> None:
        desk = self.problems
        if desk is None or not rr.ticket:
            return
        found = desk.find_problem(rr.risk.risk_id)
        if found is not None:
            desk.note_problem(found, text, ts=ts)

    def _domain(self, risk: Risk) -> str:
        if risk.kind == "slo_budget":
            try:
                devices = self.topo.service(risk.entity).devices
            except TopologyError:
                devices = ()
            return domain_of_entity(self.policy, self.topo, devices[0] if devices else risk.entity)
        return domain_of_entity(self.policy, self.topo, risk.entity)

    def _what(self, risk: Risk) -> str:
        if risk.kind == "slo_budget":
            return f"error budget of {risk.entity} exhausted"
        if risk.kind == "link_errors":
            return f"input errors of {risk.entity} at {risk.threshold:.2%} of packets"
        return f"saturation of {risk.entity}"

    def describe(self, risk: Risk) -> str:
        """The problem's text: what is predicted, when, how sure, what it would hurt."""
        lines = [
            f"Predicted: {self._what(risk)} at {_hhmm(risk.predicted_ts)} "
            f"(in {risk.time_to_impact_s / 60:.0f} min, +/- {risk.uncertainty_s / 60:.0f} min); "
            f"confidence {risk.confidence:.2f}.",
        ]
        if risk.level is not None:
            trend = (risk.trend_per_s or 0.0) * 3600
            lines.append(
                f"Forecast: {risk.signal} at {risk.level:.2f}, rising {trend:.3f}/h toward "
                f"{risk.threshold:.2f}."
            )
        if risk.entities:
            lines.append("Would hurt: " + ", ".join(risk.entities))
        if risk.services:
            lines.append("Services: " + ", ".join(risk.services))
        lines.append(f"NetVigil risk {risk.risk_id}, revision {risk.revision}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ risks in

    def on_risk(self, risk: Risk) -> tuple[list[Event], dict[str, float] | None]:
        """A risk revision: store, ticket, audit; returns the events and, when the risk should
        be queued for a preemptive change, the factors of its priority."""
        rr = self.store.get(risk.risk_id)
        events: list[Event] = []
        ts = risk.ts
        if rr is None:
            if risk.status != "open":
                return [], None
            link = ""
            if risk.kind in LINK_RISKS:
                facts = facts_of_risk(self.topo, risk, {})
                link = facts.target if facts else ""
            rr = RiskRecord(risk=risk, domain=self._domain(risk), link=link)
            self.record.note(rr.domain, ts)
            desk = self.problems
            if self.policy.prevention.ticket == "problem" and desk is not None:
                ticket = desk.open_problem(
                    risk.risk_id, f"NetVigil risk: {self._what(risk)}", self.describe(risk), ts=ts
                )
                rr.ticket = ticket.number
            self.store.put(rr)
            events.append(
                self._audit(
                    rr,
                    "risk.opened",
                    ts,
                    time_to_impact_s=round(risk.time_to_impact_s, 1),
                    confidence=risk.confidence,
                    entities=risk.entities,
                    services=risk.services,
                    forecast={
                        "level": risk.level,
                        "trend_per_s": risk.trend_per_s,
                        "threshold": risk.threshold,
                        "uncertainty_s": risk.uncertainty_s,
                    },
                    ticket=rr.ticket,
                )
            )
            return events, self._queue_factors(rr)
        if risk.revision <= rr.risk.revision:
            return [], None  # stale or repeated
        before = rr.risk
        rr.risk = risk
        self.store.put(rr)
        if risk.status == "open":
            moved = f"{_hhmm(before.predicted_ts)} -> {_hhmm(risk.predicted_ts)}"
            self._note(rr, f"Forecast revised: {moved}", ts)
            events.append(
                self._audit(
                    rr, "risk.revised", ts, was=before.predicted_ts, confidence=risk.confidence
                )
            )
            rec = self._action(rr)
            if rec is not None and _in_force(rec) and ts >= rec.executed_ts + self.settle_s:
                # forecast again on data taken after the change: the change does not hold
                rr.plan = {**rr.plan, "insufficient": rec.request_id}
                self.store.put(rr)
                events.append(self._audit(rr, "risk.not_held", ts, request_id=rec.request_id))
                return events, self._queue_factors(rr, again=True)
            return events, None if rr.request_id else self._queue_factors(rr)
        if risk.status == "materialized":
            events.append(self._audit(rr, "risk.materialized", ts, why=risk.evidence.get("closed")))
            if rr.open:
                events += self._decide(rr, "came_true", ts, why="the harm happened")
            return events, None
        events.append(self._audit(rr, "risk.cleared", ts, why=risk.evidence.get("closed")))
        return events, None

    def _queue_factors(self, rr: RiskRecord, *, again: bool = False) -> dict[str, float] | None:
        p = self.policy.prevention
        r = rr.risk
        if not (p.enabled and r.kind in LINK_RISKS and r.status == "open" and (rr.open or again)):
            return None
        if r.confidence < p.min_confidence:
            return None
        near = set(filter(self.topo.has, (d for d in r.entities if "--" not in d and ":" not in d)))
        radius = len(self.topo.k_hop(near, 1)) if near else 0
        f = factors(
            RISK_SEVERITY.get(r.kind, "minor"),
            radius,
            r.confidence,
            services=len(r.services),
            tti_s=r.time_to_impact_s,
        )
        return {**f, "radius": radius, "services": len(r.services), "tti_s": r.time_to_impact_s}

    # ------------------------------------------------------------------ planning

    def _candidates(self, facts: Facts) -> list[ActionSpec]:
        cat = self.remediator.catalog
        prefer = [n for n in self.policy.prevention.prefer if n in cat.actions]
        ordered = [cat.get(n) for n in prefer]
        ordered += [s for s in cat.for_fault("link", facts.fault) if s.name not in prefer]
        return [
            s
            for s in ordered
            if s.target == "link" and facts.fault in s.remedies and not s.unmet(facts)
        ]

    def _outlook(self, risk: Risk, facts: Facts, ts: float) -> Outlook:
        level = risk.level if risk.level is not None else risk.threshold
        trend = risk.trend_per_s
        if not trend or trend <= 0:
            span = max(risk.predicted_ts - risk.ts, 1.0)
            trend = (risk.threshold - level) / span
        return Outlook(
            link=facts.target,
            src=facts.src,
            now=ts,
            level=level + trend * (ts - risk.ts),
            trend_per_s=trend,
        )

    def dispatch(
        self, risk_id: str, ts: float, *, queue: dict[str, Any] | None = None
    ) -> list[Event]:
        """Plan and start the preemptive change of one risk taken from the queue; again, with
        the other candidates, when the change made for it does not hold (``risk.not_held``)."""
        rr = self.store.get(risk_id)
        if rr is None or rr.risk.status != "open":
            return []
        held = self._action(rr) if rr.plan.get("insufficient") == rr.request_id else None
        if held is None and (not rr.open or rr.request_id):
            return []
        p = self.policy.prevention
        risk = rr.risk
        if risk.predicted_ts - ts < p.min_lead_s:
            return [
                self._audit(
                    rr, "risk.too_late", ts, why=f"less than {p.min_lead_s:.0f} s to the deadline"
                )
            ]
        facts = facts_of_risk(self.topo, risk, self.metric_of())
        candidates = self._candidates(facts) if facts is not None else []
        if held is not None:
            used = {held.action, *rr.plan.get("tried", [])}
            candidates = [c for c in candidates if c.name not in used]
        if facts is None or not candidates:
            none = "no catalog action can prevent it"
            rr.plan = {"chosen": None, "why": none}
            self.store.put(rr)
            self._note(rr, f"No preemptive change: {none}. A human decides.", ts)
            return [self._audit(rr, "risk.no_plan", ts, why=none)]
        cover = self._cover(rr) if held is None else None
        if cover is not None:
            rr.request_id = cover.request_id
            rr.plan = {"chosen": None, "covered_by": cover.request_id}
            self.store.put(rr)
            self._note(rr, f"Covered by the change already made for {cover.incident}.", ts)
            return [self._audit(rr, "risk.covered", ts, request_id=cover.request_id)]
        outlook = self._outlook(risk, facts, ts)
        dev = self.topo.device(facts.src) if self.topo.has(facts.src) else None
        devices = [(facts.src, dev.role if dev else "", dev.site if dev else "")]
        dom = self.policy.domain_of(*devices[0])
        autonomy = self.remediator.autonomy
        options: list[tuple[ActionSpec, Any, bool, list[str], dict[str, Any], list[Op]]] = []
        for spec in candidates:
            d = decide(
                self.policy,
                action=spec.name,
                risk=spec.risk,
                reversible=spec.reversible,
                devices=devices,
                blast_radius=int((queue or {}).get("radius", 0)),
                ts=ts,
                changes_last_hour=autonomy.changes_since(dom, ts - 3600),
                breaker_open=autonomy.open_reason(dom),
                phase_override=autonomy.fallback(dom),
                phase_set=autonomy.phase(dom),
            )
            ops = spec.render(facts, spec.params())
            ok: bool
            why: list[str]
            numbers: dict[str, Any]
            if self.foresight is None:
                ok, why, numbers = False, ["no twin to simulate the forecast load"], {}
            else:
                ok, why, numbers = self.foresight.judge(
                    spec, facts, ops, outlook, at=risk.predicted_ts, lookahead_s=p.lookahead_s
                )
            options.append((spec, d, ok, why, numbers, ops))
        summary = [
            {
                "action": spec.name,
                "level": d.level,
                "ok": ok,
                "refused": why,
                "target_util_after": numbers.get("target_util_after"),
            }
            for spec, d, ok, why, numbers, _ in options
        ]
        passing = [o for o in options if o[2]]
        if not passing:
            rr.plan = {"chosen": None, "candidates": summary}
            self.store.put(rr)
            refusals = "; ".join(f"{s['action']}: {', '.join(s['refused'])}" for s in summary)
            self._note(
                rr, f"No preemptive change passes the twin: {refusals}. A human decides.", ts
            )
            return [self._audit(rr, "risk.no_plan", ts, candidates=summary, queue=queue)]
        spec, decision, _, _, numbers, ops = next(
            (o for o in passing if o[1].level >= 2), passing[0]
        )
        rec = self.remediator.new_record(
            risk_id, spec.name, facts, decision.level, decision.domain, decision.rule, ts
        )
        rec.params = spec.params()
        rec.reasons = [
            *decision.reasons,
            f"forecast: {self._what(risk)} at {_hhmm(risk.predicted_ts)} (confidence "
            f"{risk.confidence:.2f}); with the change {numbers.get('target_util_after')} at worst",
        ]
        rec.verdict = {"ok": True, "on": "forecast", **numbers}
        rec.preemptive = {
            "risk": risk_id,
            "what": self._what(risk),
            "deadline": risk.predicted_ts,
            "approve_by": risk.predicted_ts - p.approve_margin_s,
            "hold_until": risk.predicted_ts + p.hold_s,
            "confidence": risk.confidence,
            "link": facts.target,
            "src": facts.src,
            "forecast": {
                "level": outlook.level,
                "trend_per_h": outlook.trend_per_s * 3600,
                "uncertainty_s": risk.uncertainty_s,
                "threshold": risk.threshold,
            },
        }
        previous = [*rr.plan.get("previous", []), *([held.request_id] if held else [])]
        tried = [*rr.plan.get("tried", []), *([held.action] if held else [])]
        rr.request_id = rec.request_id
        rr.plan = {
            "chosen": spec.name,
            "level": decision.level,
            "candidates": summary,
            **({"previous": previous, "tried": tried} if previous else {}),
        }
        self.store.put(rr)
        events: list[Event] = [
            self.remediator.audit_action(
                rec,
                "action.decided",
                ts,
                why=rec.reasons,
                preemptive=rec.preemptive,
                candidates=summary,
                autonomous=decision.level >= 2,
                **({"queue": queue} if queue else {}),
            ),
            self.remediator.audit_action(rec, "action.validated", ts, verdict=rec.verdict),
        ]
        approve = (
            f"; {self._what(risk)} expected {_hhmm(risk.predicted_ts)}, approve by "
            f"{_hhmm(rec.preemptive['approve_by'])}"
            if decision.level == 1
            else ""
        )
        self._note(
            rr,
            f"Preemptive {spec.name} on {facts.target} at level {decision.level} "
            f"(change for request {rec.request_id}){approve}.",
            ts,
        )
        return events + self.remediator.launch(rec, spec, facts, ops, ts)

    def _cover(self, rr: RiskRecord) -> ActionRecord | None:
        """A preemptive change in force (or on its way) on the same link, made for another
        risk still pending: it covers this one too."""
        for other in self.store.pending():
            if (
                other.link != rr.link
                or other.risk.risk_id == rr.risk.risk_id
                or other.risk.kind != rr.risk.kind  # a policer drains nothing
            ):
                continue
            rec = self._action(other)
            if rec is None or rec.preemptive.get("withdrawn"):
                continue
            if not rec.done or rec.status == "verified":
                return rec
        return None

    # ------------------------------------------------------------------ time passing

    def _action(self, rr: RiskRecord) -> ActionRecord | None:
        return self.remediator.store.get(rr.request_id) if rr.request_id else None

    def tick(self, ts: float, *, owns: Owns | None = None) -> list[Event]:
        """Deadlines: cancel proposals not approved in time, check whether a prediction came
        true while a change keeps it away, and withdraw changes for predictions that did not;
        restore drained links once repaired (with ``owns``, of the risks it owns)."""
        events: list[Event] = self._restore_repaired(ts, owns)
        p = self.policy.prevention
        for rr in self.store.pending():
            risk = rr.risk
            if owns is not None and not owns(risk.risk_id):
                continue
            rec = self._action(rr)
            if rec is not None and rec.status == "awaiting_approval" and ts >= risk.predicted_ts:
                events += self.remediator.cancel(risk.risk_id, ts, "the deadline passed first")
            in_force = rec is not None and _in_force(rec)
            if in_force and rec is not None and ts - rr.checked_ts >= self.check_s:
                events += self._check(rr, rec, ts)
                if not rr.open:
                    continue
            if ts < risk.predicted_ts + p.hold_s:
                continue
            why = (
                f"the prediction did not come true by {_hhmm(risk.predicted_ts + p.hold_s)} "
                f"(deadline + hold {p.hold_s:.0f} s)"
            )
            if in_force and rec is not None and not self._shared_later(rr, rec):
                withdrawn = self.remediator.withdraw(rec, ts, why)
                if not withdrawn:
                    continue  # the target is locked by another action: ask again next tick
                events += withdrawn
                for older in rr.plan.get("previous", []):  # changes it escalated from
                    old = self.remediator.store.get(older)
                    if old is not None and _in_force(old):
                        events += self.remediator.withdraw(old, ts, why)
            acted = rec is not None and bool(rec.executed_ts)
            events += self._decide(rr, "false", ts, why=why, change_made=acted)
        return events

    def _restore_repaired(self, ts: float, owns: Owns | None = None) -> list[Event]:
        """A drain that averted a degrading link's harm stays while the link corrupts frames;
        once the twin says it corrupts less than half the harm share (the optic was replaced:
        on the twin, the fault ended), the cost is restored (withdrawn with ``restored``;
        not a failed change, not a false prediction). Checked every ``check_s``."""
        if self.foresight is None:
            return []
        events: list[Event] = []
        for risk_id, last in list(self._drained.items()):
            if ts - last < self.check_s or (owns is not None and not owns(risk_id)):
                continue
            self._drained[risk_id] = ts
            rr = self.store.get(risk_id)
            rec = self._action(rr) if rr is not None else None
            if rr is None or rec is None or not _in_force(rec) or rec.incident != risk_id:
                del self._drained[risk_id]  # gone, or another risk's change: not ours
                continue
            spec = self.remediator.catalog.get(rec.action)
            facts = Facts(
                **{**rec.facts, "unreachable": frozenset(rec.facts.get("unreachable", ()))}
            )
            share = self.foresight.without(spec, facts, spec.render(facts, rec.params), ts)
            if share is None or share >= rr.risk.threshold / 2:
                continue
            why = f"{rr.link} repaired: it corrupts {share:.4%} of frames, restored"
            rec.preemptive = {**rec.preemptive, "restored": True}
            done = self.remediator.withdraw(rec, ts, why)
            if done:
                del self._drained[risk_id]
                events += [*done, self._audit(rr, "risk.restored", ts, why=why)]
                self._note(rr, f"Drain withdrawn: {why}.", ts)
        return events

    def _shared_later(self, rr: RiskRecord, rec: ActionRecord) -> bool:
        """Whether another pending risk the same change covers waits longer than ``rr``."""
        hold = self.policy.prevention.hold_s
        return any(
            o.request_id == rec.request_id
            and o.risk.risk_id != rr.risk.risk_id
            and o.risk.predicted_ts + hold > rr.risk.predicted_ts + hold
            for o in self.store.pending()
        )

    def _check(self, rr: RiskRecord, rec: ActionRecord, ts: float) -> list[Event]:
        assert self.foresight is not None
        rr.checked_ts = ts
        spec = self.remediator.catalog.get(rec.action)
        facts = Facts(**{**rec.facts, "unreachable": frozenset(rec.facts.get("unreachable", ()))})
        util = self.foresight.without(spec, facts, spec.render(facts, rec.params), ts)
        if util is None:
            self.store.put(rr)
            return []
        rr.counterfactual_max = max(util, rr.counterfactual_max or 0.0)
        self.store.put(rr)
        threshold = rr.risk.threshold or 0.9
        if util < threshold:
            return []
        why = f"without the change {rr.link} would be at {util:.4g} >= {threshold:.4g} now"
        return self._decide(rr, "averted", ts, why=why, counterfactual=round(util, 4))

    def _decide(
        self, rr: RiskRecord, outcome: str, ts: float, *, why: str, **detail: Any
    ) -> list[Event]:
        rr.outcome, rr.closed_ts = outcome, ts
        self.store.put(rr)
        right = outcome in ("came_true", "averted", "judged_true")
        # a false prediction no change was made for counts as false all the same (the
        # forecaster was wrong, and a plan that passed would have run), marked apart
        label = f"{outcome}_no_change" if detail.get("change_made") is False else outcome
        self.record.record(rr.domain, "prediction", rr.risk.risk_id, right, ts=ts, detail=label)
        if outcome == "averted":
            self.record.record(rr.domain, "harm", rr.risk.risk_id, True, ts=ts, detail="averted")
            if rr.risk.kind == "link_errors" and rr.request_id:
                self._drained[rr.risk.risk_id] = ts
        desk = self.problems
        if desk is not None and rr.ticket:
            found = desk.find_problem(rr.risk.risk_id)
            if found is not None:
                desk.close_problem(found, outcome, f"{outcome}: {why}", ts=ts)
        return [self._audit(rr, f"risk.{outcome}", ts, why=why, request_id=rr.request_id, **detail)]

    # ------------------------------------------------------------------ what happened

    def on_incident(self, inc: Incident) -> list[Event]:
        """A congestion incident is a harm: it counts for recall (was it predicted: a risk
        on its link before it?), and a risk still pending on its link came true."""
        rc = inc.root_cause
        if inc.status != "open" or rc is None or rc.kind != "link" or rc.fault != "congestion":
            return []
        risks = self.store.on_link(rc.entity, inc.opened_ts - self.harm_window_s, inc.opened_ts)
        events: list[Event] = []
        for rr in risks:
            if rr.open:
                events += self._decide(rr, "came_true", inc.ts, why=f"incident {inc.fingerprint}")
        if self.record.outcome("harm", inc.fingerprint) is None:
            domain = domain_of_entity(self.policy, self.topo, rc.entity)
            self.record.record(domain, "harm", inc.fingerprint, bool(risks), ts=inc.ts)
        return events

    def observe(self, events: Sequence[Event]) -> None:
        """Count what happened to changes and proposals in the domains' track records."""
        for e in events:
            if (
                isinstance(e, ActionRequest)
                and e.level == 1
                and e.status in ("approved", "rejected")
            ):
                rec = self.remediator.store.get(e.request_id)
                if rec is not None:
                    ok = e.status == "approved"
                    self.record.record(rec.domain, "proposal", e.request_id, ok, ts=e.ts)
            elif isinstance(e, ActionResult) and e.outcome != "dry_run":
                rec = self.remediator.store.get(e.request_id)
                if rec is None or rec.preemptive.get("withdrawn"):
                    continue  # withdrawn for a false prediction: not a failed change
                ok = e.outcome == "succeeded"
                self.record.record(rec.domain, "change", e.request_id, ok, ts=e.ts)
                if rec.level == 1:
                    self.record.record(rec.domain, "recommendation", e.request_id, ok, ts=e.ts)

    def check_records(self, ts: float) -> list[Event]:
        """A promoted domain whose record departed from its phase falls back on its own."""
        out: list[Event] = []
        for name in self.policy.domains:
            fell = check_fallback(
                self.policy,
                self.remediator.autonomy,
                self.record,
                self.remediator.audit,
                name,
                ts=ts,
            )
            if fell is not None:
                out.append(fell)
        return out

    def on_judgements(self, judgements: Sequence[Judgement], ts: float) -> list[Event]:
        """Operators judged risks: a false one withdraws its change and cancels its proposal."""
        events: list[Event] = []
        for j in judgements:
            rr = self.store.get(j.subject)
            if rr is None:
                events.append(
                    self.remediator.audit.append(
                        ts=ts,
                        actor=j.actor,
                        action="feedback.ignored",
                        subject=j.subject,
                        detail={"why": "no such risk", "verdict": j.verdict},
                    )
                )
                continue
            events.append(
                self._audit(
                    rr,
                    "feedback.judged",
                    ts,
                    actor=j.actor,
                    verdict=j.verdict,
                    reason=j.reason,
                    source=j.source,
                )
            )
            if j.verdict == "confirmed":
                self.record.record(
                    rr.domain, "prediction", rr.risk.risk_id, True, ts=ts, detail="judged"
                )
                if rr.open:
                    rr.outcome, rr.closed_ts = "judged_true", ts
                    self.store.put(rr)
                continue
            why = f"judged false by {j.actor}" + (f": {j.reason}" if j.reason else "")
            events += self.remediator.cancel(rr.risk.risk_id, ts, why)
            rec = self._action(rr)
            if rec is not None:
                events += self.remediator.withdraw(rec, ts, why)
            if rr.open:
                events += self._decide(rr, "judged_false", ts, why=why)
            else:
                self.record.record(
                    rr.domain, "prediction", rr.risk.risk_id, False, ts=ts, detail="judged"
                )
        return events
