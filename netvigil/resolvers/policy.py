"""The autonomy policy: which actions may run on their own, where, when and how often.

The policy is a YAML file validated by pydantic (``netvigil policy check FILE``). It is split
into *domains* (matched by device role, name glob or site). Each domain has a deployment
*phase* (passive, semi-autonomous, autonomous), a rate limit of autonomous changes per hour,
a blast-radius limit, optional maintenance windows (UTC) outside which nothing runs on its own,
a fallback threshold (verification success rate below which the domain drops to passive), and
rules giving an action (optionally per device role) its autonomy level, and what track record
the domain needs to be promoted to each phase (``promotion``, see
:mod:`netvigil.resolvers.record`):

- level 1, assisted: NetVigil proposes, a human approves (a normal change);
- level 2, pre-approved: low-risk, reversible actions run on their own (a standard change);
- level 3, autonomous: complex actions run on their own after the twin validated them.

:func:`decide` is pure: given the policy, the action, where it lands, the time and the
counters, it returns the level and every reason for it, with the rule that matched. Anything
that blocks autonomy lowers the level to 1 (a proposal), never silently drops the action.

Two sections apply to every domain: ``prevention`` (how predicted harms are ticketed and
changed for, :mod:`netvigil.resolvers.prevention`) and ``feedback`` (which ticket close codes
mean an operator judged an incident false or real, and how a judgement suppresses).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from netvigil.errors import ConfigError

__all__ = [
    "PHASE_CAP",
    "Decision",
    "DomainPolicy",
    "FeedbackPolicy",
    "Policy",
    "Prevention",
    "Promotion",
    "Requirement",
    "decide",
    "default_policy",
    "load_policy",
    "parse_policy",
]

Phase = Literal["passive", "semi-autonomous", "autonomous"]
Level = Literal[1, 2, 3]

#: the highest level a phase allows
PHASE_CAP: dict[str, int] = {"passive": 1, "semi-autonomous": 2, "autonomous": 3}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Model):
    roles: list[str] = Field(default=[], description="device roles in the domain")
    devices: list[str] = Field(default=[], description="device name globs (fnmatch)")
    sites: list[str] = Field(default=[], description="sites in the domain")

    def matches(self, name: str, role: str, site: str) -> bool:
        if not (self.roles or self.devices or self.sites):
            return True
        return (
            role in self.roles
            or site in self.sites
            or any(fnmatch.fnmatchcase(name, g) for g in self.devices)
        )


class Window(_Model):
    days: list[str] = Field(default=list(_DAYS), description="mon..sun")
    start: time
    end: time

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d not in _DAYS]
        if bad:
            raise ValueError(f"unknown days {bad}; use {', '.join(_DAYS)}")
        return v

    def contains(self, ts: float) -> bool:
        dt = datetime.fromtimestamp(ts, UTC)
        now = dt.time()
        day = _DAYS[dt.weekday()]
        if self.start <= self.end:
            return day in self.days and self.start <= now < self.end
        # spans midnight: the day named is the day the window opens
        prev = _DAYS[(dt.weekday() - 1) % 7]
        return (day in self.days and now >= self.start) or (prev in self.days and now < self.end)


class Fallback(_Model):
    min_success_rate: float = Field(0.6, ge=0, le=1)
    window: int = Field(5, ge=1, description="last N verifications counted")


class Rule(_Model):
    action: str
    level: Level
    roles: list[str] = Field(default=[], description="only for devices of these roles")
    twin_validation: bool = Field(False, description="also validate in the twin at level 2")


class Requirement(_Model):
    """The track record a domain needs for a phase; an unset bound is not required."""

    min_days: float = Field(0.0, ge=0, description="days since the domain's first record")
    min_verified_recommendations: int = Field(
        0, ge=0, description="level-1 proposals a human accepted that then verified"
    )
    min_accepted_share: float | None = Field(
        None, ge=0, le=1, description="share of decided proposals humans accepted"
    )
    min_incident_precision: float | None = Field(
        None, ge=0, le=1, description="incidents confirmed / (confirmed + judged false)"
    )
    min_prediction_precision: float | None = Field(
        None, ge=0, le=1, description="predictions that came true / predictions judged"
    )
    min_prediction_recall: float | None = Field(
        None, ge=0, le=1, description="harms that were predicted / harms"
    )
    min_change_success: float | None = Field(
        None, ge=0, le=1, description="changes verified / changes that ran"
    )
    min_judged: int = Field(
        3, ge=0, description="a share is only trusted over at least this many outcomes"
    )


class Promotion(_Model):
    """What record earns each phase (``semi-autonomous``, ``autonomous``); over the last
    ``window`` outcomes of each kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    semi_autonomous: Requirement | None = Field(None, alias="semi-autonomous")
    autonomous: Requirement | None = None
    window: int = Field(50, ge=1, description="latest outcomes of each kind counted")

    def requirement(self, phase: str) -> Requirement | None:
        return {"semi-autonomous": self.semi_autonomous, "autonomous": self.autonomous}.get(phase)


