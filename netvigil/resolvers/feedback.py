"""Operators' judgements of incidents and risks, and the suppressions they make.

A person marks an incident or a risk false (or confirms it) in the console or the CLI, or
resolves a ticket with a close code the policy maps to false or real (read back through the
ticket backend's ``sync``). The judgement is written to ``feedback.db`` at once; the
coordinator takes it up on its next poll (:meth:`FeedbackLoop.take`), the same path the
approvals of changes follow:

- it counts in the domain's track record (incident precision, prediction precision);
- an incident judged false, with ``scope = pattern`` and the policy's ``feedback.suppress``,
  makes a *suppression* of its pattern (the opening anomaly's entity, signal, kind and time
  of day, :mod:`netvigil.analytics.suppression`), published as a
  :class:`~netvigil.events.Feedback` event to the correlator, which from then on holds back
  incidents of that pattern. Each incident held back is counted on the suppression (its hits)
  and audited once; an operator lifts a suppression as they made it, and the lift is
  published the same way. Every step is in the audit log.

Kept apart from the coordinator so the console and the CLI can write judgements while the
service runs (SQLite, like ``autonomy.db``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from netvigil.analytics.suppression import describe, opening_anomaly, pattern_of, suppression_id
from netvigil.errors import NetVigilError
from netvigil.events import Event, Feedback, Incident, Pattern
from netvigil.graph.base import TopologyStore, entity_devices
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.incidents import IncidentStore
from netvigil.resolvers.policy import Policy
from netvigil.resolvers.record import TrackRecord
from netvigil.resolvers.sqlitedb import connect

__all__ = [
    "FeedbackError",
    "FeedbackLoop",
    "FeedbackStore",
    "Judgement",
    "Suppression",
    "domain_of_entity",
]

ACTOR = "netvigil/feedback"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL, kind TEXT NOT NULL, verdict TEXT NOT NULL, scope TEXT NOT NULL,
    actor TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, ts REAL NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS suppressions (id TEXT PRIMARY KEY, entity TEXT NOT NULL,
    signal TEXT NOT NULL, kind TEXT NOT NULL, start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL, subject TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
    created_ts REAL NOT NULL, lifted_ts REAL, lifted_by TEXT NOT NULL DEFAULT '',
    lift_reason TEXT NOT NULL DEFAULT '', hits INTEGER NOT NULL DEFAULT 0, last_hit_ts REAL,
    published TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS suppressed_incidents (fingerprint TEXT PRIMARY KEY,
    suppression TEXT NOT NULL, ts REAL NOT NULL);
"""

Verdict = Literal["false", "confirmed"]


class FeedbackError(NetVigilError):
    """A judgement or a lift that cannot be taken (unknown subject, already lifted)."""


@dataclass(frozen=True)
class Judgement:
    id: int
    subject: str
    kind: str
    verdict: str
    scope: str
    actor: str
    reason: str
    source: str
    ts: float
    taken: bool


@dataclass(frozen=True)
class Suppression:
    id: str
    pattern: Pattern
    subject: str
    actor: str
    reason: str
    created_ts: float
    lifted_ts: float | None
    lifted_by: str
    hits: int
    last_hit_ts: float | None

    @property
    def active(self) -> bool:
        return self.lifted_ts is None

    @property
    def description(self) -> str:
        return describe(self.pattern)


