"""Resolver commands: policy check and phases, the circuit breaker, approving changes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from netvigil.cli._common import config_option, err, main, out
from netvigil.cli._common import friendly as _friendly
from netvigil.config import load_settings
from netvigil.errors import NetVigilError
from netvigil.redaction import redact_urls
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.base import ChangeDecided
from netvigil.resolvers.breaker import GLOBAL, AutonomyState
from netvigil.resolvers.catalog import load_catalog
from netvigil.resolvers.policy import PHASE_CAP, default_policy, load_policy
from netvigil.resolvers.record import TrackRecord, require_earned
from netvigil.resolvers.tickets.local import LocalTickets


def _data(config_path: str | None, data_dir: str | None) -> Path:
    path = Path(data_dir or load_settings(config_path).storage.data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


@main.group()
def policy() -> None:
    """Check the autonomy policy."""


@policy.command("phase")
@config_option
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.argument("domain", required=False)
@click.argument("phase", required=False, type=click.Choice(list(PHASE_CAP)))
@click.option("--by", "actor", default="operator", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_friendly
def policy_phase(
    config_path: str | None,
    data_dir: str | None,
    domain: str | None,
    phase: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Show the phase of each domain as the remediator decides now, or set DOMAIN to PHASE
    (kept in the shared autonomy state; a fallback to passive still wins)."""
    s = load_settings(config_path)
    c = s.coordinator
    pol = load_policy(c.policy) if c.policy else default_policy(c.phase)
    st = AutonomyState(_data(config_path, data_dir) / "autonomy.db")
    if domain is not None:
        if domain not in pol.domains:
            raise NetVigilError(
                f"no domain {domain!r}; domains of the policy: {', '.join(pol.domains)}"
            )
        if phase is None:
            raise NetVigilError("give the phase too: netvigil policy phase DOMAIN PHASE")
        before = st.effective_phase(domain, pol.domains[domain].phase)
        if list(PHASE_CAP).index(phase) > list(PHASE_CAP).index(before):
            record = TrackRecord(_data(config_path, data_dir) / "record.db")
            require_earned(pol, record, domain, phase)  # NotEarned says what is missing
        if (st.phase(domain) or pol.domains[domain].phase) != phase:
            now = time.time()
            st.set_phase(domain, phase, actor=actor, ts=now)
            data = _data(config_path, data_dir)
            log = AuditLog(data / "audit.db", key=c.audit_key.get_secret_value())
            log.append(
                ts=now,
                actor=actor,
                action="policy.changed",
                subject=domain,
                detail={"from": before, "to": phase, "via": "netvigil policy phase"},
            )
            log.close()
    rows = {
        name: {
            "phase": st.effective_phase(name, dom.phase),
            "file": dom.phase,
            "set": st.phase(name),
            "fallback": st.fallback(name),
        }
        for name, dom in pol.domains.items()
    }
    if as_json:
        click.echo(json.dumps(rows))
        return
    for name, r in rows.items():
        why = (
            f"fallback from {r['set'] or r['file']}"
            if r["fallback"]
            else ("set by an operator" if r["set"] else "policy file")
        )
        out.print(f"domain [bold]{name}[/]: {r['phase']} ({why})")


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--catalog", type=click.Path(dir_okay=False), default=None)
@_friendly
def policy_check(file: str, catalog: str | None) -> None:
    """Validate a policy file; also check every rule names an action of the catalog."""
    pol = load_policy(file)
    cat = load_catalog(catalog)
    unknown = [
        f"domains.{d}.rules[{i}]: {r.action}"
        for d, dom in pol.domains.items()
        for i, r in enumerate(dom.rules)
        if r.action not in cat.actions
    ]
    if unknown:
        raise NetVigilError(
            "rules name actions the catalog lacks: "
            + "; ".join(unknown)
            + f" (catalog has {', '.join(sorted(cat.actions))})"
        )
    for name, dom in pol.domains.items():
        rules = ", ".join(f"{r.action}=L{r.level}" for r in dom.rules) or "none (level 1)"
        out.print(
            f"domain [bold]{name}[/]: phase {dom.phase}, {dom.max_changes_per_hour}/h, "
            f"blast radius <= {dom.max_blast_radius}, "
            f"{len(dom.maintenance_windows)} maintenance windows; rules: {rules}"
        )
    out.print(f"[green]policy {file} is valid[/]")


@main.group()
def breaker() -> None:
    """Stop or restart autonomous action (global or per domain)."""


_scope = click.option("--domain", default=GLOBAL, show_default=True, help="a policy domain")
_dd = click.option("--data-dir", type=click.Path(file_okay=False), default=None)


@breaker.command("trip")
@config_option
@_dd
@_scope
@click.option("--reason", required=True, help="why (kept with the breaker and audited)")
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def breaker_trip(
    config_path: str | None, data_dir: str | None, domain: str, reason: str, actor: str
) -> None:
    """Open a breaker: nothing autonomous runs there until it is reset."""
    st = AutonomyState(_data(config_path, data_dir) / "autonomy.db")
    s = st.trip(domain, reason, actor=actor, ts=time.time())
    out.print(f"breaker {s.scope} [red]open[/]: {s.reason} (by {s.actor})")


@breaker.command("reset")
@config_option
@_dd
@_scope
@click.option("--reason", required=True)
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def breaker_reset(
    config_path: str | None, data_dir: str | None, domain: str, reason: str, actor: str
) -> None:
    """Close a breaker (and clear the domain's fallback to passive)."""
    st = AutonomyState(_data(config_path, data_dir) / "autonomy.db")
    s = st.reset(domain, reason, actor=actor, ts=time.time())
    if domain != GLOBAL:
        st.clear_fallback(domain)
    out.print(f"breaker {s.scope} [green]closed[/]: {s.reason} (by {s.actor})")


@breaker.command("status")
@config_option
@_dd
@click.option("--json", "as_json", is_flag=True)
@_friendly
def breaker_status(config_path: str | None, data_dir: str | None, as_json: bool) -> None:
    """Show every breaker with its reason."""
    st = AutonomyState(_data(config_path, data_dir) / "autonomy.db")
    rows = [s.__dict__ for s in st.all()]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        out.print("no breaker was ever opened: autonomy runs per policy")
    for r in rows:
        state = "[red]open[/]" if r["open"] else "[green]closed[/]"
        out.print(f"{r['scope']}: {state} — {r['reason']} (by {r['actor']})")


@main.group()
def change() -> None:
    """Approve or reject proposed changes (local ticket backend)."""


@change.command("approve")
@config_option
@_dd
@click.argument("number")
@click.option("--reject", is_flag=True, help="reject instead of approving")
@click.option("--by", "actor", default="operator", show_default=True)
@_friendly
def change_approve(
    config_path: str | None, data_dir: str | None, number: str, reject: bool, actor: str
) -> None:
    """Approve (or --reject) change NUMBER; the running service picks it up when it polls."""
    url = load_settings(config_path).tickets.url
    if not url.startswith("local://"):
        shown = redact_urls(url)
        err.print(f"tickets.url is {shown}: approve or reject {number} in ServiceNow itself")
        sys.exit(2)
    tickets = LocalTickets(_data(config_path, data_dir) / "tickets.db")
    found = tickets.change_by_number(number)
    if found is None:
        err.print(f"no change {number}")
        sys.exit(1)
    try:
        ch = tickets.decide_change(found.correlation_id, not reject, actor)
    except ChangeDecided as exc:
        err.print(str(exc))
        sys.exit(1)
    out.print(f"change {ch.number} {ch.state} by {actor}")