class Prevention(_Model):
    """How predicted harms (risks) are worked (see :mod:`netvigil.resolvers.prevention`)."""

    enabled: bool = Field(True, description="plan preemptive changes for risks")
    ticket: Literal["problem", "change"] = Field(
        "problem",
        description="a risk becomes a problem record (with its change linked), or only a change",
    )
    prefer: list[str] = Field(
        default=["igp_metric_change", "qos_adjust"],
        description="order in which candidate actions are tried (steer before policing)",
    )
    lookahead_s: float = Field(
        3600.0, gt=0, description="the change must hold the forecast this long past the deadline"
    )
    hold_s: float = Field(
        1800.0, gt=0, description="after the deadline, how long a prediction may take to come true"
    )
    approve_margin_s: float = Field(
        900.0, ge=0, description="a proposal must be approved this long before the deadline"
    )
    min_confidence: float = Field(0.3, ge=0, le=1, description="risks below are only shown")
    min_lead_s: float = Field(
        300.0, ge=0, description="no preemptive change closer to the deadline than this"
    )


class FeedbackPolicy(_Model):
    """Operators' judgements: ticket close codes, and suppression of false patterns."""

    false_close_codes: list[str] = Field(
        default=["False positive", "Not Solved (Not Reproducible)"],
        description="close codes that mean the incident was not real",
    )
    confirm_close_codes: list[str] = Field(
        default=["Solved (Work Around)", "Solved (Permanently)", "Solved Remotely (Work Around)"],
        description="close codes a human sets that confirm a real incident",
    )
    suppress: bool = Field(True, description="an incident judged false suppresses its pattern")
    window_min: int | None = Field(
        45, ge=1, description="daily window around the onset (None: any time of day)"
    )


class DomainPolicy(_Model):
    match: Match = Match()
    phase: Phase = "passive"
    max_changes_per_hour: int = Field(4, ge=0)
    max_blast_radius: int = Field(20, ge=0, description="entities an action may affect")
    maintenance_windows: list[Window] = []
    fallback: Fallback = Fallback()
    rules: list[Rule] = []
    promotion: Promotion | None = None


class Policy(_Model):
    version: Literal[1] = 1
    domains: dict[str, DomainPolicy] = Field(min_length=1)
    prevention: Prevention = Prevention()
    feedback: FeedbackPolicy = FeedbackPolicy()

    @model_validator(mode="after")
    def _default_last(self) -> Policy:
        names = list(self.domains)
        for name in names[:-1]:
            if not self.domains[name].match.model_dump(exclude_defaults=True):
                raise ValueError(
                    f"domain {name!r} matches every device but is not the last domain; "
                    "move it to the end (domains are tried in order)"
                )
        return self

    def domain_of(self, name: str, role: str = "", site: str = "") -> str:
        for dname, dom in self.domains.items():
            if dom.match.matches(name, role, site):
                return dname
        return next(reversed(self.domains))


