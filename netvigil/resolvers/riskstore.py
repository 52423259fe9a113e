"""The resolvers' risks: the latest revision of each predicted harm, its ticket, the
preemptive change made for it and its outcome, in SQLite (``risks.db``), so a restart finds
risks still waiting for their deadline and the console lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from netvigil.events import Risk, decode_as, encode
from netvigil.resolvers.sqlitedb import connect

__all__ = ["OUTCOMES", "RiskRecord", "RiskStore"]

#: ``pending`` until decided; ``came_true`` (the harm happened), ``averted`` (a change kept
#: away a harm the twin says would have come), ``false`` (no harm by the deadline and the hold
#: time), ``judged_false`` / ``judged_true`` (an operator said so)
OUTCOMES = ("pending", "came_true", "averted", "false", "judged_false", "judged_true")


@dataclass
class RiskRecord:
    risk: Risk
    domain: str
    link: str = ""
    outcome: str = "pending"
    ticket: str = ""
    request_id: str = ""
    """The preemptive change made (or proposed) for it."""
    plan: dict[str, Any] = field(default_factory=dict)
    """What planning found: the candidates, their verdicts, what was chosen and why."""
    counterfactual_max: float | None = None
    """The highest utilization the twin gave the at-risk direction without the change."""
    checked_ts: float = 0.0
    closed_ts: float | None = None

    @property
    def open(self) -> bool:
        return self.outcome == "pending"


class RiskStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS risks (risk_id TEXT PRIMARY KEY, link TEXT NOT NULL,"
            " outcome TEXT NOT NULL, opened_ts REAL NOT NULL, predicted_ts REAL NOT NULL,"
            " risk BLOB NOT NULL, body TEXT NOT NULL)"
        )

    def put(self, rec: RiskRecord) -> None:
        body = {
            "domain": rec.domain,
            "ticket": rec.ticket,
            "request_id": rec.request_id,
            "plan": rec.plan,
            "counterfactual_max": rec.counterfactual_max,
            "checked_ts": rec.checked_ts,
            "closed_ts": rec.closed_ts,
        }
        self._db.execute(
            "INSERT OR REPLACE INTO risks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                rec.risk.risk_id,
                rec.link,
                rec.outcome,
                rec.risk.opened_ts,
                rec.risk.predicted_ts,
                encode(rec.risk),
                msgspec.json.encode(body).decode(),
            ),
        )

    @staticmethod
    def _load(row: tuple[Any, ...]) -> RiskRecord:
        risk = decode_as(row[5], Risk)
        assert isinstance(risk, Risk)
        body = msgspec.json.decode(row[6])
        return RiskRecord(risk=risk, link=row[1], outcome=row[2], **body)

    def get(self, risk_id: str) -> RiskRecord | None:
        row = self._db.execute("SELECT * FROM risks WHERE risk_id = ?", (risk_id,)).fetchone()
        return self._load(row) if row else None

    def all(self) -> list[RiskRecord]:
        rows = self._db.execute("SELECT * FROM risks ORDER BY opened_ts").fetchall()
        return [self._load(r) for r in rows]

    def pending(self) -> list[RiskRecord]:
        rows = self._db.execute(
            "SELECT * FROM risks WHERE outcome = 'pending' ORDER BY predicted_ts"
        ).fetchall()
        return [self._load(r) for r in rows]

    def on_link(self, link: str, since: float, until: float) -> list[RiskRecord]:
        """Risks on ``link`` opened in [since, until]."""
        rows = self._db.execute(
            "SELECT * FROM risks WHERE link = ? AND opened_ts >= ? AND opened_ts <= ?",
            (link, since, until),
        ).fetchall()
        return [self._load(r) for r in rows]

    def close(self) -> None:
        self._db.close()
