"""Incident summaries: the deterministic template, the OpenAI-compatible backend against a
local HTTP stub of the chat-completions API, the fallback, and the correlator writing them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

from netvigil.analytics.summary import Summarizer, SummaryConfig, template_summary
from netvigil.events import Anomaly, AnomalyRef, Incident, RootCause
from netvigil.graph.importers import load_topology
from netvigil.streams.correlate import CorrelatorProcessor


def _incident(status: str = "open") -> Incident:
    return Incident(
        ts=1_700_000_300.0,
        fingerprint="f00",
        status=status,  # type: ignore[arg-type]
        revision=2,
        opened_ts=1_700_000_000.0,
        title="link core1--edge1 down",
        severity="major",
        root_causes=[
            RootCause(
                entity="core1--edge1",
                kind="link",
                score=0.93,
                fault="down",
                evidence=["both ends down"],
            ),
            RootCause(entity="edge1", kind="device", score=0.41, fault="down"),
        ],
        anomalies=[
            AnomalyRef(
                entity="core1:eth1",
                signal="if.oper_status",
                kind="down",
                score=1.0,
                onset_ts=1_700_000_000.0,
            ),
            AnomalyRef(
                entity="edge1:eth0",
                signal="if.oper_status",
                kind="down",
                score=1.0,
                onset_ts=1_700_000_010.0,
                state="cleared",
            ),
        ],
        impact=["core1", "edge1"],
    )


def test_template_summary_states_the_incident_facts() -> None:
    text = template_summary(_incident())
    assert text.startswith("Open major incident: link core1--edge1 is down (confidence 0.93).")
    assert "Evidence: both ends down." in text
    assert "Other candidates: device edge1 (0.41)." in text
    assert "2 anomalies (1 active) since 2023-11-14 22:13:20 UTC: if.oper_status down." in text
    assert text.endswith("Affected: core1, edge1.")
    assert template_summary(_incident("resolved")).startswith("Resolved major incident")


def test_template_summary_without_a_cause() -> None:
    inc = Incident(ts=0.0, fingerprint="x", status="open", revision=1, opened_ts=0.0, title="t")
    assert template_summary(inc) == "Open major incident: anomalies without a located cause."


class _Stub(BaseHTTPRequestHandler):
    """The chat-completions endpoint of the OpenAI API, as far as the summariser uses it."""

    requests: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], **body}
        )
        if type(self).status != 200:
            self.send_error(type(self).status)
            return
        facts = body["messages"][-1]["content"]
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"  STUB: {facts[:40]}  "},
                    "finish_reason": "stop",
                }
            ],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.requests, _Stub.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)  # a free port chosen by the OS
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_backend_asks_the_chat_api_with_the_facts(stub: str) -> None:
    s = Summarizer(SummaryConfig(backend="openai", url=stub, model="tiny", api_key="k"))
    inc = _incident()
    text = s.summarize(inc)
    assert text == f"STUB: {template_summary(inc)[:40]}"
    (req,) = _Stub.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer k"
    assert req["model"] == "tiny" and req["temperature"] == 0
    assert req["messages"][0]["role"] == "system"
    assert req["messages"][1]["content"] == template_summary(inc)
    assert s.failures == 0


def test_a_failing_backend_falls_back_to_the_template(stub: str) -> None:
    _Stub.status = 500
    s = Summarizer(SummaryConfig(backend="openai", url=stub, timeout_s=5))
    assert s.summarize(_incident()) == template_summary(_incident())
    assert s.failures == 1


def test_an_unreachable_backend_falls_back_to_the_template(stub: str) -> None:
    s = Summarizer(SummaryConfig(backend="openai", url="http://127.0.0.1:9/v1", timeout_s=2))
    assert s.summarize(_incident()) == template_summary(_incident())
    assert s.failures == 1


def _anomaly(entity: str) -> Anomaly:
    return Anomaly(
        ts=100.0,
        device=entity.split(":")[0],
        entity=entity,
        signal="if.oper_status",
        kind="down",
        score=1.0,
        onset_ts=100.0,
    )


def _correlate(summarizer: Summarizer | None) -> list[Incident]:
    topo = load_topology(None)
    proc = CorrelatorProcessor(topo, summarizer=summarizer)
    state = proc.new_state()
    lk = topo.link("core1--edge1")
    out: list[Incident] = []
    for entity in (lk.a_if, lk.b_if):
        out += [
            e for e in asyncio.run(proc.process(_anomaly(entity), state)) if isinstance(e, Incident)
        ]
    return out


def test_the_correlator_writes_the_template_summary_by_default() -> None:
    incidents = _correlate(None)
    assert incidents
    for inc in incidents:
        assert inc.summary == template_summary(inc)
    assert "link core1--edge1 is down" in incidents[-1].summary


def test_the_correlator_uses_a_configured_generator(stub: str) -> None:
    incidents = _correlate(Summarizer(SummaryConfig(backend="openai", url=stub)))
    assert incidents
    assert all(inc.summary.startswith("STUB: ") for inc in incidents)
    assert len(_Stub.requests) == len(incidents)


def test_the_template_names_the_first_four_kinds_of_many_symptoms_in_order() -> None:
    """A storm's incident: many symptoms of six (signal, kind) pairs, repeated: each pair
    once, sorted, the first four named and the rest counted."""
    pairs = [
        ("if.oper_status", "down"),
        ("cpu.util", "deviation"),
        ("if.oper", "down"),
        ("reachability", "down"),
        ("if.in_errors", "errors"),
        ("if.util", "threshold"),
    ]
    refs = [
        AnomalyRef(entity=f"d{i}", signal=s, kind=k, score=1.0, onset_ts=1_700_000_000.0 + i)  # type: ignore[arg-type]
        for i, (s, k) in enumerate(pairs * 50)
    ]
    text = template_summary(msgspec.structs.replace(_incident(), anomalies=refs))
    assert (
        "300 anomalies (300 active) since 2023-11-14 22:13:20 UTC: cpu.util deviation, "
        "if.in_errors errors, if.oper down, if.oper_status down and 2 more." in text
    )
