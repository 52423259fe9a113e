"""Verification counts the samples taken at its deadline, and starts when the change took
effect.

The coordinator ticks on the first metric of each new timestamp, before the other samples of
that timestamp arrive; and an incident can reach it after it already read the next samples.
With 60 s sampling and a 120 s window, a change verified by the sample at the deadline used to
be rolled back (the mission bench found this on growth ramps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.events import ActionResult, Sample
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
    runs_inline = True

    def __init__(self, applied_ts: float | None = None) -> None:
        self.calls: list[list[Op]] = []
        self.applied_ts = applied_ts

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        self.calls.append(ops)
        return ExecOutcome(True, "ok", dry_run, applied_ts=self.applied_ts)


def util(ts: float, value: float) -> Sample:
    return Sample(ts=ts, device="a", kpi="if.out_util", value=value, interface="1")


def _planned(tmp_path: Path, executor: Recording) -> Remediator:
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
    return rem


def test_the_sample_at_the_deadline_verifies_the_change(tmp_path: Path) -> None:
    executor = Recording()
    rem = _planned(tmp_path, executor)
    (rec,) = rem.store.open()
    assert rec.action == "qos_adjust" and rec.status == "verifying" and rec.deadline == 120.0
    out = rem.tick(120.0)  # the first sample of t=120 triggers the tick; a's is not in yet
    assert not [e for e in out if isinstance(e, ActionResult)]
    rem.on_sample(util(120.0, 0.6))
    out = rem.tick(180.0)
    (result,) = [e for e in out if isinstance(e, ActionResult)]
    assert result.outcome == "succeeded"
    assert len(executor.calls) == 1  # applied once, never rolled back


def test_verification_counts_from_when_the_change_took_effect(tmp_path: Path) -> None:
    """The network's clock is ahead of the decision's event time (the Kafka runtime lags the
    twin): samples from before the change took effect do not fail it, and the window starts
    when it did."""
    rem = _planned(tmp_path, Recording(applied_ts=150.0))  # decided at 0, applied at 150
    (rec,) = rem.store.open()
    assert (rec.executed_ts, rec.deadline) == (150.0, 270.0)
    rem.on_sample(util(140.0, 1.0))  # still congested: taken before the change
    assert not [e for e in rem.tick(200.0) if isinstance(e, ActionResult)]
    rem.on_sample(util(260.0, 0.6))
    (result,) = [e for e in rem.tick(260.0) if isinstance(e, ActionResult)]
    assert result.outcome == "succeeded"
