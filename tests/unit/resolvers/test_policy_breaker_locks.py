"""Policy decisions, the circuit breaker, fallback, and entity locks (in and across processes)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from netvigil.errors import ConfigError
from netvigil.resolvers.base import Lease, LockRefusal
from netvigil.resolvers.breaker import GLOBAL, AutonomyState
from netvigil.resolvers.locks import SqliteLocks
from netvigil.resolvers.policy import Fallback, decide, default_policy, parse_policy

T0 = 1767571200.0  # Monday 2026-01-05 00:00 UTC

POLICY = {
    "domains": {
        "core": {
            "match": {"roles": ["core"]},
            "phase": "autonomous",
            "max_changes_per_hour": 2,
            "max_blast_radius": 5,
            "maintenance_windows": [{"days": ["mon"], "start": "00:00", "end": "06:00"}],
            "rules": [
                {"action": "interface_reset", "level": 2},
                {"action": "igp_metric_change", "level": 3},
            ],
        },
        "rest": {
            "phase": "semi-autonomous",
            "rules": [{"action": "igp_metric_change", "level": 3}],
        },
    }
}


def _decide(**kw: object):  # type: ignore[no-untyped-def]
    args = dict(
        action="interface_reset",
        risk="low",
        reversible=True,
        devices=[("core1", "core", "")],
        blast_radius=3,
        ts=T0 + 3600,
        changes_last_hour=0,
        breaker_open=None,
    )
    args.update(kw)
    return decide(parse_policy(POLICY), **args)  # type: ignore[arg-type]


def test_levels_phases_and_limits() -> None:
    d = _decide()
    assert (d.level, d.domain, d.rule) == (2, "core", "domains.core.rules[0]")
    assert _decide(action="igp_metric_change", risk="medium").level == 3
    # the semi-autonomous phase caps level 3 at 2, and level 2 needs low risk
    d = _decide(action="igp_metric_change", risk="medium", devices=[("e1", "edge", "")])
    assert d.level == 1 and any("caps the level at 2" in r for r in d.reasons)
    assert any("low-risk" in r for r in d.reasons)
    assert _decide(changes_last_hour=2).level == 1
    assert _decide(blast_radius=6).level == 1
    outside = _decide(ts=T0 + 7 * 3600)
    assert outside.level == 1 and "outside the maintenance windows" in outside.reasons
    stopped = _decide(breaker_open="global breaker opened by op: test")
    assert stopped.level == 1 and any("circuit breaker open" in r for r in stopped.reasons)
    assert _decide(phase_override="passive").level == 1


def test_invalid_policies_name_the_field() -> None:
    with pytest.raises(ConfigError, match="phase"):
        parse_policy({"domains": {"a": {"phase": "yolo"}}})
    with pytest.raises(ConfigError, match="start"):
        parse_policy({"domains": {"a": {"maintenance_windows": [{"start": "25:00", "end": "1"}]}}})
    with pytest.raises(ConfigError, match="move it to the end"):
        parse_policy({"domains": {"all": {}, "core": {"match": {"roles": ["core"]}}}})


def test_breaker_trips_on_failures_and_keeps_the_reason() -> None:
    st = AutonomyState(trip_after=2)
    fb = Fallback(min_success_rate=0.5, window=4)
    assert st.open_reason("core") is None
    assert st.record_verification("core", "r1", False, ts=1.0, fallback=fb) == []
    happened = st.record_verification("core", "r2", False, ts=2.0, fallback=fb)
    assert happened and "tripped" in happened[0]
    reason = st.open_reason("core")
    assert reason is not None and "2 consecutive failed verifications" in reason
    st.reset("core", "fixed the cause", actor="op", ts=3.0)
    assert st.open_reason("core") is None
    st.trip(GLOBAL, "freeze for the holidays", actor="alice", ts=4.0)
    assert "alice" in (st.open_reason("edge") or "") and "holidays" in (
        st.open_reason("edge") or ""
    )


def test_fallback_to_passive_when_success_drops() -> None:
    st = AutonomyState(trip_after=10)
    fb = Fallback(min_success_rate=0.75, window=4)
    for i, ok in enumerate([True, False, True, False]):
        out = st.record_verification("core", f"r{i}", ok, ts=float(i), fallback=fb)
    assert st.fallback("core") == "passive" and "fell back" in out[-1]
    assert default_policy("autonomous").domains["all"].phase == "autonomous"


def test_lock_refuses_a_second_holder_until_release_or_expiry() -> None:
    locks = SqliteLocks()
    a = locks.acquire(["a--b", "a:ge0"], "req-1", ttl_s=60, now=0.0)
    assert isinstance(a, Lease)
    b = locks.acquire(["a:ge0"], "req-2", ttl_s=60, now=10.0)
    assert isinstance(b, LockRefusal) and b.holder == "req-1" and "req-1" in b.reason
    locks.release(a)
    c = locks.acquire(["a:ge0"], "req-2", ttl_s=60, now=11.0)
    assert isinstance(c, Lease) and c.token > a.token
    # expiry: a stalled holder loses its lease, and its stale token is no longer valid
    d = locks.acquire(["a:ge0"], "req-3", ttl_s=60, now=72.0)
    assert isinstance(d, Lease)
    assert not locks.valid(c, now=72.0) and locks.valid(d, now=72.0)
    locks.release(c)  # releasing a lost lease frees nothing
    assert locks.holders()["a:ge0"].holder == "req-3"


def _contend(path: str, name: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[name-defined]
    locks = SqliteLocks(path)
    barrier.wait()
    got = locks.acquire(["core1--core2"], name, ttl_s=600, now=100.0)
    out.put((name, isinstance(got, Lease)))


def test_lock_is_exclusive_across_worker_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "locks.db")
    SqliteLocks(path).close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(path, f"w{i}", barrier, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    winners = [n for n, ok in results if ok]
    assert len(results) == 4 and len(winners) == 1
    assert SqliteLocks(path).holders()["core1--core2"].holder == winners[0]


def test_cli_policy_check_and_breaker(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netvigil.cli import main

    good = tmp_path / "p.yaml"
    import yaml

    good.write_text(yaml.safe_dump(POLICY))
    r = CliRunner().invoke(main, ["policy", "check", str(good)])
    assert r.exit_code == 0 and "is valid" in r.output
    bad = tmp_path / "b.yaml"
    bad.write_text(
        yaml.safe_dump({"domains": {"a": {"rules": [{"action": "reboot", "level": 2}]}}})
    )
    r = CliRunner().invoke(main, ["policy", "check", str(bad)])
    assert r.exit_code == 2 and "reboot" in r.output
    dd = str(tmp_path / "data")
    r = CliRunner().invoke(main, ["breaker", "trip", "--data-dir", dd, "--reason", "freeze"])
    assert r.exit_code == 0
    r = CliRunner().invoke(main, ["breaker", "status", "--data-dir", dd, "--json"])
    assert '"open": true' in r.output and "freeze" in r.output


def test_cli_policy_phase_sets_shows_and_audits(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from netvigil.cli import main
    from netvigil.resolvers.audit import AuditLog

    dd = str(tmp_path / "data")
    r = CliRunner().invoke(main, ["policy", "phase", "--data-dir", dd, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["all"]["phase"] == "passive"
    r = CliRunner().invoke(
        main, ["policy", "phase", "--data-dir", dd, "all", "semi-autonomous", "--by", "bob"]
    )
    assert r.exit_code == 0 and "semi-autonomous (set by an operator)" in r.output
    assert AutonomyState(Path(dd) / "autonomy.db").phase("all") == "semi-autonomous"
    r = CliRunner().invoke(main, ["policy", "phase", "--data-dir", dd, "core", "passive"])
    assert r.exit_code == 2 and "no domain 'core'" in r.output
    r = CliRunner().invoke(main, ["policy", "phase", "--data-dir", dd, "all", "reckless"])
    assert r.exit_code == 2  # not a phase
    (rec,) = AuditLog(Path(dd) / "audit.db").records()
    assert rec.action == "policy.changed" and rec.actor == "bob"
    assert rec.detail["from"] == "passive" and rec.detail["to"] == "semi-autonomous"
