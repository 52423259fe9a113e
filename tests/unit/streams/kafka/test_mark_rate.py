"""The re-keying stage writes marks often while it re-keys records, and seldom when idle."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from netvigil.streams.kafka.keyed import BUSY_S, MARK_S, REPORT_S, KeyedWorker


def worker(rekeyed_at: float) -> KeyedWorker:
    return cast(KeyedWorker, SimpleNamespace(_rekeyed_at=rekeyed_at, _marked_at=float("-inf")))


def due(w: KeyedWorker, at: float) -> bool:
    return KeyedWorker._mark_due(w, at)


def test_while_records_are_re_keyed_a_mark_is_due_every_mark_s() -> None:
    w = worker(rekeyed_at=100.0)
    assert due(w, 100.0)
    assert not due(w, 100.0 + MARK_S / 2)
    assert due(w, 100.0 + MARK_S)
    assert not due(w, 100.0 + MARK_S * 1.5)


def test_once_idle_for_busy_s_a_mark_is_due_every_report_s() -> None:
    w = worker(rekeyed_at=100.0)
    idle = 100.0 + BUSY_S
    assert due(w, idle)
    assert not due(w, idle + MARK_S)
    assert not due(w, idle + REPORT_S / 2)
    assert due(w, idle + REPORT_S)


def test_a_worker_that_never_re_keyed_marks_every_report_s() -> None:
    w = worker(rekeyed_at=float("-inf"))
    assert due(w, 5.0)  # the first mark is not delayed
    assert not due(w, 5.0 + MARK_S)
    assert due(w, 5.0 + REPORT_S)
