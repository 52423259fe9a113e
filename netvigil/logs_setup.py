"""Logging of the long-running commands (``netvigil run``, ``netvigil worker``), set up in one
place, so that what an operator reads on the terminal is what needs their attention.

Kafka's Python clients log, as warnings and errors, conditions they handle themselves: a group
coordinator not elected yet while a broker starts (``GroupCoordinatorNotAvailableError``), a
partition leader that moved (``NotLeaderForPartitionError``), a heartbeat refused during a
rebalance ("Heartbeat failed"), a faust/mode timer that woke late because the loop was busy
("Timer _mark is overlapping"). Each is retried by the client, and a normal start on a fresh
broker prints dozens. Here:

- each library logger gets a level (:data:`LIBRARY_LEVELS`): their start-up chatter at INFO
  (joins, assignments, timers) is not shown unless ``log.level`` is DEBUG;
- :class:`TransientSummary`, a filter on the one handler, recognises the known transient
  conditions (:data:`TRANSIENT`: a logger prefix, a message pattern, plain words), keeps their
  lines off the terminal, counts them, and writes one summary line on ``netvigil.transient``
  at most once a window (a minute): the first occurrence at once, the rest when the window has
  passed, what is left when logging shuts down. At DEBUG every line is shown as it came.

A condition that lasts is not hidden by this: NetVigil's own runtime reports a broker it
cannot reach (spooling, failed start), which is where an operator has something to do.

Written here rather than taken from a library: the standard ``logging`` filters and levels are
the whole mechanism; what this module adds is the table of known conditions and the counting.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "FORMAT",
    "FORMAT_UNTIMED",
    "LIBRARY_LEVELS",
    "SUMMARY_LOGGER",
    "TRANSIENT",
    "Transient",
    "TransientSummary",
    "setup_logging",
]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: without the wall-clock time: for ``run``, whose own lines carry the network's event time
#: (the twin's simulated clock), so that the terminal shows one clock
FORMAT_UNTIMED = "%(levelname)s %(name)s: %(message)s"

SUMMARY_LOGGER = "netvigil.transient"

#: the least level shown per library logger (children included) unless log.level is DEBUG
LIBRARY_LEVELS: dict[str, int] = {
    "aiokafka": logging.WARNING,
    "faust": logging.WARNING,
    "mode": logging.WARNING,
    "kafka": logging.WARNING,
    "netvigil.librdkafka": logging.WARNING,
    "neo4j": logging.WARNING,
    "apscheduler": logging.WARNING,
    "httpx": logging.WARNING,
    "urllib3": logging.WARNING,
    "asyncio": logging.WARNING,
    "transformers": logging.ERROR,
    "huggingface_hub": logging.ERROR,
    "pysnmp": logging.WARNING,
    "grpc": logging.WARNING,
}


@dataclass(frozen=True)
class Transient:
    """A condition a client library logs and handles itself: lines of loggers under
    ``logger`` whose message matches ``pattern`` are counted under ``what``."""

    logger: str
    pattern: re.Pattern[str]
    what: str

    def matches(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name != self.logger and not name.startswith(self.logger + "."):
            return False
        return self.pattern.search(record.getMessage()) is not None


def _t(logger: str, pattern: str, what: str) -> Transient:
    return Transient(logger, re.compile(pattern), what)


_COORDINATOR = r"GroupCoordinatorNotAvailable|NotCoordinatorForGroup|coordinator dead|COORDINATOR"
_LEADER = r"NotLeaderForPartition|LeaderNotAvailable|NotLeaderOrFollower|NOT_LEADER|LEADER_NOT"
_REBALANCE = r"Heartbeat failed|RebalanceInProgress|REBALANCE_IN_PROGRESS|generation id is not"
_REACH = (
    r"Unable connect to|Unable to update metadata|Unable to request metadata|"
    r"Failed fetch messages|KafkaConnectionError|NodeNotReady|RequestTimedOut|"
    r"Got error produce response|Cannot send|Could not send"
)

_KAFKA_CLIENTS = ("aiokafka", "faust", "kafka", "netvigil.librdkafka")
_KAFKA_CONDITIONS = (
    (_COORDINATOR, "Kafka group coordinator not available yet"),
    (_LEADER, "Kafka partition leader moved or not elected yet"),
    (_REBALANCE, "Kafka heartbeat refused during a group rebalance"),
    (_REACH, "Kafka broker did not answer a request (retried)"),
)

#: known transient conditions (first match wins), in the words of the libraries' sources
TRANSIENT: tuple[Transient, ...] = (
    *(_t(lib, pattern, what) for lib in _KAFKA_CLIENTS for pattern, what in _KAFKA_CONDITIONS),
    _t("mode", r"Timer \S+ is overlapping", "stream timer woke late (event loop busy)"),
    _t("faust", r"Timer \S+ is overlapping", "stream timer woke late (event loop busy)"),
)


class TransientSummary(logging.Filter):
    """Keeps lines of known transient conditions off a handler and summarises them: one line
    on :data:`SUMMARY_LOGGER` at the first such line, then at most one per ``window_s``
    (counts since the last summary), and :meth:`flush` writes what is left. With
    ``show_lines`` each line also passes as it came (log level DEBUG)."""

    def __init__(
        self,
        conditions: Iterable[Transient] = TRANSIENT,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        show_lines: bool = False,
    ) -> None:
        super().__init__()
        self.conditions = tuple(conditions)
        self.window_s = window_s
        self.clock = clock
        self.show_lines = show_lines
        self.pending: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self._since: float | None = None  # when the last summary was written

    def condition(self, record: logging.LogRecord) -> Transient | None:
        """The known transient condition this record reports, if any."""
        return next((c for c in self.conditions if c.matches(record)), None)

    def filter(self, record: logging.LogRecord) -> bool:
        cond = self.condition(record)
        if cond is None:
            return True
        self.pending[cond.what] += 1
        self.total[cond.what] += 1
        now = self.clock()
        if self._since is None or now - self._since >= self.window_s:
            self._write(now)
        return self.show_lines

    def summary(self) -> str | None:
        """The summary line of the conditions counted since the last one, or None."""
        if not self.pending:
            return None
        counts = ", ".join(f"{n} x {what}" for what, n in self.pending.most_common())
        return (
            f"transient, handled by the client: {counts} "
            f"(summarised at most once per {self.window_s:g} s; log.level DEBUG shows each line)"
        )

    def flush(self) -> None:
        """Write the summary of what was counted since the last one (at shutdown)."""
        self._write(self.clock())

    def _write(self, now: float) -> None:
        text = self.summary()
        self.pending.clear()
        self._since = now
        if text is not None:
            logging.getLogger(SUMMARY_LOGGER).info(text)


class _Handler(logging.StreamHandler[TextIO]):
    """The terminal handler: writes what is left of the summary when logging shuts down."""

    def __init__(self, stream: TextIO, summary: TransientSummary) -> None:
        super().__init__(stream)
        self.summary = summary
        self.addFilter(summary)

    def close(self) -> None:
        self.summary.flush()
        super().close()


def setup_logging(
    level: str | int = "INFO",
    stream: TextIO | None = None,
    *,
    timestamps: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> TransientSummary:
    """Log to ``stream`` (stderr) at ``level`` with libraries at :data:`LIBRARY_LEVELS` and
    known transient conditions summarised, each line with the wall-clock time unless not
    ``timestamps``; replaces the handler of an earlier call. Returns the summary filter."""
    lvl = logging.getLevelName(level) if isinstance(level, str) else level
    debug = lvl <= logging.DEBUG
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        old.close()  # its summary of what is left, still through it
        root.removeHandler(old)
    summary = TransientSummary(clock=clock, show_lines=debug)
    handler = _Handler(stream or sys.stderr, summary)
    handler.setFormatter(logging.Formatter(FORMAT if timestamps else FORMAT_UNTIMED))
    root.addHandler(handler)
    root.setLevel(lvl)
    for name, least in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(lvl if debug else max(least, lvl))
    return summary
