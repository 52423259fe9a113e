"""The human of autonomy level 1, modelled with an explicit response time.

At level 1 NetVigil proposes a change (a *normal* change awaiting approval) and a person
decides. To measure time to repair with and without autonomy on the same scenario, the mission
needs that person: :class:`Operator` reads the actions topic, and ``ack_s + approve_s``
simulated seconds after each proposal it approves the change through the ticket backend,
exactly as an operator approving in the console does (``TicketBackend.decide_change``, local or
ServiceNow); the coordinator then sees the approval on its next poll of
the ticket system and runs the action. The defaults (10 minutes to acknowledge the page, 5 to
review and approve the change: 15 minutes in all) are an assumption, stated wherever the
figures are shown, and can be changed (``--ack-s``, ``--approve-s``). The operator approves
every proposal; it never repairs anything by hand, so faults with no catalog action are left
to expire in both runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netvigil.events import ActionRequest, Event
from netvigil.resolvers.base import TicketBackend

__all__ = ["Operator", "OperatorModel"]


@dataclass(frozen=True)
class OperatorModel:
    """How long the modelled human takes, in simulated seconds."""

    ack_s: float = 600.0
    """From the proposal (the page) to the operator looking at it."""
    approve_s: float = 300.0
    """From looking at the proposed change to approving it."""

    @property
    def response_s(self) -> float:
        return self.ack_s + self.approve_s

    def describe(self) -> str:
        return f"{self.ack_s:.0f} s acknowledge + {self.approve_s:.0f} s approve"


@dataclass
class Operator:
    """Approves proposed changes ``model.response_s`` after they were proposed.

    Listen with :meth:`on_action` on ``netvigil.actions`` and call the instance as a twin
    step hook (with the simulated time), so decisions happen on the simulated clock.
    """

    model: OperatorModel
    tickets: TicketBackend
    due: dict[str, float] = field(default_factory=dict)
    """request id -> simulated time the approval is given"""
    approved: dict[str, float] = field(default_factory=dict)
    """request id -> simulated time the approval was given"""

    def on_action(self, topic: str, event: Event) -> None:
        if isinstance(event, ActionRequest) and event.status == "proposed":
            self.due.setdefault(event.request_id, event.ts + self.model.response_s)

    def __call__(self, t: float) -> None:
        for rid, due in sorted(self.due.items(), key=lambda kv: kv[1]):
            if due > t:
                continue
            del self.due[rid]
            change = self.tickets.find_change(rid)
            if change is None or change.state != "requested":
                continue  # cancelled or already decided meanwhile
            self.tickets.decide_change(rid, True, f"operator (modelled: {self.model.describe()})")
            self.approved[rid] = t
