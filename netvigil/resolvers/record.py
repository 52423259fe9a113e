"""Earned autonomy: each policy domain's track record, what phase it earns, promotion and
fallback.

The record is a list of judged outcomes per domain (``record.db`` in the data directory),
one per subject and kind, the latest judgement winning:

- ``prediction``: a risk came true (ok), or did not (a false prediction). A risk whose
  preemptive change kept the harm away counts as true when the twin says the harm would
  have come without the change (:func:`netvigil.twin.foresight.counterfactual`);
- ``harm``: a harm (a congestion incident) that a risk had predicted (ok) or not: recall;
- ``incident``: an operator confirmed an incident (ok) or judged it false (console, CLI, or
  a ticket's close code);
- ``proposal``: a human accepted a level-1 proposal (ok) or rejected it;
- ``recommendation``: an accepted proposal whose change then verified (ok) or failed;
- ``change``: a change that ran verified (ok) or was rolled back after failing.

Rates are over the latest ``window`` outcomes of each kind (the policy's ``promotion``), and a
rate is only trusted over ``min_judged`` outcomes. A domain *earns* a phase when its record
meets that phase's requirement (and every lower one); it is *promoted* only when it has earned
the phase and an operator confirms (:func:`promote`, from the console or the CLI); it *falls
back* on its own to the highest phase its record still earns as soon as a trusted rate drops
below its phase's bound (:func:`check_fallback`; counts and days cannot drop, rates can). Every
promotion and fallback is in the audit log with the record that justified it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.errors import NetVigilError
from netvigil.events import AuditRecord
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.breaker import AutonomyState
from netvigil.resolvers.policy import PHASE_CAP, Policy, Promotion, Requirement
from netvigil.resolvers.sqlitedb import connect

__all__ = [
    "KINDS",
    "NotEarned",
    "Record",
    "TrackRecord",
    "check_fallback",
    "earned_phase",
    "gaps",
    "promote",
    "require_earned",
    "view",
]

KINDS = ("prediction", "harm", "incident", "proposal", "recommendation", "change")
PHASES = ("passive", "semi-autonomous", "autonomous")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (domain TEXT NOT NULL, kind TEXT NOT NULL,
    subject TEXT NOT NULL, ok INTEGER NOT NULL, ts REAL NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (kind, subject));
CREATE INDEX IF NOT EXISTS outcomes_domain ON outcomes (domain, kind, ts);
CREATE TABLE IF NOT EXISTS seen (domain TEXT PRIMARY KEY, first_ts REAL NOT NULL,
    last_ts REAL NOT NULL);
"""


class NotEarned(NetVigilError):
    """A promotion the domain's record does not support; says what is missing."""


@dataclass(frozen=True)
class Rate:
    ok: int
    judged: int

    @property
    def value(self) -> float | None:
        return self.ok / self.judged if self.judged else None


@dataclass
class Record:
    """One domain's record as the policy counts it."""

    domain: str
    days: float
    rates: dict[str, Rate] = field(default_factory=dict)

    def rate(self, kind: str) -> float | None:
        r = self.rates.get(kind)
        return r.value if r else None

    def count(self, kind: str) -> int:
        r = self.rates.get(kind)
        return r.ok if r else 0

    def judged(self, kind: str) -> int:
        r = self.rates.get(kind)
        return r.judged if r else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "days": round(self.days, 3),
            "outcomes": {
                k: {
                    "ok": r.ok,
                    "judged": r.judged,
                    "rate": None if r.value is None else round(r.value, 4),
                }
                for k, r in self.rates.items()
            },
        }


