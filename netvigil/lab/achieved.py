"""What the lab's traffic generator offered and what it sent: its achieved rate.

The generator (:mod:`netvigil.lab.traffic`) paces datagrams from one Python process; on a
loaded machine it falls behind (its catch-up credit is capped, so the time it loses is
demand never sent), and the lab then carries less than the twin's demand. So the lab's
loads are a measure of the generator as much as of the network, unless what it sent is
known. The generator counts, per demand (source router, destination router) and in total,
the bits it was asked to send (``offered``: the demand's rate times the time that passed,
whatever the process managed) and the bits it handed to the kernel (``sent``: datagrams
``sendto`` accepted, on-the-wire size), cumulatively since it started, and writes them every
step to ``traffic.json`` in the lab directory (atomically: a temporary file renamed).

Two readings of that file give the rates between them (:func:`rates_between`): what
``lab status --json`` shows (the last step), and what the what-if comparison uses over its
measurement window (:mod:`netvigil.eval.lab_whatif`: the twin's prediction for the demand
the lab actually carried, beside its prediction for the demand it was asked to carry).
Surges and ramps (faults) are counted apart (``surge``), not as demands.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TRAFFIC_FILE", "Achieved", "TrafficCounters", "rates_between", "read_counters"]

TRAFFIC_FILE = "traffic.json"


@dataclass
class TrafficCounters:
    """Cumulative bits offered and sent, per demand ``"src>dst"`` and for surges."""

    started: float
    ts: float = 0.0
    pairs: dict[str, list[float]] = field(default_factory=dict)
    """``"src>dst"`` -> [offered bits, sent bits]."""
    surge: list[float] = field(default_factory=lambda: [0.0, 0.0])
    last_step: dict[str, Any] | None = None
    """The rates of the last step (:meth:`Achieved.summary`), for ``lab status``."""

    def add(self, key: str | None, offered_bits: float, sent_bits: float) -> None:
        """Count one demand's (``key``; None: a surge) offered and sent bits."""
        row = self.surge if key is None else self.pairs.setdefault(key, [0.0, 0.0])
        row[0] += offered_bits
        row[1] += sent_bits

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "ts": self.ts,
            "pairs": self.pairs,
            "surge": self.surge,
            "last_step": self.last_step,
        }

    def snapshot(self) -> TrafficCounters:
        return TrafficCounters.from_dict(json.loads(json.dumps(self.to_dict())))

    def write(self, folder: Path, ts: float, previous: TrafficCounters | None = None) -> None:
        """Write the counters as of ``ts`` (with the rates since ``previous``, if given)."""
        self.ts = ts
        step = rates_between(previous, self) if previous is not None else None
        self.last_step = step.summary() if step is not None else None
        tmp = folder / f".{TRAFFIC_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(self.to_dict()))
        tmp.replace(folder / TRAFFIC_FILE)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrafficCounters:
        return cls(
            started=float(d["started"]),
            ts=float(d["ts"]),
            pairs={str(k): [float(v[0]), float(v[1])] for k, v in d.get("pairs", {}).items()},
            surge=[float(x) for x in d.get("surge", [0.0, 0.0])],
            last_step=d.get("last_step"),
        )


def read_counters(folder: Path) -> TrafficCounters | None:
    """The generator's counters as last written (None: no file, or not readable)."""
    try:
        return TrafficCounters.from_dict(json.loads((folder / TRAFFIC_FILE).read_text()))
    except (FileNotFoundError, ValueError, KeyError, TypeError, IndexError):
        return None


@dataclass(frozen=True)
class Achieved:
    """Rates between two readings: per demand (source, destination) -> (offered, sent) bps."""

    seconds: float
    pairs: dict[tuple[str, str], tuple[float, float]]
    surge: tuple[float, float]

    @property
    def offered_bps(self) -> float:
        return sum(o for o, _ in self.pairs.values())

    @property
    def sent_bps(self) -> float:
        return sum(s for _, s in self.pairs.values())

    @property
    def share(self) -> float | None:
        """Sent over offered, of the demands (None when nothing was offered)."""
        off = self.offered_bps
        return self.sent_bps / off if off > 0 else None

    def sent(self) -> dict[tuple[str, str], float]:
        return {k: s for k, (_, s) in self.pairs.items()}

    def summary(self) -> dict[str, Any]:
        share = self.share
        return {
            "seconds": round(self.seconds, 1),
            "offered_bps": round(self.offered_bps, 1),
            "sent_bps": round(self.sent_bps, 1),
            "achieved_share": None if share is None else round(share, 4),
            "surge_offered_bps": round(self.surge[0], 1),
            "surge_sent_bps": round(self.surge[1], 1),
        }


def rates_between(a: TrafficCounters, b: TrafficCounters) -> Achieved | None:
    """The rates from reading ``a`` to the later reading ``b`` of the same generator (None
    when they are not: another start, or no time between them)."""
    dt = b.ts - a.ts
    if dt <= 0 or a.started != b.started:
        return None
    pairs: dict[tuple[str, str], tuple[float, float]] = {}
    for key, (off, sent) in b.pairs.items():
        off0, sent0 = a.pairs.get(key, (0.0, 0.0))
        src, _, dst = key.partition(">")
        pairs[(src, dst)] = ((off - off0) / dt, (sent - sent0) / dt)
    surge = ((b.surge[0] - a.surge[0]) / dt, (b.surge[1] - a.surge[1]) / dt)
    return Achieved(dt, pairs, surge)
