"""The coordinator in four partitions (``coordinator.partitions``) on two ``netvigil worker``
processes sharing one data directory (its stores), each with worker files of its own (its
transactional id apart; both guarantees): the same tickets and the same action for each
incident as one partition on the embedded runtime; no ticket, change or action twice; one
audit chain that verifies."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from netvigil.config import Settings, load_settings
from netvigil.events import Event, Incident, Sample
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.remediation import ActionRecord, ActionStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.service import Service
from netvigil.streams.kafka.admin import group_lag
from netvigil.streams.kafka.keyed import group_of
from netvigil.streams.kafka.progress import is_mark
from tests.integration.kafka.conftest import (
    ListSource,
    Worker,
    events_in,
    publish,
    read_topic,
    stopped_after,
    wait_for,
)

PARTITIONS = 4  # the coordinator's; the topics have 4 too (settings_for)
SETTINGS = {"phase": "semi-autonomous", "poll_s": 10.0}
DONE = {"verified", "rolled_back", "timed_out", "refused", "rejected", "cancelled"}
MADE = {"verified", "rolled_back", "timed_out"}
"""Statuses of an action whose change reached the network."""


def coordinator_inputs(tmp: Path) -> list[Event]:
    """What the coordinator reads in a run of six faults on the twin: the incidents and the
    sampler's clock ticks, in the order they were published."""
    s = load_settings()
    got: list[Event] = []
    tmp.mkdir()
    svc = Service.build(s, twin=Service.plan_twin(s, fault_count=6, speed=0.0), data_dir=tmp)
    svc.runtime.listen("netvigil.incidents", lambda t, e: got.append(e))
    svc.runtime.listen("netvigil.samples", lambda t, e: got.append(e))
    asyncio.run(svc.run())
    svc.close()
    return [e for e in got if not isinstance(e, Sample) or e.tick]


def outcome(data: Path) -> dict[str, Any]:
    """What the coordinator left in a data directory."""
    tickets = LocalTickets(data / "tickets.db")
    actions = ActionStore(data / "actions.db")
    audit = AuditLog(data / "audit.db")
    try:
        return {
            "tickets": sorted((t.correlation_id, t.state) for t in tickets.all()),
            "changes": sorted((c.correlation_id, c.kind, c.state) for c in tickets.changes()),
            "actions": sorted(
                (r.incident, r.action, r.target, r.level, r.status) for r in actions.all()
            ),
            "requests": sorted(r.request_id for r in actions.all()),
            "order": order_of(actions),
            "audit": Counter((r.action, r.subject) for r in audit.records()),
            "verified": audit.verify().ok,
        }
    finally:
        tickets.close()
        actions.close()
        audit.close()


def order_of(actions: ActionStore) -> dict[str, list[tuple[int, str, bool]]]:
    """Each incident's actions in the order they were decided: (level, status, escalated)."""
    got: dict[str, list[ActionRecord]] = {}
    for r in actions.all():
        got.setdefault(r.incident, []).append(r)
    # an escalation is decided at the same event time as the failure that caused it
    return {
        k: [
            (r.level, r.status, r.escalated)
            for r in sorted(v, key=lambda r: (r.created_ts, r.escalated))
        ]
        for k, v in got.items()
    }


def one_decision_and_its_escalations(order: dict[str, list[tuple[int, str, bool]]]) -> bool:
    """Each incident was decided on once; any later action is the level-1 escalation of a
    change that was made and rolled back or timed out (the remediator's closed loop)."""
    for acts in order.values():
        if acts[0][2]:  # the first is a decision, not an escalation
            return False
        for before, (level, _, escalated) in pairwise(acts):
            if not (escalated and level == 1 and before[1] in ("rolled_back", "timed_out")):
                return False
    return True


@pytest.fixture
def workers(guaranteed: Settings, tmp_path: Path) -> Iterator[list[Worker]]:
    (tmp_path / "shared").mkdir()
    env = {
        "NETVIGIL_COORDINATOR__PARTITIONS": str(PARTITIONS),
        **{f"NETVIGIL_COORDINATOR__{k.upper()}": str(v) for k, v in SETTINGS.items()},
    }
    shared = tmp_path / "shared"
    started = [
        Worker(n, guaranteed, tmp_path, ["coordinator"], data=shared, own=tmp_path / n, env=env)
        for n in ("w1", "w2")
    ]
    with stopped_after(started) as w:
        yield w


