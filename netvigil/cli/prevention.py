"""Prevention and earned autonomy from the command line: risks, each domain's track record and
its promotion, operators' judgements, suppressions. Reads and writes the stores in the data
directory the running service shares (``risks.db``, ``record.db``, ``feedback.db``,
``autonomy.db``, ``audit.db``); the service takes judgements and lifts up on its next poll."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from netvigil.cli._common import config_option, err, main, out
from netvigil.cli._common import friendly as _friendly
from netvigil.config import load_settings
from netvigil.resolvers import record as records
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.feedback import FeedbackError, FeedbackStore
from netvigil.resolvers.policy import Policy, default_policy, load_policy
from netvigil.resolvers.record import TrackRecord
from netvigil.resolvers.riskstore import RiskStore

__all__ = ["autonomy", "feedback", "risks"]

_dd = click.option("--data-dir", type=click.Path(file_okay=False), default=None)
_json = click.option("--json", "as_json", is_flag=True)


def _data(config_path: str | None, data_dir: str | None) -> Path:
    path = Path(data_dir or load_settings(config_path).storage.data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _policy(config_path: str | None) -> Policy:
    c = load_settings(config_path).coordinator
    return load_policy(c.policy) if c.policy else default_policy(c.phase)


def _audit(config_path: str | None, data: Path) -> AuditLog:
    key = load_settings(config_path).coordinator.audit_key.get_secret_value()
    return AuditLog(data / "audit.db", key=key)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


@main.command("risks")
@config_option
@_dd
@click.option("--outcome", default=None, help="pending, came_true, averted, false, judged_*")
@_json
@_friendly
def risks(
    config_path: str | None, data_dir: str | None, outcome: str | None, as_json: bool
) -> None:
    """Predicted harms with their deadline, confidence and preemptive change."""
    store = RiskStore(_data(config_path, data_dir) / "risks.db")
    rows = [rr for rr in reversed(store.all()) if outcome in (None, rr.outcome)]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "risk_id": rr.risk.risk_id,
                        "kind": rr.risk.kind,
                        "entity": rr.risk.entity,
                        "domain": rr.domain,
                        "predicted_ts": rr.risk.predicted_ts,
                        "confidence": rr.risk.confidence,
                        "services": rr.risk.services,
                        "outcome": rr.outcome,
                        "ticket": rr.ticket,
                        "change": rr.request_id,
                        "plan": rr.plan,
                    }
                    for rr in rows
                ]
            )
        )
        return
    if not rows:
        out.print("no risks")
    for rr in rows:
        r = rr.risk
        chosen = rr.plan.get("chosen") or "no change"
        out.print(
            f"{r.risk_id} {r.kind} on {r.entity}: expected {_when(r.predicted_ts)}, "
            f"confidence {r.confidence:.2f}, {rr.outcome}; {chosen}"
            + (f" (level {rr.plan.get('level')})" if rr.plan.get("level") else "")
            + (f"; ticket {rr.ticket}" if rr.ticket else "")
        )


@main.group()
def autonomy() -> None:
    """Each domain's track record, and promotion when it is earned."""


@autonomy.command("record")
@config_option
@_dd
@_json
@_friendly
def autonomy_record(config_path: str | None, data_dir: str | None, as_json: bool) -> None:
    """Show each domain's phase, track record, and whether its promotion is earned."""
    data = _data(config_path, data_dir)
    rows = records.view(
        _policy(config_path), AutonomyState(data / "autonomy.db"), TrackRecord(data / "record.db")
    )
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        shares = ", ".join(
            f"{k} {v['ok']}/{v['judged']}" for k, v in row["outcomes"].items() if v["judged"]
        )
        nxt = row["next_phase"]
        if nxt is None:
            verdict = "highest phase"
        elif row["promotion_earned"]:
            verdict = f"[green]{nxt} earned[/]: confirm with netvigil autonomy promote"
        else:
            verdict = f"{nxt} not earned: " + "; ".join(row["missing"] or ["no requirement"])
        out.print(
            f"domain [bold]{row['domain']}[/]: {row['phase']}, {row['days']:.1f} days "
            f"({shares or 'no outcomes yet'}); {verdict}"
        )


