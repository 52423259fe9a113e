"""A preemptive change that does not hold: when the forecaster still predicts the crossing on
data taken after the change took effect, the resolver adds the next candidate; when the
prediction then does not come true, every change it made is withdrawn. Driven event by event
with a recording executor and a stand-in for the twin's view forward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from netvigil.config import load_settings
from netvigil.events import AuditRecord, Event, Risk, Sample
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.resolvers.assemble import build_coordinator
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.resolvers.catalog import ActionSpec, Facts
from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from netvigil.twin.foresight import Outlook

T0 = 1_767_571_200.0


class Recorder:
    """Applies nothing, remembers what it was asked (inline, like the twin's executor)."""

    name = "recorder"
    runs_inline = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        self.calls.append((action, ops[0].op if ops else ""))
        return ExecOutcome(True, "recorded", dry_run)


class Forward:
    """Every candidate passes on the forecast; without the change the link would be fine."""

    def judge(
        self, spec: ActionSpec, facts: Facts, ops: list[Op], outlook: Outlook, **kw: float
    ) -> tuple[bool, list[str], dict[str, Any]]:
        return True, [], {"target_util_after": 0.8}

    def without(self, spec: ActionSpec, facts: Facts, ops: list[Op], t: float) -> float | None:
        return 0.5


def coordinator(tmp: Path, executor: Recorder) -> CoordinatorProcessor:
    s = load_settings()
    s.coordinator.phase = "autonomous"  # type: ignore[assignment]
    topo = MemoryTopology()
    load_topology(None, topo)
    coord, _, _, _ = build_coordinator(
        s,
        tmp,
        topo=topo,
        incidents=IncidentStore(tmp / "incidents.db"),
        tickets=LocalTickets(tmp / "tickets.db"),
        audit=AuditLog(tmp / "audit.db"),
        executor=executor,
    )
    assert coord.prevention is not None
    coord.prevention.foresight = Forward()
    return coord


RISK = Risk(
    ts=T0,
    risk_id="risk-ramp",
    status="open",
    revision=1,
    kind="congestion",
    device="edge1",
    entity="edge1:Ethernet0",
    signal="if.out_util",
    opened_ts=T0,
    predicted_ts=T0 + 2700,
    confidence=0.9,
    threshold=0.9,
    level=0.5,
    trend_per_s=0.00015,
)


async def feed(coord: CoordinatorProcessor, *events: Event) -> list[Event]:
    out: list[Event] = []
    for e in events:
        out += await coord.process(e, None)
    return out


def sample(ts: float) -> list[Event]:
    """The watched series (well below the threshold) and a clock tick."""
    return [
        Sample(ts=ts, device="edge1", kpi="if.out_util", interface="Ethernet0", value=0.5),
        Sample(ts=ts + 1, device="core1"),
    ]


async def test_a_change_that_does_not_hold_gets_the_next_candidate_then_both_go(
    tmp_path: Path,
) -> None:
    executor = Recorder()
    coord = coordinator(tmp_path, executor)
    prev = coord.prevention
    assert prev is not None
    await feed(coord, RISK, *sample(T0 + 30))
    first = prev.store.get("risk-ramp")
    assert first is not None and first.plan["chosen"] == "igp_metric_change"  # steer first
    assert executor.calls == [("igp_metric_change", "update")]
    # 15 minutes on, the forecaster still predicts the crossing: the steering does not hold
    again = msgspec.structs.replace(RISK, ts=T0 + 900, revision=2, predicted_ts=T0 + 2400)
    out = await feed(coord, again, *sample(T0 + 930))
    assert "risk.not_held" in [e.action for e in out if isinstance(e, AuditRecord)]
    second = prev.store.get("risk-ramp")
    assert second is not None and second.plan["chosen"] == "qos_adjust"
    assert second.plan["previous"] == [first.request_id]
    assert executor.calls[-1] == ("qos_adjust", "update")
    # no harm by the deadline plus the hold time: both changes are withdrawn
    hold = prev.policy.prevention.hold_s
    await feed(coord, *sample(T0 + 2400 + hold + 60))
    done = prev.store.get("risk-ramp")
    assert done is not None and done.outcome == "false"
    rolled = [a for a in coord.remediator.store.all() if a.preemptive.get("withdrawn")]  # type: ignore[union-attr]
    assert {a.action for a in rolled} == {"igp_metric_change", "qos_adjust"}
    assert [c[0] for c in executor.calls[-2:]] == ["qos_adjust", "igp_metric_change"]