class FeedbackStore:
    """Judgements and suppressions in SQLite (``:memory:`` for tests)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    # ------------------------------------------------------------------ judgements

    def judge(
        self,
        subject: str,
        kind: Literal["incident", "risk"],
        verdict: Verdict,
        *,
        actor: str,
        ts: float,
        reason: str = "",
        scope: Literal["pattern", "once"] = "pattern",
        source: str = "console",
    ) -> Judgement:
        if verdict not in ("false", "confirmed"):
            raise FeedbackError(f"verdict {verdict!r}: say false or confirmed")
        cur = self._db.execute(
            "INSERT INTO judgements (subject, kind, verdict, scope, actor, reason, source, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (subject, kind, verdict, scope, actor, reason, source, ts),
        )
        got = self.judgements(id_=int(cur.lastrowid or 0))
        return got[0]

    def judgements(
        self, *, subject: str | None = None, pending: bool = False, id_: int | None = None
    ) -> list[Judgement]:
        q, args = "SELECT * FROM judgements WHERE 1 = 1", list[object]()
        if subject is not None:
            q += " AND subject = ?"
            args.append(subject)
        if pending:
            q += " AND taken = 0"
        if id_ is not None:
            q += " AND id = ?"
            args.append(id_)
        rows = self._db.execute(q + " ORDER BY id", args).fetchall()
        return [
            Judgement(
                id=r[0],
                subject=r[1],
                kind=r[2],
                verdict=r[3],
                scope=r[4],
                actor=r[5],
                reason=r[6],
                source=r[7],
                ts=r[8],
                taken=bool(r[9]),
            )
            for r in rows
        ]

    def taken(self, judgement: int) -> None:
        self._db.execute("UPDATE judgements SET taken = 1 WHERE id = ?", (judgement,))

    # ------------------------------------------------------------------ suppressions

    def suppress(
        self, pattern: Pattern, *, subject: str, actor: str, reason: str, ts: float
    ) -> tuple[Suppression, bool]:
        """Make (or find, or revive) the suppression of ``pattern``; True when it is new."""
        sid = suppression_id(pattern)
        found = self.suppression(sid)
        if found is not None and found.active:
            return found, False
        self._db.execute(
            "INSERT OR REPLACE INTO suppressions (id, entity, signal, kind, start_min, end_min,"
            " subject, actor, reason, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                pattern.entity,
                pattern.signal,
                pattern.kind,
                pattern.start_min,
                pattern.end_min,
                subject,
                actor,
                reason,
                ts,
            ),
        )
        made = self.suppression(sid)
        assert made is not None
        return made, True

    def lift(self, sid: str, *, actor: str, reason: str, ts: float) -> Suppression:
        """End suppression ``sid`` (published to the correlator on the coordinator's poll)."""
        found = self.suppression(sid)
        if found is None:
            raise FeedbackError(f"no suppression {sid!r}")
        if not found.active:
            raise FeedbackError(f"suppression {sid} was already lifted by {found.lifted_by}")
        self._db.execute(
            "UPDATE suppressions SET lifted_ts = ?, lifted_by = ?, lift_reason = ?,"
            " published = CASE published WHEN '' THEN 'never' ELSE published END WHERE id = ?",
            (ts, actor, reason, sid),
        )
        lifted = self.suppression(sid)
        assert lifted is not None
        return lifted

    def _row(self, r: tuple[object, ...]) -> Suppression:
        return Suppression(
            id=str(r[0]),
            pattern=Pattern(
                entity=str(r[1]),
                signal=str(r[2]),
                kind=str(r[3]),
                start_min=int(r[4]),  # type: ignore[call-overload]
                end_min=int(r[5]),  # type: ignore[call-overload]
            ),
            subject=str(r[6]),
            actor=str(r[7]),
            reason=str(r[8]),
            created_ts=float(r[9]),  # type: ignore[arg-type]
            lifted_ts=None if r[10] is None else float(r[10]),  # type: ignore[arg-type]
            lifted_by=str(r[11]),
            hits=int(r[13]),  # type: ignore[call-overload]
            last_hit_ts=None if r[14] is None else float(r[14]),  # type: ignore[arg-type]
        )

    def suppression(self, sid: str) -> Suppression | None:
        row = self._db.execute("SELECT * FROM suppressions WHERE id = ?", (sid,)).fetchone()
        return self._row(row) if row else None

    def suppressions(self, *, active_only: bool = False) -> list[Suppression]:
        q = "SELECT * FROM suppressions"
        if active_only:
            q += " WHERE lifted_ts IS NULL"
        return [self._row(r) for r in self._db.execute(q + " ORDER BY created_ts").fetchall()]

    def unpublished(self) -> list[tuple[Suppression, Literal["suppress", "lift"]]]:
        """What the correlator has not been told yet: new suppressions, and lifts of ones it
        was told about (a suppression lifted before it was ever published needs nothing)."""
        out: list[tuple[Suppression, Literal["suppress", "lift"]]] = []
        rows = self._db.execute(
            "SELECT * FROM suppressions WHERE (lifted_ts IS NULL AND published = '')"
            " OR (lifted_ts IS NOT NULL AND published = 'suppress') ORDER BY created_ts"
        ).fetchall()
        for r in rows:
            s = self._row(r)
            out.append((s, "suppress" if s.active else "lift"))
        return out

    def republish(self) -> None:
        """Publish every active suppression again (a correlator that restarted without state
        learns them back; publishing one twice changes nothing)."""
        self._db.execute("UPDATE suppressions SET published = '' WHERE lifted_ts IS NULL")

    def published(self, sid: str, verdict: str) -> None:
        self._db.execute("UPDATE suppressions SET published = ? WHERE id = ?", (verdict, sid))

    def hit(self, sid: str, fingerprint: str, ts: float) -> bool:
        """Count one incident held back by ``sid``; False when it was counted already."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO suppressed_incidents VALUES (?, ?, ?)", (fingerprint, sid, ts)
        )
        if not cur.rowcount:
            return False
        self._db.execute(
            "UPDATE suppressions SET hits = hits + 1, last_hit_ts = ? WHERE id = ?", (ts, sid)
        )
        return True

    def held_back(self, fingerprint: str) -> str | None:
        row = self._db.execute(
            "SELECT suppression FROM suppressed_incidents WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return str(row[0]) if row else None

    def close(self) -> None:
        self._db.close()


def domain_of_entity(policy: Policy, topo: TopologyStore, entity: str) -> str:
    """The policy domain an entity (device, interface, link) belongs to: its first device's."""
    for d in entity_devices(entity):
        if topo.has(d):
            dev = topo.device(d)
            return policy.domain_of(dev.name, dev.role, dev.site)
    return policy.domain_of(entity)


class FeedbackLoop:
    """The coordinator's side: takes judgements up, counts them, makes and publishes
    suppressions, and counts what suppressions hold back. Every method returns the events to
    publish (audit records and :class:`~netvigil.events.Feedback`)."""

    def __init__(
        self,
        store: FeedbackStore,
        record: TrackRecord,
        audit: AuditLog,
        incidents: IncidentStore,
        policy: Policy,
        topo: TopologyStore,
    ) -> None:
        self.store = store
        self.record = record
        self.audit = audit
        self.incidents = incidents
        self.policy = policy
        self.topo = topo
        store.republish()  # at start: the correlator may have restarted without them

    def incident_domain(self, inc: Incident) -> str:
        rc = inc.root_cause
        return domain_of_entity(self.policy, self.topo, rc.entity if rc else "")

    def take(self, ts: float) -> tuple[list[Event], list[Judgement]]:
        """Take every pending judgement; returns the events and the judgements of risks (the
        prevention manager's to act on)."""
        out: list[Event] = []
        risks: list[Judgement] = []
        for j in self.store.judgements(pending=True):
            self.store.taken(j.id)
            if j.kind == "risk":
                risks.append(j)
                continue
            out += self._incident(j, ts)
        out += self.publish(ts)
        return out, risks

    def _incident(self, j: Judgement, ts: float) -> list[Event]:
        got = self.incidents.get(j.subject)
        if got is None:
            return [
                self.audit.append(
                    ts=ts,
                    actor=j.actor,
                    action="feedback.ignored",
                    subject=j.subject,
                    detail={"why": "no such incident", "verdict": j.verdict, "source": j.source},
                )
            ]
        inc = got[0]
        domain = self.incident_domain(inc)
        ok = j.verdict == "confirmed"
        self.record.record(domain, "incident", inc.fingerprint, ok, ts=ts, detail=j.source)
        out: list[Event] = [
            self.audit.append(
                ts=ts,
                actor=j.actor,
                action="feedback.judged",
                subject=inc.fingerprint,
                detail={
                    "verdict": j.verdict,
                    "scope": j.scope,
                    "reason": j.reason,
                    "source": j.source,
                    "domain": domain,
                },
            )
        ]
        if ok or j.scope != "pattern" or not self.policy.feedback.suppress:
            return out
        from netvigil.analytics.rca import STRONG_KINDS  # numpy: only when a pattern is made

        ref = opening_anomaly(inc.anomalies, set(STRONG_KINDS))
        if ref is None:
            return out
        pattern = pattern_of(ref, window_min=self.policy.feedback.window_min)
        sup, new = self.store.suppress(
            pattern, subject=inc.fingerprint, actor=j.actor, reason=j.reason, ts=ts
        )
        if new:
            out.append(
                self.audit.append(
                    ts=ts,
                    actor=j.actor,
                    action="suppression.made",
                    subject=sup.id,
                    detail={
                        "pattern": sup.description,
                        "incident": inc.fingerprint,
                        "reason": j.reason,
                        "source": j.source,
                    },
                )
            )
        return out

    def publish(self, ts: float) -> list[Event]:
        """Tell the correlator of new suppressions and lifts (a lift is audited where it is
        asked for: the console, the CLI)."""
        out: list[Event] = []
        for sup, verdict in self.store.unpublished():
            out.append(
                Feedback(
                    ts=ts,
                    suppression=sup.id,
                    verdict=verdict,
                    subject=sup.subject,
                    actor=sup.lifted_by if verdict == "lift" else sup.actor,
                    reason=sup.reason,
                    pattern=sup.pattern,
                )
            )
            self.store.published(sup.id, verdict)
        return out

    def held_back(self, inc: Incident) -> list[Event]:
        """A suppressed incident arrived: count it once and audit it."""
        if not self.store.hit(inc.suppressed, inc.fingerprint, inc.ts):
            return []
        sup = self.store.suppression(inc.suppressed)
        return [
            self.audit.append(
                ts=inc.ts,
                actor=ACTOR,
                action="incident.suppressed",
                subject=inc.fingerprint,
                detail={
                    "suppression": inc.suppressed,
                    "pattern": sup.description if sup else "",
                    "title": inc.title,
                    "hits": sup.hits if sup else None,
                },
            )
        ]
