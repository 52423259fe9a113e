"""The coordinator: incidents in, tickets and audit records out.

For each incident revision it keeps the latest state, opens one ticket per incident (the
fingerprint is the ticket's correlation id, so a redelivered incident never opens a second
ticket), adds a work note when the root cause changes, resolves the ticket with the incident,
and appends every decision to the hash-chained audit log. Stale or repeated revisions
(at-least-once delivery, replays) change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from netvigil.events import Event, Incident
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.incidents import IncidentStore
from netvigil.streams.base import Processor

__all__ = ["CoordinatorProcessor", "describe_incident"]

ACTOR = "netvigil/coordinator"


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


class CoordinatorProcessor(Processor[None]):
    name = "coordinator"
    inputs = ("netvigil.incidents",)
    outputs = ("netvigil.audit",)

    def __init__(self, incidents: IncidentStore, tickets: TicketBackend, audit: AuditLog) -> None:
        self.incidents = incidents
        self.tickets = tickets
        self.audit = audit

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if not isinstance(event, Incident):
            return []
        known = self.incidents.get(event.fingerprint)
        if known is not None and known[0].revision >= event.revision:
            return []  # a stale or repeated revision
        prev = known[0] if known else None
        rc = event.root_cause
        detail = {
            "revision": event.revision,
            "root_cause": rc.entity if rc else None,
            "fault": rc.fault if rc else None,
            "confidence": rc.score if rc else None,
        }
        records = []
        ticket = self.tickets.find(event.fingerprint)
        if ticket is None:
            ticket = self.tickets.open(
                event.fingerprint,
                event.title,
                describe_incident(event),
                severity=event.severity,
                ts=event.ts,
            )
            records.append(
                self.audit.append(
                    ts=event.ts,
                    actor=ACTOR,
                    action="incident.opened",
                    subject=event.fingerprint,
                    detail={**detail, "ticket": ticket.number, "severity": event.severity},
                )
            )
        elif prev is not None and prev.root_cause != rc and event.status == "open":
            self.tickets.add_note(
                ticket, "Root cause updated.\n" + describe_incident(event), ts=event.ts
            )
            records.append(
                self.audit.append(
                    ts=event.ts,
                    actor=ACTOR,
                    action="incident.updated",
                    subject=event.fingerprint,
                    detail={**detail, "ticket": ticket.number},
                )
            )
        if event.status == "resolved" and ticket.state != "resolved":
            ticket = self.tickets.resolve(
                ticket,
                "All signals recovered; resolved by NetVigil.\n" + describe_incident(event),
                ts=event.ts,
            )
            records.append(
                self.audit.append(
                    ts=event.ts,
                    actor=ACTOR,
                    action="incident.resolved",
                    subject=event.fingerprint,
                    detail={
                        **detail,
                        "ticket": ticket.number,
                        "duration_s": round(event.ts - event.opened_ts, 3),
                    },
                )
            )
        self.incidents.put(event, ticket.number)
        return records