class TrackRecord:
    """The outcomes of every domain, in SQLite (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def note(self, domain: str, ts: float) -> None:
        """The domain was seen at ``ts`` (its days count from the first time)."""
        self._db.execute(
            "INSERT INTO seen VALUES (?, ?, ?) ON CONFLICT(domain) DO UPDATE SET"
            " first_ts = min(first_ts, excluded.first_ts),"
            " last_ts = max(last_ts, excluded.last_ts)",
            (domain, ts, ts),
        )

    def record(
        self, domain: str, kind: str, subject: str, ok: bool, *, ts: float, detail: str = ""
    ) -> bool:
        """Record one outcome (replacing an earlier judgement of the same subject and kind);
        True when it changed anything."""
        if kind not in KINDS:
            raise ValueError(f"unknown outcome kind {kind!r}; known: {', '.join(KINDS)}")
        self.note(domain, ts)
        row = self._db.execute(
            "SELECT ok, domain FROM outcomes WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        if row is not None and bool(row[0]) == ok and row[1] == domain:
            return False
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?)",
            (domain, kind, subject, int(ok), ts, detail),
        )
        return True

    def outcome(self, kind: str, subject: str) -> bool | None:
        row = self._db.execute(
            "SELECT ok FROM outcomes WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        return None if row is None else bool(row[0])

    def detail(self, kind: str, subject: str) -> str | None:
        """The label an outcome was recorded with (``false_no_change``...), None if none."""
        row = self._db.execute(
            "SELECT detail FROM outcomes WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        return None if row is None else str(row[0])

    def of(self, domain: str, window: int = 50) -> Record:
        seen = self._db.execute(
            "SELECT first_ts, last_ts FROM seen WHERE domain = ?", (domain,)
        ).fetchone()
        days = (seen[1] - seen[0]) / 86400 if seen else 0.0
        rates = {}
        for kind in KINDS:
            rows = self._db.execute(
                "SELECT ok FROM outcomes WHERE domain = ? AND kind = ? ORDER BY ts DESC,"
                " rowid DESC LIMIT ?",
                (domain, kind, window),
            ).fetchall()
            rates[kind] = Rate(sum(r[0] for r in rows), len(rows))
        return Record(domain, days, rates)

    def history(self, domain: str) -> list[tuple[float, str, bool]]:
        """Every outcome of ``domain`` in time order: (ts, kind, ok)."""
        rows = self._db.execute(
            "SELECT ts, kind, ok FROM outcomes WHERE domain = ? ORDER BY ts, rowid", (domain,)
        ).fetchall()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def close(self) -> None:
        self._db.close()


# ------------------------------------------------------------------ requirements

#: requirement field -> (outcome kind, what it reads)
_SHARES: dict[str, str] = {
    "min_accepted_share": "proposal",
    "min_incident_precision": "incident",
    "min_prediction_precision": "prediction",
    "min_prediction_recall": "harm",
    "min_change_success": "change",
}


def gaps(record: Record, req: Requirement) -> list[str]:
    """What ``record`` lacks for ``req`` (empty: met)."""
    out = []
    if record.days < req.min_days:
        out.append(f"{record.days:.1f} days of record < {req.min_days:g}")
    verified = record.count("recommendation")
    if verified < req.min_verified_recommendations:
        out.append(f"{verified} verified recommendations < {req.min_verified_recommendations}")
    for name, kind in _SHARES.items():
        bound = getattr(req, name)
        if bound is None:
            continue
        n, rate = record.judged(kind), record.rate(kind)
        if n < req.min_judged or rate is None:
            out.append(f"{kind}: {n} judged < {req.min_judged} needed to trust a share")
        elif rate < bound:
            out.append(f"{kind} share {rate:.2f} < {bound:.2f} ({record.count(kind)}/{n})")
    return out


def departures(record: Record, req: Requirement) -> list[str]:
    """The trusted shares of ``record`` below ``req``: what makes a promoted domain fall back
    (counts and days never drop, and too few outcomes prove nothing either way)."""
    out = []
    for name, kind in _SHARES.items():
        bound = getattr(req, name)
        rate = record.rate(kind)
        n = record.judged(kind)
        if bound is not None and rate is not None and n >= req.min_judged and rate < bound:
            out.append(f"{kind} share {rate:.2f} < {bound:.2f} ({record.count(kind)}/{n})")
    return out


def earned_phase(record: Record, promotion: Promotion | None) -> str | None:
    """The highest phase ``record`` earns (each requirement up to it met); None when the
    domain's phases are not governed by a record (no ``promotion`` in the policy)."""
    if promotion is None:
        return None
    earned = "passive"
    for phase in PHASES[1:]:
        req = promotion.requirement(phase)
        if req is None or gaps(record, req):
            break
        earned = phase
    return earned


def _phase_of(policy: Policy, autonomy: AutonomyState, domain: str) -> str:
    return autonomy.effective_phase(domain, policy.domains[domain].phase)


def _upto(phase: str) -> tuple[str, ...]:
    """The phases above passive up to ``phase`` (each has its own requirement)."""
    return PHASES[1 : PHASE_CAP[phase]]


def _per_phase(
    promotion: Promotion, rec: Record, phase: str, check: Callable[[Record, Requirement], list[str]]
) -> list[str]:
    """What ``check`` finds against each requirement up to ``phase``, named by phase."""
    return [
        f"{p}: {found}"
        for p in _upto(phase)
        for req in [promotion.requirement(p)]
        if req is not None
        for found in check(rec, req)
    ]


