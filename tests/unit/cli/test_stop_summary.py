"""The stop summary never calls a stop clean with events left, says where what is left went,
keeps this run's counts apart from the data directory's, and lists what was ignored."""

from __future__ import annotations

from typing import Any

from netvigil.cli.stop_summary import StopReport, render


def report(stats: dict[str, Any], **kw: Any) -> StopReport:
    base: dict[str, Any] = dict(
        stats=stats,
        data_dir="/data",
        incidents={"open": 2, "resolved": 17},
        done={"open": 1, "resolve": 3},
        ignored={},
        dead_letters=0,
        audit_ok=True,
        audit_records=57,
    )
    base.update(kw)
    return StopReport(**base)


EMBEDDED = {"published": {"netvigil.metrics": 100310, "netvigil.incidents": 10}, "queued": {}}


def test_a_clean_stop_has_nothing_in_flight_and_separates_this_run_from_all_runs() -> None:
    (line,) = render(report(EMBEDDED))
    assert line.startswith("stopped cleanly: 100320 events published by this run, 0 left")
    assert "19 incidents in /data (all runs; 2 open)" in line
    assert "this run: 1 opened, 3 resolved" in line
    assert "audit chain verified (57 records)" in line


def test_events_left_in_an_embedded_inbox_are_not_a_clean_stop_and_are_named() -> None:
    stats = {**EMBEDDED, "queued": {"coordinator": 3, "detector": 0}}
    lines = render(report(stats))
    assert lines[0].startswith("stopped, not cleanly: 100320 events published by this run, 3 left")
    assert lines[1] == "  left: 3 in processor inboxes (coordinator 3), lost with the process"


def test_on_kafka_it_says_which_topics_and_the_spool_hold_what_is_left() -> None:
    stats = {
        "published": {"netvigil.metrics": 100320},
        "queued": {"netvigil-correlator": 3},
        "publisher": {"in_flight": 0, "spool_bytes": 2048, "shed": {"netvigil.metrics": 5}},
    }
    lines = render(report(stats))
    assert lines[0].startswith("stopped, not cleanly:") and "3 left in flight" in lines[0]
    assert "3 not yet consumed (netvigil-correlator 3): they stay on their Kafka topics" in lines[1]
    assert "2048 bytes in the spool (data directory), sent at the next start" in lines[2]
    assert lines[3] == "  lost: 5 records for netvigil.metrics shed from the full spool"


def test_a_spool_left_behind_is_not_a_clean_stop_even_with_no_lag() -> None:
    stats = {"published": {}, "queued": {}, "publisher": {"spool_bytes": 10}}
    assert render(report(stats))[0].startswith("stopped, not cleanly: 0 events")


def test_what_the_pipeline_ignored_is_listed_by_processor_and_reason() -> None:
    ignored = {("coordinator", "repeated_revision"): 12, ("correlator", "late_anomaly"): 3}
    lines = render(report(EMBEDDED, ignored=ignored))
    assert lines[-1].startswith(
        "  ignored by this run: coordinator 12 repeated_revision; correlator 3 late_anomaly"
    )


def test_a_failed_run_is_never_called_clean() -> None:
    assert render(report(EMBEDDED, failed=True))[0].startswith("stopped after an error:")