@autonomy.command("promote")
@config_option
@_dd
@click.argument("domain")
@click.argument("phase", type=click.Choice(["semi-autonomous", "autonomous"]))
@click.option("--reason", default="", help="why (audited)")
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def autonomy_promote(
    config_path: str | None, data_dir: str | None, domain: str, phase: str, reason: str, actor: str
) -> None:
    """Confirm DOMAIN's promotion to PHASE; refused unless its track record earns it."""
    data = _data(config_path, data_dir)
    log = _audit(config_path, data)
    try:
        records.promote(
            _policy(config_path),
            AutonomyState(data / "autonomy.db"),
            TrackRecord(data / "record.db"),
            log,
            domain,
            phase,
            actor=actor,
            ts=time.time(),
            reason=reason,
        )
    finally:
        log.close()
    out.print(f"domain {domain} promoted to {phase} by {actor}")


@main.group()
def feedback() -> None:
    """Judge incidents and risks (false or confirmed); list and lift suppressions."""


@feedback.command("judge")
@config_option
@_dd
@click.argument("kind", type=click.Choice(["incident", "risk"]))
@click.argument("subject")
@click.argument("verdict", type=click.Choice(["false", "confirmed"]))
@click.option("--reason", default="")
@click.option("--once", is_flag=True, help="a false incident does not suppress its pattern")
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def feedback_judge(
    config_path: str | None,
    data_dir: str | None,
    kind: str,
    subject: str,
    verdict: str,
    reason: str,
    once: bool,
    actor: str,
) -> None:
    """Say incident or risk SUBJECT was false, or confirm it; the service takes it up when it
    next polls (a false incident also suppresses its pattern unless --once)."""
    data = _data(config_path, data_dir)
    store = FeedbackStore(data / "feedback.db")
    j = store.judge(
        subject,
        kind,  # type: ignore[arg-type]
        verdict,  # type: ignore[arg-type]
        actor=actor,
        ts=time.time(),
        reason=reason,
        scope="once" if once else "pattern",
        source="cli",
    )
    out.print(f"{kind} {subject} judged {verdict} by {actor} (judgement {j.id})")


@feedback.command("suppressions")
@config_option
@_dd
@_json
@_friendly
def feedback_suppressions(config_path: str | None, data_dir: str | None, as_json: bool) -> None:
    """Patterns judged false: what each holds back, who made it, whether it is lifted."""
    store = FeedbackStore(_data(config_path, data_dir) / "feedback.db")
    rows = store.suppressions()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": s.id,
                        "pattern": s.description,
                        "subject": s.subject,
                        "made_by": s.actor,
                        "active": s.active,
                        "lifted_by": s.lifted_by,
                        "hits": s.hits,
                    }
                    for s in rows
                ]
            )
        )
        return
    if not rows:
        out.print("no suppressions")
    for s in rows:
        state = "active" if s.active else f"lifted by {s.lifted_by}"
        out.print(f"{s.id}: {s.description}; {s.hits} held back; by {s.actor}; {state}")


@feedback.command("lift")
@config_option
@_dd
@click.argument("suppression")
@click.option("--reason", default="")
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def feedback_lift(
    config_path: str | None, data_dir: str | None, suppression: str, reason: str, actor: str
) -> None:
    """Lift SUPPRESSION: its pattern opens incidents again (audited)."""
    data = _data(config_path, data_dir)
    store = FeedbackStore(data / "feedback.db")
    try:
        s = store.lift(suppression, actor=actor, reason=reason, ts=time.time())
    except FeedbackError as exc:
        err.print(str(exc))
        sys.exit(1)
    log = _audit(config_path, data)
    log.append(
        ts=time.time(),
        actor=actor,
        action="suppression.lifted",
        subject=s.id,
        detail={"pattern": s.description, "hits": s.hits, "reason": reason, "via": "cli"},
    )
    log.close()
    out.print(f"suppression {s.id} lifted by {actor}")
