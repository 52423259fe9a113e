"""The gNMI collector against a third-party target: OpenConfig's reference fake
(``fake_server`` of github.com/openconfig/gnmi, built from the Go module proxy), over TLS with
the target's own certificate. It implements Subscribe only, so the collector's Get of the
inventory is refused (Unimplemented) and streaming goes on without it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.collectors.gnmi import GnmiCollector, GnmiTarget
from netvigil.events import DeadLetter, DeviceEvent, Event, Metric
from provision.servers import gnmi_fake

from .conftest import netvigil

T0 = 1_700_000_000


def _collect(facts: dict[str, object], until: int) -> tuple[list[Event], GnmiCollector]:
    async def run() -> tuple[list[Event], GnmiCollector]:
        got: list[Event] = []

        async def emit(e: Event) -> None:
            got.append(e)

        target = GnmiTarget(
            host=str(facts["host"]),
            port=int(str(facts["port"])),
            device="r1",
            ca_file=Path(str(facts["ca_file"])),
        )
        collector = GnmiCollector([target], backoff_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(emit, stop))
        for _ in range(300):  # at most 30 s
            await asyncio.sleep(0.1)
            if len(got) >= until:
                break
        stop.set()
        await task
        return got, collector

    return asyncio.run(run())


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    gnmi_fake.stop(tmp_path)


def test_stream_from_the_openconfig_fake_gives_rates_and_link_events(fake: Path) -> None:
    facts = gnmi_fake.start(fake, t0_ns=T0 * 10**9)  # counters 10 s apart, then DOWN
    got, collector = _collect(facts, until=4)
    metrics = [(e.ts, e.name, e.value, e.labels) for e in got if isinstance(e, Metric)]
    assert metrics == [
        (T0, "if.oper_status", 1.0, {"interface": "eth0"}),
        # (2,250,000 - 1,000,000) octets in 10 s of the target's own timestamps
        (T0 + 10, "if.in_bps", 1_000_000.0, {"interface": "eth0"}),
        (T0 + 20, "if.oper_status", 0.0, {"interface": "eth0"}),
    ]
    downs = [e for e in got if isinstance(e, DeviceEvent) and e.kind == "link_down"]
    assert [(e.device, e.entity, e.ts) for e in downs] == [("r1", "r1:eth0", T0 + 20)]
    assert collector.counters.dead_letters == {}


def test_a_value_that_is_not_json_is_a_dead_letter_and_streaming_goes_on(fake: Path) -> None:
    responses = (
        gnmi_fake.update(T0 * 10**9, "oper-status", 'json_ietf_val: "{not json"')
        + gnmi_fake.SYNC
        + gnmi_fake.update((T0 + 10) * 10**9, "oper-status", 'json_ietf_val: "\\"DOWN\\""')
    )
    facts = gnmi_fake.start(fake, responses=responses)
    got, _ = _collect(facts, until=3)
    letters = [e for e in got if isinstance(e, DeadLetter)]
    assert letters and letters[0].source.startswith("gnmi"), got
    assert letters[0].reason.startswith("bad_json: json_ietf_val is not JSON")
    assert any(isinstance(e, Metric) and e.name == "if.oper_status" and e.value == 0.0 for e in got)


def test_cli_streams_from_the_fake_over_tls(fake: Path) -> None:
    facts = gnmi_fake.start(fake, t0_ns=T0 * 10**9)
    r = netvigil(
        "collect", "gnmi", "--target", f"{facts['host']}:{facts['port']}",
        "--ca-file", str(facts["ca_file"]), "--path", "/interfaces", "--count", "4",
        "--device", "r1", "--timeout", "30",
        timeout=90,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    rates = [(e["device"], e["value"]) for e in events if e.get("name") == "if.in_bps"]
    assert rates == [("r1", 1_000_000.0)]
    assert any(e.get("kind") == "link_down" for e in events)
