"""Interfaces of the resolver stage: ticket backends (local SQLite, ServiceNow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Ticket", "TicketBackend"]


@dataclass(frozen=True)
class Ticket:
    """A ticket as NetVigil knows it, whatever system holds it."""

    id: str
    number: str
    correlation_id: str
    state: Literal["open", "resolved"]
    title: str


class TicketBackend(Protocol):
    """Where incidents become tickets. Every operation is idempotent by correlation id."""

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

    def notes(self, ticket: Ticket) -> list[str]: ...

    def close(self) -> None: ...
