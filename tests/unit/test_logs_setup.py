"""The logging of ``run``/``worker``: Kafka clients' transient conditions are summarised, not
scrolled; what needs attention is shown. Records carry the messages as the libraries' sources
word them (aiokafka 0.13 consumer/group_coordinator.py and producer/sender.py, mode/timers.py),
so no Kafka is needed."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from netvigil.logs_setup import (
    LIBRARY_LEVELS,
    SUMMARY_LOGGER,
    TransientSummary,
    setup_logging,
)

#: (logger, level, format, args) of lines a normal start on a fresh broker prints
KNOWN = [
    (
        "aiokafka.consumer.group_coordinator",
        logging.ERROR,
        "Group Coordinator Request failed: %s",
        ("[Error 15] GroupCoordinatorNotAvailableError",),
    ),
    (
        "aiokafka.consumer.group_coordinator",
        logging.WARNING,
        "Heartbeat failed for group %s because it is rebalancing",
        ("netvigil-correlator",),
    ),
    (
        "aiokafka.consumer.group_coordinator",
        logging.WARNING,
        "Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid",
        ("netvigil-detector", 1),
    ),
    (
        "aiokafka.producer.sender",
        logging.WARNING,
        "Got error produce response: %s",
        ("[Error 6] NotLeaderForPartitionError",),
    ),
    (
        "mode.timers",
        logging.WARNING,
        "Timer %s is overlapping (interval=%r runtime=%r)",
        ("_mark", 1.0, 1.8),
    ),
]


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {n: logging.getLogger(n).level for n in [*LIBRARY_LEVELS, "netvigil"]}
    yield
    for h in list(root.handlers):
        if h not in saved[0]:
            h.close()
            root.removeHandler(h)
    root.setLevel(saved[1])
    for n, lvl in levels.items():
        logging.getLogger(n).setLevel(lvl)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def emit(logger: str, level: int, msg: str, args: tuple[object, ...]) -> None:
    logging.getLogger(logger).log(level, msg, *args)


def test_known_transient_lines_become_one_summary_line(clean_logging: None) -> None:
    out, clock = io.StringIO(), Clock()
    summary = setup_logging("INFO", out, clock=clock)
    for _ in range(6):  # a start: each condition several times within seconds
        for rec in KNOWN:
            emit(*rec)
        clock.t += 1.0
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines  # the first occurrence, summarised at once
    assert SUMMARY_LOGGER in lines[0] and "INFO" in lines[0]
    assert "1 x Kafka group coordinator not available yet" in lines[0]
    for word in ("Heartbeat failed", "NotLeaderForPartition", "overlapping", "ERROR", "WARNING"):
        assert word not in out.getvalue()
    assert sum(summary.total.values()) == 6 * len(KNOWN)
    assert summary.total["stream timer woke late (event loop busy)"] == 6
    assert summary.total["Kafka partition leader moved or not elected yet"] == 6

    # a minute later the next such line brings the counts since the first summary
    clock.t += 60.0
    emit(*KNOWN[3])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "12 x Kafka heartbeat refused during a group rebalance" in lines[1]
    assert "7 x Kafka partition leader moved or not elected yet" in lines[1]

    # what is left is written when logging shuts down (the handler closes)
    emit(*KNOWN[4])
    assert len(out.getvalue().splitlines()) == 2
    for h in logging.getLogger().handlers:
        if h.filters and summary in h.filters:
            h.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "1 x stream timer woke late" in lines[2], lines


def test_what_needs_attention_is_shown(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", out)
    # not a transient condition: the operator has to fix the topic or the ACL
    emit("aiokafka.cluster", logging.ERROR, "Topic %s not found in cluster metadata", ("x",))
    emit("netvigil.streams.kafka.runtime", logging.WARNING, "drain: still busy after %.0f s", (30,))
    emit("netvigil.collectors.snmp.poller", logging.INFO, "snmp poll of %s failed: %s", ("r1", "t"))
    # library chatter at INFO is not
    emit("aiokafka.consumer.group_coordinator", logging.INFO, "(Re-)joining group %s", ("g",))
    emit("faust.worker", logging.INFO, "[^Worker]: Ready", ())
    text = out.getvalue()
    assert "ERROR aiokafka.cluster: Topic x not found in cluster metadata" in text
    assert "WARNING netvigil.streams.kafka.runtime: drain: still busy after 30 s" in text
    assert "snmp poll of r1 failed" in text
    assert "joining group" not in text and "Ready" not in text


def test_untimed_lines_for_run(clean_logging: None) -> None:
    timed, untimed = io.StringIO(), io.StringIO()
    setup_logging("INFO", timed)
    logging.getLogger("netvigil.test").warning("one")
    setup_logging("INFO", untimed, timestamps=False)
    logging.getLogger("netvigil.test").warning("two")
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING netvigil.test: one$", timed.getvalue()
    )
    assert untimed.getvalue() == "WARNING netvigil.test: two\n"


def test_debug_shows_every_line(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", out)
    for rec in KNOWN:
        emit(*rec)
    emit("aiokafka.consumer.group_coordinator", logging.INFO, "(Re-)joining group %s", ("g",))
    text = out.getvalue()
    assert "Heartbeat failed for group netvigil-correlator because it is rebalancing" in text
    assert "Timer _mark is overlapping" in text
    assert "(Re-)joining group g" in text


def test_warning_level_hides_the_summary_too(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("WARNING", out)
    for rec in KNOWN:
        emit(*rec)
    assert out.getvalue() == ""


def test_a_second_setup_replaces_the_first(clean_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("INFO", first)
    setup_logging("INFO", second)
    logging.getLogger("netvigil.test").warning("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1


def test_condition_matches_logger_prefix_and_message() -> None:
    f = TransientSummary()
    msg = "Got error produce response: %s"
    rec = logging.LogRecord(
        "aiokafka.producer.sender", logging.WARNING, __file__, 1, msg, ("x",), None
    )
    assert f.condition(rec) is not None
    # the same words from NetVigil's own loggers are not the client's to handle
    mine = logging.LogRecord(
        "netvigil.streams.kafka.runtime", logging.WARNING, __file__, 1, "Heartbeat failed", (), None
    )
    assert f.condition(mine) is None
    # a logger whose name only starts like a library's is not that library
    other = logging.LogRecord(
        "aiokafkax", logging.WARNING, __file__, 1, "Heartbeat failed", (), None
    )
    assert f.condition(other) is None
