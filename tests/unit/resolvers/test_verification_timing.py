"""Verification counts the samples taken at its deadline.

The coordinator ticks on the first metric of each new timestamp, before the other samples of
that timestamp arrive; and an incident can reach it after it already read the next samples.
With 60 s sampling and a 120 s window, a change verified by the sample at the deadline used to
be rolled back (the mission bench found this on growth ramps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.events import ActionResult, Metric
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.catalog import Facts, load_catalog
from netvigil.resolvers.locks import SqliteLocks
from netvigil.resolvers.policy import default_policy
from netvigil.resolvers.remediation import ActionStore, Remediator
from netvigil.resolvers.tickets.local import LocalTickets


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[list[Op]] = []

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        self.calls.append(ops)
        return ExecOutcome(True, "ok", dry_run)


def util(ts: float, value: float) -> Metric:
    return Metric(ts=ts, device="a", name="if.out_util", value=value, labels={"interface": "1"})


def test_the_sample_at_the_deadline_verifies_the_change(tmp_path: Path) -> None:
    executor = Recording()
    rem = Remediator(
        catalog=load_catalog(None),
        policy=default_policy("autonomous"),
        executor=executor,
        locks=SqliteLocks(tmp_path / "locks.db"),
        autonomy=AutonomyState(tmp_path / "autonomy.db"),
        tickets=LocalTickets(),
        audit=AuditLog(),
        store=ActionStore(),
    )
    facts = Facts(
        target="a--b",
        fault="congestion",
        confidence=1.0,
        a="a",
        b="b",
        a_if="1",
        b_if="1",
        src="a",
        src_if="1",
        orig_metric=10,
    )
    rem.plan("fp", facts, devices=[("a", "core", "")], blast_radius=1, evidence=[], ts=0.0)
    (rec,) = rem.store.open()
    assert rec.action == "qos_adjust" and rec.status == "verifying" and rec.deadline == 120.0
    out = rem.tick(120.0)  # the first sample of t=120 triggers the tick; a's is not in yet
    assert not [e for e in out if isinstance(e, ActionResult)]
    rem.on_metric(util(120.0, 0.6))
    out = rem.tick(180.0)
    (result,) = [e for e in out if isinstance(e, ActionResult)]
    assert result.outcome == "succeeded"
    assert len(executor.calls) == 1  # applied once, never rolled back
