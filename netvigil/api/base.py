"""What the console needs from the coordinator's oversight parts, as small Protocols.

The pending-action queue, the circuit breaker and the autonomy policy are owned by the
resolvers (their real implementations are built there); the console only asks these questions
of them, so an implementation plugs in without the API changing. The service's are
:mod:`netvigil.api.resolvers` (over the resolvers' action store, ticket backend and autonomy
state); the API's unit tests use fakes of their own.

Decisions are race-safe by contract: :meth:`ActionQueue.decide` decides a proposed action
exactly once. Repeating the same decision by the same actor returns the stored decision
(idempotent retries); any other decision on a decided action raises :class:`Conflict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from netvigil.errors import NetVigilError

__all__ = [
    "PHASES",
    "ActionQueue",
    "Breaker",
    "BreakerState",
    "Conflict",
    "Decision",
    "NotFound",
    "PendingAction",
    "Policy",
]

Decision = Literal["approved", "rejected"]
PHASES = ("passive", "semi-autonomous", "autonomous")


class NotFound(NetVigilError):
    """The action, incident or entity asked for does not exist."""


class Conflict(NetVigilError):
    """The request lost a race or contradicts a decision already made."""


@dataclass
class PendingAction:
    """One remediation proposed for an incident, waiting for (or past) a human decision."""

    request_id: str
    incident: str
    action: str
    target: str
    level: int
    reason: str
    proposed_ts: float
    status: str = "proposed"
    """proposed, approved, rejected, then executed/failed once an approved action ran."""
    decided_by: str | None = None
    decided_ts: float | None = None
    outcome: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BreakerState:
    """The circuit breaker over autonomous actions: open means no action runs on its own."""

    open: bool
    reason: str = ""
    changed_by: str = ""
    changed_ts: float | None = None


class ActionQueue(Protocol):
    def list(self, status: str | None = None) -> list[PendingAction]: ...

    def get(self, request_id: str) -> PendingAction:
        """Raises NotFound."""
        ...

    async def decide(
        self, request_id: str, decision: Decision, actor: str, reason: str = ""
    ) -> PendingAction:
        """Decide once; same decision by same actor again is a no-op; otherwise Conflict."""
        ...


class Breaker(Protocol):
    def view(self) -> BreakerState: ...

    async def trip(self, actor: str, reason: str) -> BreakerState: ...

    async def reset(self, actor: str, reason: str) -> BreakerState: ...


class Policy(Protocol):
    def phases(self) -> dict[str, str]:
        """The deployment phase of each domain (e.g. ``{"routing": "passive"}``)."""
        ...

    async def set_phase(self, domain: str, phase: str, actor: str) -> dict[str, str]:
        """Raises NotFound for an unknown domain, ValueError for an unknown phase."""
        ...
