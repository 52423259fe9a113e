"""What ``netvigil run`` says when it stops: what this run did, what the data directory holds,
what was left behind and where it went, and what the pipeline ignored.

"Stopped cleanly" means nothing is left in flight. Anything left is named with where it is:
on the embedded runtime, events still in a processor's inbox die with the process; on Kafka,
records its consumer groups have not consumed stay on their topics and are taken up at the
next start, records in the publisher's spool are sent at the next start, and records shed
from a full spool are gone. Counts of this run (events published, incidents it opened,
resolved, ...) are kept apart from counts of the data directory, which holds every run's
incidents.

:func:`stop_report` reads a service; :func:`render` is pure (tested on plain values).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netvigil.resolvers.coordinator import CoordinatorProcessor
from netvigil.service import Service
from netvigil.streams.ignored import Ignored

__all__ = ["StopReport", "counted", "ignored_counts", "ignored_line", "render", "stop_report"]


@dataclass(frozen=True)
class StopReport:
    stats: Mapping[str, Any]
    """The runtime's counters (``published``, ``queued``, on Kafka ``publisher``)."""
    data_dir: str
    incidents: Mapping[str, int]
    """Incidents in the data directory by status (every run's)."""
    done: Mapping[str, int]
    """What this run's coordinator did (``open``, ``resolve``, ``recovered``, ...)."""
    ignored: Mapping[tuple[str, str], int]
    """(processor, reason) -> events ignored by this run."""
    dead_letters: int
    audit_ok: bool
    audit_records: int
    failed: bool = False
    """The run stopped because of an error (a source that failed)."""
    problems: list[str] = field(default_factory=list)


def ignored_counts(svc: Service) -> dict[tuple[str, str], int]:
    """(processor, reason) -> events ignored by this process: the processors' counters, and
    on Kafka the loops' own (redelivered records of processors that have no counter)."""
    counters = [getattr(p, "ignored", None) for p in svc.processors]
    counters += getattr(svc.runtime, "ignored_counters", list)()
    ignored: Counter[tuple[str, str]] = Counter()
    for counter in {id(c): c for c in counters if isinstance(c, Ignored)}.values():
        for reason, n in counter.counts.items():
            ignored[(counter.processor, reason)] += n
    return dict(ignored)


def ignored_line(ignored: Mapping[tuple[str, str], int]) -> str | None:
    """The summary's line of what was ignored (None: nothing was)."""
    if not ignored:
        return None
    parts = [f"{p} {n} {reason}" for (p, reason), n in sorted(ignored.items())]
    return (
        f"  ignored by this run: {'; '.join(parts)} (each logged once; "
        "netvigil_events_ignored_total)"
    )


def stop_report(svc: Service, *, failed: bool = False) -> StopReport:
    done: Counter[str] = Counter()
    for p in svc.processors:
        if isinstance(p, CoordinatorProcessor):
            done.update(p.ticketing.done)
    ignored = ignored_counts(svc)
    verification = svc.audit.verify()
    return StopReport(
        stats=svc.runtime.stats(),
        data_dir=str(svc.data_dir),
        incidents=svc.incidents.counts(),
        done=dict(done),
        ignored=ignored,
        dead_letters=svc.dead_letters.count,
        audit_ok=verification.ok,
        audit_records=verification.records,
        failed=failed,
    )


def _left(stats: Mapping[str, Any]) -> tuple[int, list[str]]:
    """How many events were left in flight, and where each part of them is."""
    queued = {k: int(v) for k, v in stats.get("queued", {}).items() if v}
    publisher = stats.get("publisher")
    where: list[str] = []
    left = sum(queued.values())
    by = ", ".join(f"{k} {v}" for k, v in sorted(queued.items()))
    if publisher is None:
        if queued:
            where.append(f"{left} in processor inboxes ({by}), lost with the process")
        return left, where
    if queued:
        where.append(
            f"{left} not yet consumed ({by}): they stay on their Kafka topics and are "
            "processed at the next start"
        )
    in_flight = int(publisher.get("in_flight", 0))
    if in_flight:
        left += in_flight
        where.append(f"{in_flight} still in the Kafka producer, not acknowledged")
    spool = int(publisher.get("spool_bytes", 0))
    if spool:
        where.append(f"{spool} bytes in the spool (data directory), sent at the next start")
    return left, where


def counted(count: int, noun: str) -> str:
    """``1 incident``, ``3 incidents``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render(r: StopReport) -> list[str]:
    """The summary's lines: status and counts first, then what was left, then what was
    ignored."""
    published = sum(r.stats.get("published", {}).values())
    left, where = _left(r.stats)
    publisher = r.stats.get("publisher") or {}
    spooled = int(publisher.get("spool_bytes", 0))
    if r.failed:
        status = "stopped after an error"
    elif left or spooled:
        status = "stopped, not cleanly"
    else:
        status = "stopped cleanly"
    n_inc = sum(r.incidents.values())
    this_run = [
        f"{r.done[k]} {verb}"
        for k, verb in (
            ("open", "opened"),
            ("reopen", "reopened"),
            ("resolve", "resolved"),
            ("note", "re-rooted"),
            ("recovered", "finished after a crash"),
        )
        if r.done.get(k)
    ]
    lines = [
        f"{status}: {published} events published by this run, {left} left in flight; "
        f"{counted(n_inc, 'incident')} in {r.data_dir} (all runs; "
        f"{r.incidents.get('open', 0)} open), "
        f"this run: {', '.join(this_run) or 'none opened or changed'}; "
        f"{counted(r.dead_letters, 'dead letter')} this run; audit chain "
        f"{'verified' if r.audit_ok else 'BROKEN'} ({r.audit_records} records)"
    ]
    lines += [f"  left: {w}" for w in where]
    for topic, n in sorted((publisher.get("shed") or {}).items()):
        if n:
            lines.append(f"  lost: {n} records for {topic} shed from the full spool")
    for topic, n in sorted((publisher.get("refused") or {}).items()):
        if n:
            lines.append(f"  refused by Kafka: {n} records for {topic} (dead letters)")
    line = ignored_line(r.ignored)
    if line is not None:
        lines.append(line)
    return lines