@dataclass(frozen=True)
class Decision:
    """The level an action runs at, and why."""

    level: Level
    autonomous: bool
    domain: str
    rule: str
    reasons: list[str] = field(default_factory=list)
    twin_validation: bool = False


def decide(
    policy: Policy,
    *,
    action: str,
    risk: str,
    reversible: bool,
    devices: Sequence[tuple[str, str, str]],
    blast_radius: int,
    ts: float,
    changes_last_hour: int,
    breaker_open: str | None,
    phase_override: str | None = None,
    phase_set: str | None = None,
) -> Decision:
    """The autonomy level of ``action`` on ``devices`` ((name, role, site) triples).

    ``breaker_open`` is the reason a global or domain breaker is open (None when closed);
    ``phase_override`` is a phase forced by fallback (e.g. ``passive``); ``phase_set`` one an
    operator chose over the file's (the fallback wins over it).
    """
    first = devices[0] if devices else ("", "", "")
    dname = policy.domain_of(*first)
    dom = policy.domains[dname]
    roles = {role for _, role, _ in devices}
    level: int = 1
    rule_id = f"domains.{dname}.default"
    twin = False
    for i, rule in enumerate(dom.rules):
        if rule.action == action and (not rule.roles or roles <= set(rule.roles)):
            level, rule_id, twin = rule.level, f"domains.{dname}.rules[{i}]", rule.twin_validation
            break
    reasons = [f"rule {rule_id} gives level {level}"]
    phase = phase_override or phase_set or dom.phase
    if phase_override:
        reasons.append(f"domain {dname} fell back to {phase_override}")
    elif phase_set and phase_set != dom.phase:
        reasons.append(f"an operator set domain {dname} to phase {phase_set}")
    cap = PHASE_CAP[phase]
    if level > cap:
        reasons.append(f"phase {phase} caps the level at {cap}")
        level = cap
    if level == 2 and not (risk == "low" and reversible):
        reasons.append(f"level 2 needs a low-risk reversible action; {action} is {risk} risk")
        level = 1
    if level >= 2:
        blockers = []
        if breaker_open:
            blockers.append(f"circuit breaker open: {breaker_open}")
        if changes_last_hour >= dom.max_changes_per_hour:
            blockers.append(
                f"rate limit: {changes_last_hour} autonomous changes in the last hour in "
                f"{dname} (max {dom.max_changes_per_hour})"
            )
        if blast_radius > dom.max_blast_radius:
            blockers.append(f"blast radius {blast_radius} exceeds the limit {dom.max_blast_radius}")
        if dom.maintenance_windows and not any(w.contains(ts) for w in dom.maintenance_windows):
            blockers.append("outside the maintenance windows")
        if blockers:
            reasons.extend(blockers)
            level = 1
    return Decision(
        level=level,  # type: ignore[arg-type]
        autonomous=level >= 2,
        domain=dname,
        rule=rule_id,
        reasons=reasons,
        twin_validation=twin or level == 3,
    )


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; errors name the field and the fix."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"policy file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"policy file {path} is not valid YAML: {exc}") from exc
    return parse_policy(data, str(path))


def parse_policy(data: object, source: str = "policy") -> Policy:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a policy is a mapping with 'domains:'")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        ]
        raise ConfigError(f"invalid policy {source}:\n" + "\n".join(lines)) from None


def default_policy(phase: Phase = "passive") -> Policy:
    """One domain for every device, the catalog's usual levels, in the given phase."""
    return Policy(
        domains={
            "all": DomainPolicy(
                phase=phase,
                rules=[
                    Rule(action="interface_reset", level=2),
                    Rule(action="qos_adjust", level=2),
                    Rule(action="bgp_soft_clear", level=2),
                    Rule(action="igp_metric_change", level=3),
                ],
            )
        }
    )
