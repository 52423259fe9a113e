"""The console over the resolvers' real stores: decisions go to the change request, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from netvigil.api.base import Conflict, NotFound
from netvigil.api.resolvers import AutonomyBreaker, AutonomyPolicy, RemediationQueue
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.policy import DomainPolicy, Match, Policy
from netvigil.resolvers.remediation import ActionRecord, ActionStore
from netvigil.resolvers.tickets.local import LocalTickets


def _rec(rid: str, level: int, status: str) -> ActionRecord:
    return ActionRecord(
        request_id=rid,
        incident="inc1",
        action="interface_reset",
        target="core1--edge1",
        level=level,
        domain="all",
        rule="r0",
        status=status,
        params={},
        facts={},
        reasons=["link down"],
        created_ts=100.0,
    )


@pytest.fixture
def parts(tmp_path: Path) -> tuple[RemediationQueue, LocalTickets, AuditLog]:
    store, tickets, audit = ActionStore(), LocalTickets(tmp_path / "t.db"), AuditLog()
    store.put(_rec("a1", 1, "awaiting_approval"))
    store.put(_rec("a2", 2, "verifying"))
    tickets.open_change(
        "a1",
        incident="inc1",
        kind="normal",
        title="t",
        description="d",
        devices=["core1"],
        ts=100.0,
    )
    return RemediationQueue(store, tickets, audit), tickets, audit


async def test_list_maps_statuses_and_decisions_reach_the_change(
    parts: tuple[RemediationQueue, LocalTickets, AuditLog],
) -> None:
    q, tickets, audit = parts
    assert [(a.request_id, a.status) for a in q.list()] == [("a1", "proposed"), ("a2", "verifying")]
    pa = await q.decide("a1", "approved", "otto", "go")
    assert pa.status == "approved" and pa.decided_by == "otto"
    change = tickets.find_change("a1")
    assert change is not None and change.state == "approved"
    [upd] = [u for u in tickets.sync() if u.kind == "change_approved"]
    assert upd.note == "otto"  # what the remediator will name as approver
    rec = audit.records()[-1]
    assert rec.action == "console.approved" and rec.actor == "user:otto"
    with pytest.raises(NotFound):
        q.get("zz")


async def test_two_operators_one_wins_and_retries_are_idempotent(
    parts: tuple[RemediationQueue, LocalTickets, AuditLog],
) -> None:
    q, _, audit = parts
    results = await asyncio.gather(
        q.decide("a1", "approved", "otto"),
        q.decide("a1", "rejected", "olga"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert (await q.decide("a1", "approved", "otto")).decided_by == "otto"  # retry
    with pytest.raises(Conflict):
        await q.decide("a1", "approved", "olga")
    with pytest.raises(Conflict, match="needs no human decision"):
        await q.decide("a2", "approved", "otto")
    assert [r.action for r in audit.records()] == ["console.approved"]


async def test_breaker_is_the_global_autonomy_breaker() -> None:
    autonomy, audit = AutonomyState(), AuditLog()
    b = AutonomyBreaker(autonomy, audit)
    assert b.view().open is False
    st = await b.trip("otto", "maintenance")
    assert st.open and st.changed_by == "otto"
    assert "maintenance" in (autonomy.open_reason("all") or "")
    assert (await b.reset("ada", "done")).open is False
    assert autonomy.open_reason("all") is None
    assert [r.action for r in audit.records()] == ["breaker.tripped", "breaker.reset"]


async def test_policy_phases_are_the_remediators_and_a_fallback_wins(tmp_path: Path) -> None:
    st, audit = AutonomyState(tmp_path / "a.db"), AuditLog()
    core = DomainPolicy(phase="autonomous", match=Match(roles=["core"]))
    pol = Policy(domains={"core": core, "all": DomainPolicy()})
    view = AutonomyPolicy(pol, st, audit)
    assert view.phases() == {"core": "autonomous", "all": "passive"}
    assert (await view.set_phase("all", "semi-autonomous", "ada"))["all"] == "semi-autonomous"
    assert AutonomyState(tmp_path / "a.db").phase("all") == "semi-autonomous"  # shared, kept
    assert len([r for r in audit.records() if r.action == "policy.changed"]) == 1
    await view.set_phase("all", "semi-autonomous", "ada")  # the same again: nothing new
    assert len([r for r in audit.records() if r.action == "policy.changed"]) == 1
    with pytest.raises(NotFound):
        await view.set_phase("edge", "passive", "ada")
    with pytest.raises(ValueError):
        await view.set_phase("all", "reckless", "ada")
    # a domain that fell back to passive shows passive whatever was set, until cleared
    st.record_verification("core", "r1", False, ts=1.0, fallback=pol.domains["core"].fallback)
    for i in range(2, 6):
        st.record_verification("core", f"r{i}", False, ts=i, fallback=pol.domains["core"].fallback)
    assert view.phases()["core"] == "passive"
    st.clear_fallback("core")
    assert view.phases()["core"] == "autonomous"
