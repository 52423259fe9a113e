"""The coordinator in partitions (``coordinator.partitions``): keys, lanes, ownership, and on
the embedded runtime the same tickets, changes and audit with N partitions as with one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from netvigil.events import Incident, Risk, RootCause, Sample
from netvigil.graph.importers import load_topology
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.coordinator import KEY, CoordinatorProcessor, partition_of
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.tickets.local import LocalTickets
from tests.unit.resolvers import test_actions_off_the_loop as off_loop
from tests.unit.resolvers.test_loop import _run


def _bare(tmp: Path, n: int) -> CoordinatorProcessor:
    tmp.mkdir(parents=True, exist_ok=True)
    return CoordinatorProcessor(
        IncidentStore(tmp / "incidents.db"),
        LocalTickets(tmp / "tickets.db"),
        AuditLog(tmp / "audit.db"),
        partitions=n,
    )


def _incident(fp: str, revision: int, root: str) -> Incident:
    return Incident(
        ts=100.0 + revision,
        fingerprint=fp,
        status="open",
        revision=revision,
        opened_ts=100.0,
        title=f"{root} down",
        root_causes=[RootCause(entity=root, kind="device", fault="down", score=0.9)],
    )


def _risk(risk_id: str, device: str) -> Risk:
    return Risk(
        ts=50.0,
        risk_id=risk_id,
        status="open",
        revision=1,
        kind="congestion",
        device=device,
        entity=f"{device}:1",
        signal="if.util",
        opened_ts=50.0,
        predicted_ts=500.0,
        confidence=0.8,
    )


def test_one_partition_keys_everything_to_resolver_as_before(tmp_path: Path) -> None:
    c = _bare(tmp_path, 1)
    events = [
        _incident("fp-a", 1, "r1"),
        _risk("risk-x", "r2"),
        Sample(ts=1.0, device="r1"),
        Sample(ts=1.0, device="r1", kpi="if.util", interface="1", value=0.5),
    ]
    assert {tuple(c.keys(e)) for e in events} == {(KEY,)}
    assert {c.key(e) for e in events} == {KEY}
    assert c.new_state_for(KEY) is None
    assert list(c.lanes) == [KEY]


def test_incidents_and_risks_go_to_one_partition_by_their_id_and_samples_to_all(
    tmp_path: Path,
) -> None:
    c = _bare(tmp_path, 3)
    every = ("resolver-0", "resolver-1", "resolver-2")
    # every revision of an incident goes where its fingerprint says, whatever it blames
    revisions = [_incident("fp-a", r, root) for r, root in enumerate(["r1", "r7", "r1--r7"], 1)]
    (key,) = {tuple(c.keys(i)) for i in revisions}
    assert key == (f"resolver-{partition_of('fp-a', 3)}",)
    assert c.keys(_risk("risk-x", "r2")) == (f"resolver-{partition_of('risk-x', 3)}",)
    assert c.keys(Sample(ts=1.0, device="r1")) == every
    assert c.keys(Sample(ts=1.0, device="r1", kpi="if.util", interface="1")) == every
    # each key's state names its partition, and its lane is its own
    assert [c.new_state_for(k) for k in every] == list(every)
    lanes = [c.lane(k) for k in every]
    assert [ln.index for ln in lanes] == [0, 1, 2] and len({id(ln.queue) for ln in lanes}) == 3
    for stray in ("resolver-3", KEY):  # keys of another partition count
        with pytest.raises(ValueError, match="no coordinator partition"):
            c.lane(stray)


def test_the_partition_hash_spreads_ids_and_is_the_same_in_another_process() -> None:
    ids = [f"{i:016x}" for i in range(2000)]
    counts = Counter(partition_of(i, 4) for i in ids)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 400  # 500 each on average
    assert {partition_of(i, 1) for i in ids} == {0}
    code = (
        "from netvigil.resolvers.coordinator import partition_of;"
        f"print([partition_of(i, 4) for i in {ids[:50]!r}])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == str([partition_of(i, 4) for i in ids[:50]])


def test_a_partition_owns_the_incidents_and_risks_that_hash_to_it(tmp_path: Path) -> None:
    c = _bare(tmp_path, 2)
    fps = [f"fp-{i}" for i in range(20)] + [f"risk-{i}" for i in range(20)]
    for k in ("resolver-0", "resolver-1"):
        c._lane = c.lane(k)
        owned = {fp for fp in fps if c._owns(fp)}
        assert owned == {fp for fp in fps if f"resolver-{partition_of(fp, 2)}" == k}
    assert c._owner is not None and _bare(tmp_path / "one", 1)._owner is None


def _mission(tmp: Path, partitions: int, phase: str) -> dict[str, Any]:
    """Six faults of three kinds on the demo twin with ``partitions`` coordinator
    partitions; semi-autonomous (changes run on their own) or passive with every proposal
    approved in the ticket system at once (approvals are polled by partition 0 and run by
    their owner's partition); what came out of the coordinator."""
    tmp.mkdir()
    svc = _run(
        tmp,
        None,
        phase=phase,
        kinds="link_down,congestion,node_down",
        approve=phase == "passive",
        faults=6,
        partitions=partitions,
    )
    try:
        tickets = svc.tickets
        assert isinstance(tickets, LocalTickets)
        coordinator = next(p for p in svc.processors if isinstance(p, CoordinatorProcessor))
        return {
            "tickets": sorted((t.correlation_id, t.state) for t in tickets.all()),
            "changes": Counter((c.kind, c.state) for c in tickets.changes()),
            "actions": sorted(
                (r.incident, r.action, r.target, r.level, r.status) for r in svc.actions.all()
            ),
            "audit": Counter((r.action, r.subject) for r in svc.audit.records()),
            "verified": svc.audit.verify().ok,
            "lanes": sorted(coordinator.lanes),
        }
    finally:
        svc.close()


@pytest.mark.parametrize("phase", ["semi-autonomous", "passive"])
def test_partitions_give_the_same_tickets_changes_and_audit_as_one(
    tmp_path: Path, phase: str
) -> None:
    one = _mission(tmp_path / "one", 1, phase)
    three = _mission(tmp_path / "three", 3, phase)
    # the reference did something worth comparing: incidents on more than one partition,
    # tickets, and changes that ran
    fps = [fp for fp, _ in one["tickets"]]
    assert len(fps) >= 4 and len({partition_of(fp, 3) for fp in fps}) >= 2
    assert any(state == "closed" for _, state in one["changes"])
    assert ("action.executed" in {a for a, _ in one["audit"]}) and (
        phase != "passive" or "action.approved" in {a for a, _ in one["audit"]}
    )
    assert one["lanes"] == [KEY] and three["lanes"] == ["resolver-0", "resolver-1", "resolver-2"]
    for what in ("tickets", "changes", "actions", "audit"):
        assert three[what] == one[what], what
    assert one["verified"] and three["verified"]


def _append_many(path: str, who: str, n: int) -> None:
    log = AuditLog(path, key="k")
    for i in range(n):
        log.append(ts=float(i), actor=who, action="x", subject=f"{who}-{i}")
    log.close()


def test_two_processes_appending_to_one_audit_log_keep_one_verified_chain(
    tmp_path: Path,
) -> None:
    """Partitions on workers that share the data directory write one audit log."""
    import multiprocessing

    db = str(tmp_path / "audit.db")
    AuditLog(db, key="k").close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(db, w, 150)) for w in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    log = AuditLog(db, key="k")
    records = log.records()
    assert Counter(r.actor for r in records) == {"a": 150, "b": 150}
    assert [r.seq for r in records] == list(range(1, 301))
    assert log.verify().ok