@pytest.mark.timeout(900)
def test_four_coordinator_partitions_on_two_workers_act_once_as_one_does(
    kafka: str, settings: Settings, workers: list[Worker], tmp_path: Path
) -> None:
    inputs = coordinator_inputs(tmp_path / "twin")
    incidents = {e.fingerprint for e in inputs if isinstance(e, Incident)}
    assert len(incidents) >= 4

    # the reference: one partition, the embedded runtime, the same inputs and settings
    ref = load_settings()
    for k, v in SETTINGS.items():
        setattr(ref.coordinator, k, v)
    (tmp_path / "ref").mkdir()
    svc = Service.build(
        ref, data_dir=tmp_path / "ref", only=["coordinator"], sources=[ListSource(inputs)]
    )
    asyncio.run(svc.run())
    svc.close()
    expected = outcome(tmp_path / "ref")
    assert len(expected["tickets"]) == len(incidents) and expected["actions"]

    prefix = settings.kafka.topic_prefix
    group = group_of("coordinator", prefix)
    by_key = group + "-by-key"
    logs = [w.log for w in workers]
    every = {(by_key, p) for p in range(settings.kafka.partitions)}

    def shared() -> bool:  # both joined, the by-key partitions split between them
        got = [w.assigned("coordinator") & every for w in workers]
        return all(got) and set.union(*got) == every and not set.intersection(*got)

    wait_for("both workers to share the partitions", shared, 180, logs)
    publish(kafka, settings, inputs, tmp_path / "spool")

    topics = [prefix + "netvigil.incidents", prefix + "netvigil.samples", by_key]

    def state() -> object:
        return {"lag": group_lag(kafka, [group], topics), "got": outcome(tmp_path / "shared")}

    def done() -> bool:  # no lag, every ticket resolved, and nothing more for 5 s
        if any(g.lag for g in group_lag(kafka, [group], topics)):
            return False
        got = outcome(tmp_path / "shared")
        if len(got["tickets"]) < len(incidents) or any(s != "resolved" for _, s in got["tickets"]):
            return False
        time.sleep(5)
        return outcome(tmp_path / "shared") == got

    wait_for("the workers to finish", done, 600, logs, state)
    got = outcome(tmp_path / "shared")
    assert got["tickets"] == expected["tickets"]
    # a decision for the same incidents, every action finished, no change made twice
    assert {a[0] for a in got["actions"]} == {a[0] for a in expected["actions"]}
    assert all(a[4] in DONE for a in got["actions"]), got["actions"]
    made = Counter(a[:3] for a in got["actions"] if a[4] in MADE)
    assert made and max(made.values()) == 1, got["actions"]
    # one decision per incident, as with one partition; an incident may have one escalation
    # more or less: whether its change ran on its own (and was rolled back) depends on the
    # shared breaker, which partitions on two workers reach in another order than one does
    assert len(set(got["requests"])) == len(got["requests"]), got["requests"]
    assert one_decision_and_its_escalations(expected["order"]), expected["order"]
    assert one_decision_and_its_escalations(got["order"]), got["order"]
    # one change request per action, none twice
    changes = [c for c, _, _ in got["changes"]]
    assert sorted(changes) == sorted(set(changes)) == sorted(got["requests"])
    # the incidents' records as with one partition, one decision per action, one chain.
    # Which incidents' changes ran on their own, and which root cause a queued incident
    # was acted on for, may differ: the breaker, the change rate and max_active are shared,
    # and partitions on two workers reach them in another order than one does
    incident = Counter({k: n for k, n in got["audit"].items() if k[0].startswith("incident.")})
    assert incident == Counter(
        {k: n for k, n in expected["audit"].items() if k[0].startswith("incident.")}
    )
    chosen = ("action.decided", "action.none")
    decided = Counter(s for a, s in got["audit"].elements() if a in chosen)
    assert decided == Counter(a[0] for a in got["actions"])
    assert got["verified"]
    # both workers had incidents to handle: their by-key partitions carried some
    keyed = {
        r.partition
        for r in read_topic(kafka, by_key)
        if not is_mark(r.value) and any(isinstance(e, Incident) for e in events_in([r]))
    }
    for w in workers:
        assert {p for _, p in w.assigned("coordinator") & every} & keyed, (
            f"{w.name} handled no incident"
        )
