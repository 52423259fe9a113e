"""Earned autonomy: a domain's track record, the phase it earns, promotion only when earned
and confirmed, and fallback on its own when the record departs."""

from __future__ import annotations

import pytest

from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.policy import parse_policy
from netvigil.resolvers.record import NotEarned, TrackRecord, earned_phase, gaps, promote, view
from netvigil.resolvers.record import check_fallback as fall_back_if_departed

DAY = 86400.0
POLICY = parse_policy(
    {
        "domains": {
            "core": {
                "match": {"roles": ["core"]},
                "phase": "passive",
                "promotion": {
                    "window": 10,
                    "semi-autonomous": {
                        "min_days": 1,
                        "min_verified_recommendations": 3,
                        "min_accepted_share": 0.75,
                        "min_incident_precision": 0.8,
                        "min_judged": 4,
                    },
                    "autonomous": {"min_days": 5, "min_change_success": 0.95, "min_judged": 4},
                },
            },
            "rest": {"phase": "semi-autonomous"},
        }
    }
)


def good_record(rec: TrackRecord, *, days: float = 2.0) -> None:
    for i in range(5):
        ts = i * days * DAY / 4
        rec.record("core", "incident", f"inc{i}", True, ts=ts)
        rec.record("core", "proposal", f"p{i}", True, ts=ts)
        rec.record("core", "recommendation", f"p{i}", True, ts=ts)
        rec.record("core", "change", f"p{i}", True, ts=ts)


def test_rates_are_over_the_window_and_judgements_replace_each_other() -> None:
    rec = TrackRecord()
    for i in range(15):
        rec.record("core", "incident", f"i{i}", i >= 5, ts=float(i))  # the oldest five false
    r = rec.of("core", window=10)
    assert (r.count("incident"), r.judged("incident")) == (10, 10)
    assert rec.record("core", "incident", "i14", False, ts=20.0)  # an operator changed it
    assert not rec.record("core", "incident", "i14", False, ts=21.0)  # same judgement again
    assert rec.of("core", window=10).rate("incident") == 0.9
    with pytest.raises(ValueError, match="unknown outcome kind"):
        rec.record("core", "vibes", "x", True, ts=0.0)


def test_the_earned_phase_needs_every_bound_and_enough_outcomes() -> None:
    rec = TrackRecord()
    promo = POLICY.domains["core"].promotion
    assert promo is not None
    assert earned_phase(rec.of("core"), promo) == "passive"
    missing = gaps(rec.of("core"), promo.semi_autonomous)  # type: ignore[arg-type]
    assert any("days" in g for g in missing) and any("verified" in g for g in missing)
    good_record(rec)
    assert earned_phase(rec.of("core", 10), promo) == "semi-autonomous"  # not 5 days yet
    assert earned_phase(rec.of("rest"), POLICY.domains["rest"].promotion) is None


def test_promotion_is_refused_until_earned_then_confirmed_and_audited() -> None:
    rec, st, audit = TrackRecord(), AutonomyState(), AuditLog()
    with pytest.raises(NotEarned, match="has not earned semi-autonomous"):
        promote(POLICY, st, rec, audit, "core", "semi-autonomous", actor="alice", ts=0.0)
    assert st.phase("core") is None
    good_record(rec)
    row = next(r for r in view(POLICY, st, rec) if r["domain"] == "core")
    assert row["promotion_earned"] and row["next_phase"] == "semi-autonomous"
    promote(POLICY, st, rec, audit, "core", "semi-autonomous", actor="alice", ts=3 * DAY)
    assert st.effective_phase("core", "passive") == "semi-autonomous"
    (done,) = [r for r in audit.records() if r.action == "autonomy.promoted"]
    assert done.actor == "alice" and done.detail["record"]["outcomes"]["incident"]["ok"] == 5
    with pytest.raises(NotEarned, match="has not earned autonomous"):
        promote(POLICY, st, rec, audit, "core", "autonomous", actor="alice", ts=3 * DAY)


def test_a_promoted_domain_falls_back_on_its_own_when_its_record_departs() -> None:
    rec, st, audit = TrackRecord(), AutonomyState(), AuditLog()
    good_record(rec)
    promote(POLICY, st, rec, audit, "core", "semi-autonomous", actor="alice", ts=3 * DAY)
    assert fall_back_if_departed(POLICY, st, rec, audit, "core", ts=3 * DAY) is None
    for i in range(3):  # operators now judge its incidents false
        rec.record("core", "incident", f"bad{i}", False, ts=4 * DAY + i)
    fell = fall_back_if_departed(POLICY, st, rec, audit, "core", ts=4 * DAY + 10)
    assert fell is not None and "incident share 0.62 < 0.80" in fell.detail["reason"]
    assert st.effective_phase("core", "passive") == "passive"
    assert [r.seq for r in audit.records() if r.action == "autonomy.fell_back"] == [fell.seq]
    assert (fell.detail["from"], fell.detail["to"]) == ("semi-autonomous", "passive")
    assert fall_back_if_departed(POLICY, st, rec, audit, "core", ts=4 * DAY + 20) is None


def test_an_autonomous_domain_falls_back_only_as_far_as_its_record_requires() -> None:
    rec, st, audit = TrackRecord(), AutonomyState(), AuditLog()
    good_record(rec, days=6.0)
    promote(POLICY, st, rec, audit, "core", "autonomous", actor="ada", ts=7 * DAY)
    assert st.effective_phase("core", "passive") == "autonomous"
    for i in range(3):  # changes start failing: the autonomous bound departs, not the other
        rec.record("core", "change", f"bad{i}", False, ts=8 * DAY + i)
    fell = fall_back_if_departed(POLICY, st, rec, audit, "core", ts=8 * DAY + 10)
    assert fell is not None and (fell.detail["from"], fell.detail["to"]) == (
        "autonomous",
        "semi-autonomous",
    )
    assert st.effective_phase("core", "passive") == "semi-autonomous"
