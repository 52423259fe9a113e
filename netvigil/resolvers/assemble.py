"""Builds the acting coordinator from settings: policy, catalog, executor, locks, state.

Everything the resolver stage keeps lives in the data directory: ``actions.db`` (actions and
their life), ``locks.db`` (entity leases, shared by every worker using the directory; in
the shared Neo4j instead when ``graph.url`` is Neo4j, see :func:`open_locks`) and
``autonomy.db`` (breakers, fallbacks, change counters; the CLI changes them), ``risks.db``
(predicted harms and their outcomes), ``record.db`` (each domain's track record) and
``feedback.db`` (operators' judgements and the suppressions they made; the console and the
CLI write them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netvigil.config import Settings
from netvigil.errors import ConfigError
from netvigil.graph.base import TopologyStore
from netvigil.redaction import redact_urls
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import Executor, LockManager, Op, TicketBackend
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.catalog import ActionSpec, Facts, load_catalog
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.executors.registry import ExecutorContext, open_executor
from netvigil.resolvers.executors.twin import TwinExecutor, change_of
from netvigil.resolvers.feedback import FeedbackLoop, FeedbackStore
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.locks import SqliteLocks
from netvigil.resolvers.policy import default_policy, load_policy
from netvigil.resolvers.prevention import PreventionManager
from netvigil.resolvers.record import TrackRecord
from netvigil.resolvers.remediation import ActionStore, Remediator, Validator
from netvigil.resolvers.riskstore import RiskStore
from netvigil.twin.foresight import Outlook, counterfactual, error_share, forecast_what_if
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import what_if

__all__ = [
    "PreventionParts",
    "TwinForesight",
    "build_coordinator",
    "open_locks",
    "twin_validator",
]


@dataclass
class PreventionParts:
    """The stores of prevention and earned autonomy the console and the CLI read and write."""

    risks: RiskStore
    record: TrackRecord
    feedback: FeedbackStore

    def close(self) -> None:
        self.risks.close()
        self.record.close()
        self.feedback.close()


class TwinForesight:
    """The twin's view forward for preemptive changes (:mod:`netvigil.twin.foresight`)."""

    def __init__(
        self, net: TwinNetwork, congestion: float = 0.9, growth: str = "direction"
    ) -> None:
        self.net = net
        self.congestion = congestion
        self.growth = growth
        """Where forecast growth comes from (:data:`netvigil.twin.foresight.GROWTH_MODES`):
        pinned to the at-risk direction on the twin, whose ramps are surges no routing
        moves; the crossing demands' growth on the lab, a real network whose growth is
        traffic between its routers."""

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
        change, unknown = change_of(self.net.topo, ops)
        if unknown:
            return False, [f"the twin cannot model: {'; '.join(unknown)}"], {}
        v = forecast_what_if(
            self.net,
            change,
            outlook,
            at=at,
            lookahead_s=lookahead_s,
            congestion=self.congestion,
            growth=self.growth,
            drain=facts.fault == "link_errors",
        )
        return v.ok, v.reasons, v.numbers

    def without(self, spec: ActionSpec, facts: Facts, ops: list[Op], t: float) -> float | None:
        change, unknown = change_of(self.net.topo, ops)
        if unknown:
            return None
        if facts.fault == "link_errors":  # what it would corrupt, with or without the change
            return error_share(self.net, facts.target, t)
        return counterfactual(self.net, change, facts.target, facts.src or facts.a, t)


def twin_validator(net: TwinNetwork) -> Validator:
    """The level-3 gate: the change on a copy of the twin, judged by :func:`what_if`."""

    def validate(
        spec: ActionSpec, facts: Facts, ops: list[Any], t: float
    ) -> tuple[bool, list[str], dict[str, Any]]:
        change, unknown = change_of(net.topo, ops)
        if unknown:
            return False, [f"the twin cannot model: {'; '.join(unknown)}"], {}
        verdict = what_if(net, change, t=t, target=facts.target)
        return verdict.ok, verdict.reasons, verdict.numbers

    return validate


def open_locks(settings: Settings, data: Path, topo: TopologyStore) -> LockManager:
    """The lock table ``coordinator.locks`` names: SQLite in the data directory, or the
    shared Neo4j of ``graph.url`` (what workers on several machines need)."""
    from netvigil.graph.neo4j import Neo4jTopology
    from netvigil.resolvers.locks_neo4j import Neo4jLocks

    where = settings.coordinator.locks
    if where == "auto":
        where = "graph" if isinstance(topo, Neo4jTopology) else "sqlite"
    if where == "sqlite":
        return SqliteLocks(data / "locks.db")
    if not isinstance(topo, Neo4jTopology):
        raise ConfigError(
            "coordinator.locks = graph needs the Neo4j topology store "
            f"(graph.url = neo4j://HOST:PORT), not {redact_urls(settings.graph.url)}"
        )
    return Neo4jLocks(topo)


def build_coordinator(
    settings: Settings,
    data: Path,
    *,
    topo: TopologyStore,
    incidents: IncidentStore,
    tickets: TicketBackend,
    audit: AuditLog,
    network: TwinNetwork | None = None,
    clock: Callable[[], float] | None = None,
    executor: Executor | None = None,
) -> tuple[CoordinatorProcessor, AutonomyState, ActionStore, PreventionParts]:
    c = settings.coordinator
    policy = load_policy(c.policy) if c.policy else default_policy(c.phase)
    catalog = load_catalog(c.catalog)
    on_lab = c.executor in ("lab", "lab-ansible")
    if network is None and on_lab:
        from netvigil.lab.hook import lab_twin

        network = lab_twin(topo)  # the level-3 gate: what-if on a twin of the lab
    if executor is None:
        twin = TwinExecutor(network, clock or (lambda: 0.0)) if network is not None else None
        executor = open_executor(ExecutorContext(settings, catalog, data, twin))
    autonomy = AutonomyState(data / "autonomy.db")
    store = ActionStore(data / "actions.db")
    remediator = Remediator(
        catalog=catalog,
        policy=policy,
        executor=executor,
        locks=open_locks(settings, data, topo),
        autonomy=autonomy,
        tickets=tickets,
        audit=audit,
        store=store,
        validator=twin_validator(network) if network is not None else None,
        dry_run=c.dry_run,
        lock_ttl_s=c.lock_ttl_s,
        lock_wait_s=c.lock_wait_s,
        timeout_s=c.timeout_s,
    )

    def metrics() -> dict[str, int]:
        if network is None:
            return {}
        return {lk.id: network.metric(lk) for lk in topo.links()}

    parts = PreventionParts(
        RiskStore(data / "risks.db"),
        TrackRecord(data / "record.db"),
        FeedbackStore(data / "feedback.db"),
    )
    prevention = PreventionManager(
        remediator=remediator,
        store=parts.risks,
        record=parts.record,
        topo=topo,
        foresight=(
            TwinForesight(
                network,
                settings.detector.util_threshold,
                growth="demands" if on_lab else "direction",
            )
            if network is not None
            else None
        ),
        metric_of=metrics,
    )
    feedback = FeedbackLoop(parts.feedback, parts.record, audit, incidents, policy, topo)
    coord = CoordinatorProcessor(
        incidents,
        tickets,
        audit,
        remediator=remediator,
        topo=topo,
        max_active=c.max_active,
        poll_s=c.poll_s,
        partitions=c.partitions,
        metric_of=metrics,
        prevention=prevention,
        feedback=feedback,
    )
    return coord, autonomy, store, parts
