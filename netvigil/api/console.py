"""What the console reads and acts on: one :class:`Console` per application.

The service builds one over its stores (``netvigil.api.server``); tests build their own over
temporary stores. Routes reach it through :func:`netvigil.api.guard.console_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netvigil.analytics.slo import SLO
from netvigil.api.auth import FailureLimiter, TokenStore
from netvigil.api.base import ActionQueue, Breaker, Policy
from netvigil.api.metrics import Meters
from netvigil.api.prevention import PreventionDesk
from netvigil.api.services import SloBoard
from netvigil.graph.base import TopologyStore
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import TicketBackend
from netvigil.resolvers.incidents import IncidentStore

__all__ = ["Console"]


@dataclass
class Console:
    """Everything the console reads or acts on; the service builds one, tests build their own."""

    incidents: IncidentStore
    audit: AuditLog
    topology: TopologyStore
    tickets: TicketBackend
    actions: ActionQueue
    breaker: Breaker
    policy: Policy
    tokens: TokenStore
    stats: Callable[[], dict[str, dict[str, int]]] = dict
    dead_letter_count: Callable[[], int] = lambda: 0
    ready: Callable[[], bool] = lambda: True
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    meters: Meters = field(default_factory=Meters)
    slos: Sequence[SLO] = ()
    slo_board: SloBoard = field(default_factory=SloBoard)
    prevention: PreventionDesk | None = None
    """Risks, track records, judgements and suppressions (:mod:`netvigil.api.prevention`)."""
