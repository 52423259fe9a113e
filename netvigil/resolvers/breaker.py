"""The circuit breaker and the autonomy counters, kept in SQLite so every worker and the CLI
see the same state.

- **Breakers**: one global, one per policy domain. Open means nothing autonomous runs there
  (actions become proposals). They trip automatically after ``trip_after`` consecutive failed
  verifications in a domain, or by an operator (``netvigil breaker trip``); the reason, who and
  when are kept, and only an explicit reset closes them again.
- **Fallback**: when the verification success rate of a domain's last ``window`` autonomous
  changes drops below ``min_success_rate``, the domain falls back to the passive phase until an
  operator clears it.
- **Phases set by operators**: the console (or ``netvigil policy phase``) may move a domain to
  another deployment phase than the policy file gives it; kept here so the remediator of every
  worker sees it at its next decision. A fallback to passive still wins over it.
- **Rate limits**: autonomous changes per domain are recorded with their event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netvigil.resolvers.policy import Fallback
from netvigil.resolvers.sqlitedb import connect

__all__ = ["GLOBAL", "AutonomyState", "BreakerStatus"]

GLOBAL = "global"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS breakers (scope TEXT PRIMARY KEY, open INTEGER NOT NULL,
    reason TEXT NOT NULL, actor TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS verifications (domain TEXT NOT NULL, ts REAL NOT NULL,
    ok INTEGER NOT NULL, request_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (domain TEXT NOT NULL, ts REAL NOT NULL,
    request_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS fallbacks (domain TEXT PRIMARY KEY, phase TEXT NOT NULL,
    reason TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS phases (domain TEXT PRIMARY KEY, phase TEXT NOT NULL,
    actor TEXT NOT NULL, ts REAL NOT NULL);
"""


@dataclass(frozen=True)
class BreakerStatus:
    scope: str
    open: bool
    reason: str
    actor: str
    ts: float