def require_earned(policy: Policy, record: TrackRecord, domain: str, phase: str) -> Record:
    """``domain``'s record, or :class:`NotEarned` with what it lacks for ``phase`` (a domain
    without a ``promotion`` section has nothing to earn)."""
    dom = policy.domains[domain]
    rec = record.of(domain, dom.promotion.window if dom.promotion else 50)
    if dom.promotion is None:
        return rec
    missing = _per_phase(dom.promotion, rec, phase, gaps)
    if missing:
        raise NotEarned(f"domain {domain} has not earned {phase}: " + "; ".join(missing))
    return rec


def promote(
    policy: Policy,
    autonomy: AutonomyState,
    record: TrackRecord,
    audit: AuditLog,
    domain: str,
    phase: str,
    *,
    actor: str,
    ts: float,
    reason: str = "",
) -> dict[str, Any]:
    """An operator confirms ``domain``'s promotion to ``phase``: refused (:class:`NotEarned`)
    unless its record earns it; a domain without a ``promotion`` section has nothing to earn
    and is set as asked. Clears a fallback; audited with the record."""
    if domain not in policy.domains:
        raise NetVigilError(f"no domain {domain!r}; domains: {', '.join(policy.domains)}")
    if phase not in PHASE_CAP:
        raise NetVigilError(f"no phase {phase!r}; phases: {', '.join(PHASES)}")
    before = _phase_of(policy, autonomy, domain)
    rec = require_earned(policy, record, domain, phase)
    if autonomy.fallback(domain):
        autonomy.clear_fallback(domain)
    autonomy.set_phase(domain, phase, actor=actor, ts=ts)
    detail = {"from": before, "to": phase, "reason": reason, "record": rec.as_dict()}
    audit.append(ts=ts, actor=actor, action="autonomy.promoted", subject=domain, detail=detail)
    return detail


def check_fallback(
    policy: Policy,
    autonomy: AutonomyState,
    record: TrackRecord,
    audit: AuditLog,
    domain: str,
    *,
    ts: float,
) -> AuditRecord | None:
    """Fall ``domain`` back when its record departs from its phase's requirement; returns the
    audit record of the fallback (None: nothing to do)."""
    dom = policy.domains.get(domain)
    if dom is None or dom.promotion is None or autonomy.fallback(domain):
        return None
    phase = _phase_of(policy, autonomy, domain)
    rec = record.of(domain, dom.promotion.window)
    gone = _per_phase(dom.promotion, rec, phase, departures)
    if not gone:
        return None
    to = "passive"
    for p in _upto(phase)[:-1]:
        req = dom.promotion.requirement(p)
        if req is None or departures(rec, req):
            break
        to = p
    reason = f"record departed from {phase}: " + "; ".join(gone)
    autonomy.fall_back(domain, to, reason, ts=ts)
    return audit.append(
        ts=ts,
        actor="netvigil/record",
        action="autonomy.fell_back",
        subject=domain,
        detail={"from": phase, "to": to, "reason": reason, "record": rec.as_dict()},
    )


def view(policy: Policy, autonomy: AutonomyState, record: TrackRecord) -> list[dict[str, Any]]:
    """Each domain's phase, record, earned phase and what it lacks for the next one."""
    out = []
    for name, dom in policy.domains.items():
        window = dom.promotion.window if dom.promotion else 50
        rec = record.of(name, window)
        phase = _phase_of(policy, autonomy, name)
        earned = earned_phase(rec, dom.promotion)
        nxt = PHASES[min(PHASE_CAP[phase], len(PHASES) - 1)]
        req = dom.promotion.requirement(nxt) if dom.promotion and nxt != phase else None
        out.append(
            {
                **rec.as_dict(),
                "phase": phase,
                "fallback": autonomy.fallback(name),
                "earned": earned,
                "next_phase": nxt if nxt != phase else None,
                "promotion_earned": bool(
                    earned is not None and nxt != phase and PHASE_CAP[earned] >= PHASE_CAP[nxt]
                ),
                "missing": gaps(rec, req) if req is not None else [],
                "requirements": (
                    {
                        p: r.model_dump()
                        for p in PHASES[1:]
                        for r in [dom.promotion.requirement(p)]
                        if r is not None
                    }
                    if dom.promotion
                    else {}
                ),
            }
        )
    return out
