"""The log processor: new templates after warm-up and template-rate bursts become anomalies."""

from __future__ import annotations

import random

import pytest

from netvigil.analytics.categories import keyword_category
from netvigil.events import Anomaly, LogRecord
from netvigil.streams.logs import LogProcessor


async def test_new_template_and_rate_burst() -> None:
    proc = LogProcessor(warmup=50, bucket_s=60.0)
    state = proc.new_state()
    out: list[Anomaly] = []

    async def feed(ts: float, msg: str, dev: str = "r1") -> None:
        e = LogRecord(ts=ts, device=dev, message=msg, fields={"interface": "Gi0/1"})
        out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))

    for i in range(5):  # seen once on another router: the user name is a variable
        await feed(0.0, f"user u{i} logged in from 10.0.0.{i}", dev="r0")
    for i in range(120):  # one login per minute for two hours: a steady rate
        await feed(i * 60.0, f"user u{i % 5} logged in from 10.0.0.{i % 200}")
    assert out == []
    await feed(7200.0, "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down")
    new = [a for a in out if a.kind == "new_template"]
    assert [a.state for a in new] == ["active", "cleared"]
    assert new[0].entity == "r1:Gi0/1" and new[0].evidence["category"] == "link"
    for k in range(40):  # a burst: 40 logins in one minute
        await feed(7260.0 + k, f"user u{k % 5} logged in from 10.0.1.{k}")
    await feed(7330.0, "user u1 logged in from 10.0.0.1")  # closes the burst's bucket
    rate = [a for a in out if a.kind == "log_rate"]
    assert rate and rate[0].state == "active" and rate[0].value == 40.0


async def test_the_settings_give_the_log_processor_the_minilm_classifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netvigil.config import Settings
    from netvigil.streams.analytics import analytics_processors

    monkeypatch.setenv("NETVIGIL_DETECTOR__LOG_CLASSIFIER", "minilm")  # tests/conftest.py: keywords
    (proc,) = [p for p in analytics_processors(Settings()) if isinstance(p, LogProcessor)]
    state = proc.new_state()
    out: list[Anomaly] = []
    proc.warmup = 0
    # no keyword of any category in it (keyword_category says "other"), a link event by meaning
    msg = "optic on et-0/0/1 reports no light received"
    assert keyword_category(msg)[0] == "other"
    e = LogRecord(ts=1.0, device="r1", message=msg, fields={"interface": "et-0/0/1"})
    out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))
    new = [a for a in out if a.kind == "new_template" and a.state == "active"]
    assert new and new[0].evidence["category"] == "link"


class _CountingClassifier:
    """Counts the templates it is asked about (a stand-in for MiniLM's cost)."""

    def __init__(self) -> None:
        self.asked = 0

    def classify(self, template: str) -> tuple[str, float]:
        self.asked += 1
        return keyword_category(template)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(n)
    )


async def test_a_storm_of_new_text_is_one_anomaly_with_bounded_templates_and_classification() -> (
    None
):
    clf = _CountingClassifier()
    proc = LogProcessor(clf, warmup=100, max_templates=500, storm_new=50, storm_window_s=60.0)
    state = proc.new_state()
    rng = random.Random(7)
    out: list[Anomaly] = []
    for i in range(200):  # normal traffic: a few templates over and over
        e = LogRecord(ts=i * 0.5, device="r1", message=f"user u{i % 7} logged in port {i}")
        out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))
    for i in range(5_000):  # 1,000 messages/s of random words for 5 s
        e = LogRecord(ts=100.0 + i / 1000, device="r2", message=_words(rng, rng.randint(4, 12)))
        out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))
    storms = [a for a in out if a.kind == "novelty_storm"]
    assert [a.state for a in storms] == ["active"] and storms[0].device == "r2"
    assert len([a for a in out if a.kind == "new_template" and a.state == "active"]) < 50
    assert clf.asked < 50  # no classification per template once the storm is known
    stats = proc.stats()
    assert stats["templates"] <= 500 and stats["evicted"] > 4_000 and stats["storms"] == 1
    assert stats["rates"] <= 500
    for i in range(300):  # the storm passes: a minute and more of known text
        e = LogRecord(ts=106.0 + i * 0.5, device="r1", message=f"user u{i % 7} logged in port 1")
        out.extend(a for a in await proc.process(e, state) if isinstance(a, Anomaly))
    storms = [a for a in out if a.kind == "novelty_storm"]
    assert [a.state for a in storms] == ["active", "cleared"]
    assert storms[1].value is not None and storms[1].value > 4_900
