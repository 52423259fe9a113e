"""Applying an incident revision to its ticket and the audit log, so that a crash at any
point can be repaired.

One revision may need ticket steps (``open``, ``reopen``, ``note``, ``resolve``), one audit
record per step, and the revision stored in the incident store. These live in three stores
that no one transaction spans (separate SQLite files; ServiceNow behind its outbox), so the
order is what makes them agree:

1. the revision and its planned steps are written to the incident store as an *intent*
   (the steps are decided once, from the stored revision and the ticket as they were);
2. each step: the ticket operation, then its audit record (``detail.revision`` names the
   revision);
3. the revision is committed in the incident store, dropping the intent (one transaction).

A process that dies anywhere in 1-3 leaves the intent. :meth:`Ticketing.recover` (run at
start, before any new event) redoes each step of it: ticket operations are idempotent by
correlation id and by state (an open ticket is not opened again, a resolved one not resolved
again), a note is not added twice (its text is looked for on the ticket), and an audit record
is appended only if the log has none for that step and revision. Then it commits. So once
recovery ran, every incident's status, its ticket's state and its last audit record agree,
and no step was done twice. A crash before 1 loses nothing either: the revision was never
applied, and its stored predecessor still agrees with the ticket and the audit.

The coordinator handles one revision at a time, so at most one intent is ever pending.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from netvigil.events import AuditRecord, Incident, RootCause
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import Ticket, TicketBackend
from netvigil.resolvers.incidents import IncidentStore
from netvigil.streams.ignored import Ignored

__all__ = ["ACTIONS", "Ticketing", "describe_incident", "plan"]

log = logging.getLogger(__name__)

ACTOR = "netvigil/coordinator"

ACTIONS: dict[str, str] = {
    "open": "incident.opened",
    "reopen": "incident.reopened",
    "note": "incident.updated",
    "resolve": "incident.resolved",
}
"""Ticket step -> the audit action that records it."""


def describe_incident(inc: Incident) -> str:
    """The ticket text of an incident: root-cause ranking, evidence, impact."""
    lines = [inc.title, ""]
    if inc.root_causes:
        lines.append("Root-cause candidates:")
        for rc in inc.root_causes[:3]:
            lines.append(f"  {rc.kind} {rc.entity}: {rc.fault} (confidence {rc.score:.2f})")
        lines.append("Evidence: " + "; ".join(inc.root_causes[0].evidence))
    if inc.impact:
        lines.append("Impact: " + ", ".join(inc.impact))
    lines.append(f"NetVigil incident {inc.fingerprint}, revision {inc.revision}")
    return "\n".join(lines)


def plan(event: Incident, prev: Incident | None, ticket: Ticket | None) -> list[str]:
    """The ticket steps of a revision, given the stored one and the ticket as they are.

    A first sight opens a ticket; an incident back after recovery (a flap) reopens it; a new
    root cause on an open incident is a work note; a resolution resolves it. A ticket a human
    resolved while the incident stayed open is left as they set it.
    """
    steps = []
    if ticket is None:
        steps.append("open")
    elif prev is not None and prev.status == "resolved" and event.status == "open":
        steps.append("reopen")
    elif (
        prev is not None
        and _named(prev.root_cause) != _named(event.root_cause)
        and event.status == "open"
    ):
        steps.append("note")
    if event.status == "resolved" and (ticket is None or ticket.state != "resolved"):
        steps.append("resolve")
    return steps


class Ticketing:
    """Applies incident revisions to tickets, audit and the incident store (module docstring)."""

    def __init__(
        self,
        incidents: IncidentStore,
        tickets: TicketBackend,
        audit: AuditLog,
        ignored: Ignored,
    ) -> None:
        self.incidents = incidents
        self.tickets = tickets
        self.audit = audit
        self.ignored = ignored
        self.done: Counter[str] = Counter()
        """What this process did: revisions applied, and each ticket step (open, resolve, ...)."""

    def apply(self, event: Incident) -> list[AuditRecord]:
        """Apply one revision; a stale or repeated one (at-least-once delivery, a replay)
        changes nothing and is counted."""
        known = self.incidents.get(event.fingerprint)
        if known is not None and known[0].revision >= event.revision:
            same = known[0].revision == event.revision
            self.ignored(
                "repeated_revision" if same else "stale_revision",
                f"incident {event.fingerprint} revision {event.revision} "
                f"(revision {known[0].revision} is applied)",
            )
            return []
        ticket = self.tickets.find(event.fingerprint)
        steps = plan(event, known[0] if known else None, ticket)
        if not steps:  # nothing outside this store: one write, atomic by itself
            self.incidents.put(event, ticket.number if ticket else None)
            self.done["revisions"] += 1
            return []
        self.incidents.intend(event, steps)
        return self._run(event, steps, recovering=False)

    def recover(self) -> list[AuditRecord]:
        """Finish what a dead process left half-applied (the intents in the incident store)."""
        out: list[AuditRecord] = []
        for event, steps in self.incidents.intents():
            log.warning(
                "finishing incident %s revision %d (%s), left half-applied by a process that "
                "stopped without finishing it",
                event.fingerprint,
                event.revision,
                ", ".join(steps),
            )
            out += self._run(event, steps, recovering=True)
            self.done["recovered"] += 1
        return out

    def _run(self, event: Incident, steps: list[str], *, recovering: bool) -> list[AuditRecord]:
        fp = event.fingerprint
        done = self._audited(fp, event.revision) if recovering else set()
        text = describe_incident(event)
        records: list[AuditRecord] = []
        ticket = self.tickets.find(fp)
        for step in steps:
            if ACTIONS[step] in done:  # the step finished before the crash: its record is there
                continue
            extra: dict[str, Any] = {}
            if step == "open":
                ticket = self.tickets.open(
                    fp, event.title, text, severity=event.severity, ts=event.ts
                )
                extra["severity"] = event.severity
            elif step == "reopen":
                assert ticket is not None
                note = "The incident is back; reopened by NetVigil.\n" + text
                ticket = self.tickets.reopen(ticket, note, ts=event.ts)
            elif step == "note":
                assert ticket is not None
                note = "Root cause updated.\n" + text
                if not (recovering and note in self.tickets.notes(ticket)):
                    self.tickets.add_note(ticket, note, ts=event.ts)
            elif step == "resolve":
                assert ticket is not None
                note = "All signals recovered; resolved by NetVigil.\n" + text
                ticket = self.tickets.resolve(ticket, note, ts=event.ts)
                extra["duration_s"] = round(event.ts - event.opened_ts, 3)
            records.append(self._record(event, ACTIONS[step], ticket, extra))
            self.done[step] += 1
        self.incidents.commit(event, ticket.number if ticket else None)
        self.done["revisions"] += 1
        return records

    def _audited(self, fingerprint: str, revision: int) -> set[str]:
        """The incident actions the audit log already holds for this revision."""
        return {
            r.action
            for r in self.audit.records(subject=fingerprint)
            if r.action in ACTIONS.values() and r.detail.get("revision") == revision
        }

    def _record(
        self, event: Incident, action: str, ticket: Ticket | None, extra: dict[str, Any]
    ) -> AuditRecord:
        rc = event.root_cause
        detail = {
            "revision": event.revision,
            "root_cause": rc.entity if rc else None,
            "fault": rc.fault if rc else None,
            "confidence": rc.score if rc else None,
            "ticket": ticket.number if ticket else None,
            **extra,
        }
        return self.audit.append(
            ts=event.ts, actor=ACTOR, action=action, subject=event.fingerprint, detail=detail
        )


def _named(rc: RootCause | None) -> tuple[str, str] | None:
    """What a work note is about: which entity is blamed and for what, not its confidence."""
    return (rc.entity, rc.fault) if rc is not None else None
