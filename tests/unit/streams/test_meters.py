"""The edges' meters: readings of live parts only, summed per series, declared metrics only."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from netvigil.streams.meters import METRICS, EdgeMeters, Reading


class Part:
    def __init__(self, n: float, name: str = "netvigil_collector_received") -> None:
        self.n, self.name = n, name

    def readings(self) -> Iterator[Reading]:
        yield Reading(self.name, ("syslog",), self.n)


def test_two_parts_with_the_same_series_are_summed_and_gone_parts_stop_reporting() -> None:
    meters = EdgeMeters()
    a, b = Part(3), Part(4)
    meters.add(a)
    meters.add(b)
    reg = CollectorRegistry()
    reg.register(meters)
    text = generate_latest(reg).decode()
    assert 'netvigil_collector_received_total{collector="syslog"} 7.0' in text
    assert text.count("netvigil_collector_received_total{") == 1
    del b
    gc.collect()
    assert meters.values() == {("netvigil_collector_received", ("syslog",)): 3}


def test_an_undeclared_metric_or_wrong_labels_fail_loudly() -> None:
    meters = EdgeMeters()
    part = Part(1, "netvigil_made_up")
    meters.add(part)
    with pytest.raises(KeyError):
        meters.values()
    meters.discard(part)
    wrong = Part(1, "netvigil_dead_letter_store_bytes")  # takes no labels
    meters.add(wrong)
    with pytest.raises(ValueError, match="takes labels"):
        meters.values()


def test_every_metric_is_named_for_netvigil_and_documented() -> None:
    docs = Path(__file__).parents[3] / "docs"
    doc = (docs / "collectors.md").read_text() + (docs / "operations.md").read_text()
    for name, spec in METRICS.items():
        assert name.startswith("netvigil_") and spec.help.endswith(".")
        wire = name + "_total" if spec.kind == "counter" else name
        assert f"`{wire}`" in doc, f"{wire} is in neither docs/collectors.md nor operations.md"