class AutonomyState:
    """Breakers, fallbacks and change counters; ``:memory:`` for tests."""

    def __init__(self, path: str | Path = ":memory:", *, trip_after: int = 3) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        self.trip_after = trip_after

    # ------------------------------------------------------------------ breakers

    def trip(self, scope: str, reason: str, *, actor: str, ts: float) -> BreakerStatus:
        """Open the breaker of ``scope`` (``global`` or a domain name) with a reason."""
        self._db.execute(
            "INSERT INTO breakers VALUES (?, 1, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET"
            " open = 1, reason = excluded.reason, actor = excluded.actor, ts = excluded.ts",
            (scope, reason, actor, ts),
        )
        return self.status(scope)

    def reset(self, scope: str, reason: str, *, actor: str, ts: float) -> BreakerStatus:
        """Close the breaker of ``scope``; also forgets the failures that tripped it."""
        with self._db:
            self._db.execute(
                "INSERT INTO breakers VALUES (?, 0, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET"
                " open = 0, reason = excluded.reason, actor = excluded.actor, ts = excluded.ts",
                (scope, reason, actor, ts),
            )
            if scope != GLOBAL:
                self._db.execute("DELETE FROM verifications WHERE domain = ?", (scope,))
        return self.status(scope)

    def status(self, scope: str) -> BreakerStatus:
        row = self._db.execute(
            "SELECT open, reason, actor, ts FROM breakers WHERE scope = ?", (scope,)
        ).fetchone()
        if row is None:
            return BreakerStatus(scope, False, "", "", 0.0)
        return BreakerStatus(scope, bool(row[0]), row[1], row[2], row[3])

    def all(self) -> list[BreakerStatus]:
        rows = self._db.execute("SELECT scope, open, reason, actor, ts FROM breakers ORDER BY 1")
        return [BreakerStatus(r[0], bool(r[1]), r[2], r[3], r[4]) for r in rows.fetchall()]

    def open_reason(self, domain: str) -> str | None:
        """Why autonomy is stopped for ``domain`` (global breaker first), or None."""
        for scope in (GLOBAL, domain):
            st = self.status(scope)
            if st.open:
                return f"{scope} breaker opened by {st.actor}: {st.reason}"
        return None

    # ------------------------------------------------------------------ counters

    def record_change(self, domain: str, request_id: str, *, ts: float) -> None:
        self._db.execute("INSERT OR IGNORE INTO changes VALUES (?, ?, ?)", (domain, ts, request_id))

    def changes_since(self, domain: str, since: float) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM changes WHERE domain = ? AND ts >= ?", (domain, since)
        ).fetchone()
        return int(row[0])

    def record_verification(
        self, domain: str, request_id: str, ok: bool, *, ts: float, fallback: Fallback
    ) -> list[str]:
        """Count one verification; returns what it set off (breaker tripped, fallback)."""
        self._db.execute(
            "INSERT INTO verifications VALUES (?, ?, ?, ?)", (domain, ts, int(ok), request_id)
        )
        happened = []
        recent = [
            bool(r[0])
            for r in self._db.execute(
                "SELECT ok FROM verifications WHERE domain = ? ORDER BY rowid DESC LIMIT ?",
                (domain, max(fallback.window, self.trip_after)),
            ).fetchall()
        ]
        streak = recent[: self.trip_after]
        if len(streak) == self.trip_after and not any(streak) and not self.status(domain).open:
            reason = f"{self.trip_after} consecutive failed verifications (last {request_id})"
            self.trip(domain, reason, actor="netvigil/breaker", ts=ts)
            happened.append(f"breaker {domain} tripped: {reason}")
        window = recent[: fallback.window]
        if len(window) == fallback.window and self.fallback(domain) is None:
            rate = sum(window) / len(window)
            if rate < fallback.min_success_rate:
                reason = (
                    f"verification success {rate:.0%} over the last {len(window)} changes "
                    f"< {fallback.min_success_rate:.0%}"
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO fallbacks VALUES (?, 'passive', ?, ?)",
                    (domain, reason, ts),
                )
                happened.append(f"domain {domain} fell back to passive: {reason}")
        return happened

    def fall_back(self, domain: str, phase: str, reason: str, *, ts: float) -> None:
        """Force ``domain`` down to ``phase`` until an operator clears it (its track record
        departed from what its phase needs, :mod:`netvigil.resolvers.record`)."""
        self._db.execute(
            "INSERT OR REPLACE INTO fallbacks VALUES (?, ?, ?, ?)", (domain, phase, reason, ts)
        )

    def fallback_reason(self, domain: str) -> str | None:
        row = self._db.execute(
            "SELECT reason FROM fallbacks WHERE domain = ?", (domain,)
        ).fetchone()
        return str(row[0]) if row else None

    def fallback(self, domain: str) -> str | None:
        """The phase forced on ``domain`` by fallback, or None."""
        row = self._db.execute("SELECT phase FROM fallbacks WHERE domain = ?", (domain,)).fetchone()
        return str(row[0]) if row else None

    def clear_fallback(self, domain: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM fallbacks WHERE domain = ?", (domain,))
            self._db.execute("DELETE FROM verifications WHERE domain = ?", (domain,))

    # ------------------------------------------------------------------ phases

    def set_phase(self, domain: str, phase: str, *, actor: str, ts: float) -> None:
        """Put ``domain`` in ``phase`` (checked by the caller against the policy's phases)."""
        self._db.execute(
            "INSERT OR REPLACE INTO phases VALUES (?, ?, ?, ?)", (domain, phase, actor, ts)
        )

    def phase(self, domain: str) -> str | None:
        """The phase an operator set for ``domain``, or None (the policy file's applies)."""
        row = self._db.execute("SELECT phase FROM phases WHERE domain = ?", (domain,)).fetchone()
        return str(row[0]) if row else None

    def effective_phase(self, domain: str, configured: str) -> str:
        """The phase the remediator decides with: a fallback first, then one an operator set,
        then ``configured`` (the policy file's)."""
        return self.fallback(domain) or self.phase(domain) or configured

    def close(self) -> None:
        self._db.close()
