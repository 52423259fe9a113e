"""Interfaces of the resolver stage: tickets and changes, locks, executors.

Implementations import these, not each other: ``tickets/local.py`` and
``tickets/servicenow.py`` are both :class:`TicketBackend`; ``locks.py`` holds the embedded
:class:`LockManager`; ``executors/`` hold one :class:`Executor` per way of touching a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from netvigil.errors import NetVigilError

__all__ = [
    "ChangeDecided",
    "ChangeKind",
    "ChangeRecord",
    "ChangeState",
    "ExecOutcome",
    "Executor",
    "Lease",
    "LockManager",
    "LockRefusal",
    "Op",
    "ProblemDesk",
    "SyncUpdate",
    "Ticket",
    "TicketBackend",
]

ChangeKind = Literal["normal", "standard"]
ChangeState = Literal[
    "requested", "deciding", "approved", "rejected", "implemented", "failed", "closed"
]
"""``deciding``: a person decided through NetVigil and the ticket system has not confirmed yet."""


@dataclass(frozen=True)
class Ticket:
    """A ticket as NetVigil knows it, whatever system holds it."""

    id: str
    number: str
    correlation_id: str
    state: Literal["open", "resolved"]
    title: str


@dataclass(frozen=True)
class ChangeRecord:
    """A change request: a normal change awaits approval, a standard change is pre-approved."""

    id: str
    number: str
    correlation_id: str
    kind: ChangeKind
    state: ChangeState
    title: str


@dataclass(frozen=True)
class SyncUpdate:
    """Something a human did in the ticket system, seen by polling it."""

    kind: Literal["incident_resolved", "incident_judged", "change_approved", "change_rejected"]
    """``incident_judged``: a human set a close code on an incident NetVigil had already
    resolved (a judgement after the fact)."""
    correlation_id: str
    number: str
    note: str = ""
    close_code: str = ""
    """The close code a human resolved (or judged) an incident with."""


class ChangeDecided(NetVigilError):
    """A change cannot be decided: it is unknown, or no longer waiting for approval."""


class TicketBackend(Protocol):
    """Where incidents become tickets and actions become change requests.

    Every creating operation is idempotent by correlation id: calling it again (a retry after
    a timeout, a redelivered event) returns the record that already exists.
    """

    def open(
        self, correlation_id: str, title: str, description: str, *, severity: str, ts: float
    ) -> Ticket:
        """Open a ticket, or return the one already open under ``correlation_id``."""
        ...

    def find(self, correlation_id: str) -> Ticket | None: ...

    def add_note(self, ticket: Ticket, text: str, *, ts: float) -> None:
        """Append a work note."""
        ...

    def resolve(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        """Resolve with a closing note; resolving a resolved ticket changes nothing."""
        ...

    def reopen(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        """Reopen a resolved ticket with a note (its incident came back); reopening an open
        ticket changes nothing."""
        ...

    def notes(self, ticket: Ticket) -> list[str]: ...

    def open_change(
        self,
        correlation_id: str,
        *,
        incident: str,
        kind: ChangeKind,
        title: str,
        description: str,
        devices: list[str],
        ts: float,
    ) -> ChangeRecord:
        """Open a change request linked to the incident ticket ``incident`` (its correlation
        id) and to the configuration items named ``devices``; idempotent by correlation id."""
        ...

    def find_change(self, correlation_id: str) -> ChangeRecord | None: ...

    def update_change(
        self, change: ChangeRecord, state: ChangeState, note: str, *, ts: float
    ) -> ChangeRecord:
        """Move a change to ``state`` with a work note."""
        ...

    def decide_change(self, correlation_id: str, approved: bool, who: str) -> ChangeRecord:
        """A person approves or rejects a requested change through NetVigil (the console, the
        CLI). The decision is made in the ticket system, where approvals belong: :meth:`sync`
        reports it once the ticket system has it, as it reports a decision taken there.
        Raises :class:`ChangeDecided` when the change is unknown or no longer ``requested``
        (the first decision wins, wherever it was taken)."""
        ...

    def sync(self) -> list[SyncUpdate]:
        """Poll for what humans did since the last call: resolved incidents, approved or
        rejected changes. Each update is reported once."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ProblemDesk(Protocol):
    """Where a predicted harm (a risk) is ticketed as a *problem*, not an incident: a ticket
    backend that also keeps problem records. Idempotent by correlation id like the rest."""

    def open_problem(
        self, correlation_id: str, title: str, description: str, *, ts: float
    ) -> Ticket: ...

    def find_problem(self, correlation_id: str) -> Ticket | None: ...

    def note_problem(self, ticket: Ticket, text: str, *, ts: float) -> None: ...

    def close_problem(self, ticket: Ticket, code: str, note: str, *, ts: float) -> Ticket:
        """Close with a code (``averted``, ``came_true``, ``false``) and a note; closing a
        closed problem changes nothing."""
        ...


# --------------------------------------------------------------------------- locks


@dataclass(frozen=True)
class Lease:
    """Exclusive, expiring ownership of some entities. ``token`` is a fencing token: it grows
    with every grant of an entity, so a holder whose lease expired can be told apart."""

    entities: tuple[str, ...]
    holder: str
    token: int
    expires: float


@dataclass(frozen=True)
class LockRefusal:
    """Why a lease was not granted: who holds what, until when."""

    entity: str
    holder: str
    expires: float

    @property
    def reason(self) -> str:
        return f"{self.entity} is locked by {self.holder} until {self.expires:.0f}"


class LockManager(Protocol):
    """Exclusive, expiring locks on target entities (devices, links, interfaces, policies)."""

    def acquire(
        self, entities: list[str], holder: str, *, ttl_s: float, now: float
    ) -> Lease | LockRefusal:
        """Grant all of ``entities`` to ``holder`` or none of them."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the entities back; a lease that already expired and was re-granted is ignored."""
        ...

    def valid(self, lease: Lease, *, now: float) -> bool:
        """Whether ``lease`` still owns all its entities (check before touching a device)."""
        ...


# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class Op:
    """One configuration operation on one device (gNMI semantics: update, replace, delete)."""

    device: str
    op: Literal["update", "replace", "delete"]
    path: str
    value: Any = None


@dataclass(frozen=True)
class ExecOutcome:
    ok: bool
    detail: str
    dry_run: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    applied_ts: float | None = None
    """When the change took effect on the network's clock, where that is not the decision's
    event time (the twin runs ahead of a pipeline that lags behind it); verification counts
    from then."""


class Executor(Protocol):
    """Applies the operations of one action step to devices."""

    name: str
    runs_inline: bool
    """True where execute only changes in-process state and returns at once (the twin): it
    runs on the coordinator's loop. False where it talks to devices: the coordinator runs it
    in a thread of its own with a deadline (:mod:`netvigil.resolvers.calls`)."""

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        """Apply ``ops`` (or, for playbook executors, run the action's playbook with
        ``params``); with ``dry_run`` check and report only, change nothing."""
        ...