async def test_a_partition_takes_up_only_its_own_changes(tmp_path: Path) -> None:
    """Two workers share the data directory: a change one started is not timed out by the
    other's partition that does not own it (its call runs elsewhere), only by its owner's."""

    def coordinator(device: off_loop.Device) -> CoordinatorProcessor:
        return off_loop._coordinator(tmp_path, device, off_loop.Clock(), partitions=2)

    link = sorted(lk.id for lk in load_topology(None).links())[0]
    owner = f"resolver-{partition_of('fp1', 2)}"
    other = f"resolver-{1 - partition_of('fp1', 2)}"
    first = coordinator(off_loop.Device(hang={link}))
    try:
        (key,) = first.keys(off_loop.congestion("fp1", link, off_loop.T0))
        assert key == owner
        out = list(await first.process(off_loop.congestion("fp1", link, off_loop.T0), owner))
        assert off_loop._audited(out)[-1] == "action.started"
        second = coordinator(off_loop.Device(hang=set()))
        assert "action.timed_out" not in off_loop._audited(
            list(await second.process(off_loop.tick(off_loop.T0 + 10), other))
        )
        rem = second.remediator
        assert rem is not None and rem.store.of_incident("fp1")[0].status == "executing"
        # its owner's partition (here: after a rebalance) finds no call running: timed out
        out = list(await second.process(off_loop.tick(off_loop.T0 + 10), owner))
        assert "action.timed_out" in off_loop._audited(out)
    finally:
        first.remediator.executor.release.set()  # type: ignore[union-attr, attr-defined]
