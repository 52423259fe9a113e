"""The ServiceNow backend when ServiceNow misbehaves: outage in the middle of an incident,
lost responses, throttling with Retry-After, refused credentials. Real HTTP, the real
``servicenow-api`` client, the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.config import load_settings
from netvigil.errors import ConfigError
from netvigil.resolvers.tickets.emulator.server import EmulatorServer
from netvigil.resolvers.tickets.servicenow import ServiceNowTickets, base_url
from netvigil.resolvers.tickets.snow_client import SnowAuthError, SnowClient
from netvigil.service import _TICKETS


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    srv = EmulatorServer().start()
    yield srv
    srv.stop()


def _backend(
    srv: EmulatorServer,
    path: Path,
    user: str = "netvigil",
    pw: str = "netvigil",
    timeout_s: float = 2.0,
) -> ServiceNowTickets:
    client = SnowClient(srv.url, user=user, password=pw, timeout_s=timeout_s)
    return ServiceNowTickets(client, path, poll_s=0.2, backoff_s=0.05, max_backoff_s=0.4)


def _incidents(srv: EmulatorServer, corr: str) -> list[dict[str, str]]:
    return [r for r in srv.state.tables["incident"].values() if r["correlation_id"] == corr]


def test_outage_in_the_middle_of_an_incident_loses_nothing_duplicates_nothing(
    server: EmulatorServer, tmp_path: Path
) -> None:
    b = _backend(server, tmp_path / "o.db")
    t = b.open("fp-outage", "Link down r1-r2", "evidence", severity="major", ts=1.0)
    b.flush(10)
    server.go_down()
    b.add_note(t, "proposed interface_reset", ts=2.0)
    b.open_change(
        "fp-outage/1",
        incident="fp-outage",
        kind="normal",
        title="reset",
        description="d",
        devices=["r1"],
        ts=3.0,
    )
    b.add_note(t, "verification pending", ts=4.0)
    b.resolve(t, "verified", ts=5.0)
    time.sleep(1.0)  # the worker retries against a closed port meanwhile
    assert b.store.counts().get("pending") == 4
    assert b.last_error is not None and "unreachable" in str(b.last_error)
    b.close()  # and NetVigil restarts while ServiceNow is still down
    server.come_up()
    b = _backend(server, tmp_path / "o.db")
    b.flush(20)
    (inc,) = _incidents(server, "fp-outage")
    assert inc["state"] == "6"
    notes = [n.split("\n[")[0] for n in server.state.journal(inc["sys_id"])]
    assert notes == ["proposed interface_reset", "verification pending", "verified"]
    changes = [
        c
        for c in server.state.tables["change_request"].values()
        if c["correlation_id"] == "fp-outage/1"
    ]
    assert len(changes) == 1 and inc["rfc"] == changes[0]["sys_id"]
    assert b.store.counts() == {"done": 5}
    b.close()


def test_lost_responses_make_no_duplicates(server: EmulatorServer, tmp_path: Path) -> None:
    b = _backend(server, tmp_path / "o.db", timeout_s=0.3)
    b.open("warm", "warm up", "", severity="minor", ts=0.0)
    b.flush(10)
    server.faults(delay_s=0.6)  # ServiceNow does the work, the client times out first
    t = b.open("fp-slow", "Slow instance", "evidence", severity="major", ts=1.0)
    b.add_note(t, "evidence", ts=2.0)
    time.sleep(1.5)
    server.faults()
    b.flush(20)
    (inc,) = _incidents(server, "fp-slow")
    assert [n.split("\n[")[0] for n in server.state.journal(inc["sys_id"])] == ["evidence"]
    b.close()


def test_429_retry_after_is_honoured(server: EmulatorServer, tmp_path: Path) -> None:
    b = _backend(server, tmp_path / "o.db")
    b.open("warm", "warm up", "", severity="minor", ts=0.0)
    b.flush(10)
    before = server.state.requests
    server.faults(status=429, count=1, retry_after=2)
    b.open("fp-429", "Throttled", "", severity="major", ts=1.0)
    time.sleep(1.2)
    assert server.state.requests - before == 1  # our backoff (0.05 s) would have retried
    assert "429" in str(b.last_error)
    b.flush(10)
    assert len(_incidents(server, "fp-429")) == 1
    b.close()


def test_5xx_is_retried_with_backoff(server: EmulatorServer, tmp_path: Path) -> None:
    b = _backend(server, tmp_path / "o.db")
    b.open("warm", "warm up", "", severity="minor", ts=0.0)
    b.flush(10)
    server.faults(status=503, count=3, retry_after=0)
    b.open("fp-503", "Unavailable", "", severity="major", ts=1.0)
    b.flush(10)
    assert len(_incidents(server, "fp-503")) == 1
    b.close()


@pytest.mark.parametrize(
    ("user", "pw", "words"),
    [("netvigil", "wrong", "refused the credentials"), ("viewer", "viewer", "itil role")],
)
def test_auth_failures_give_a_clear_error_and_keep_the_operation(
    server: EmulatorServer, tmp_path: Path, user: str, pw: str, words: str
) -> None:
    b = _backend(server, tmp_path / "o.db", user=user, pw=pw)
    b.open("fp-auth", "Link down", "", severity="major", ts=1.0)
    with pytest.raises(SnowAuthError, match=words) as err:
        b.flush(1.5)
    assert "tickets.user" in str(err.value)
    assert b.store.counts() == {"pending": 1}
    assert _incidents(server, "fp-auth") == []
    b.close()


def test_bearer_token(server: EmulatorServer, tmp_path: Path) -> None:
    server.state.tokens["tok-1"] = "netvigil"
    client = SnowClient(server.url, token="tok-1", timeout_s=2)
    b = ServiceNowTickets(client, tmp_path / "o.db", poll_s=0.2)
    b.open("fp-token", "Link down", "", severity="major", ts=1.0)
    b.flush(10)
    assert _incidents(server, "fp-token")[0]["sys_created_by"] == "netvigil"
    b.close()


def test_service_registry_builds_the_servicenow_backend(
    server: EmulatorServer, tmp_path: Path
) -> None:
    s = load_settings()
    s.tickets.url = f"servicenow://127.0.0.1:{server.port}?tls=0"
    with pytest.raises(ConfigError, match=r"tickets\.user"):
        _TICKETS["servicenow"](s.tickets, tmp_path)
    s.tickets.user = "netvigil"
    s.tickets.password = "netvigil"  # type: ignore[assignment]
    backend = _TICKETS["servicenow"](s.tickets, tmp_path)
    assert isinstance(backend, ServiceNowTickets) and backend.client.base_url == server.url
    backend.close()
    assert base_url("servicenow://acme.service-now.com") == "https://acme.service-now.com"


def test_change_links_cis_by_device_name_and_requests_approval(
    server: EmulatorServer, tmp_path: Path
) -> None:
    r1 = server.state.insert("cmdb_ci", {"name": "r1"})["sys_id"]
    r2 = server.state.insert("cmdb_ci", {"name": "r2"})["sys_id"]
    b = _backend(server, tmp_path / "o.db")
    b.open("fp-ci", "Link down r1-r2", "", severity="major", ts=1.0)
    b.open_change(
        "fp-ci/1",
        incident="fp-ci",
        kind="normal",
        title="igp metric",
        description="d",
        devices=["r1", "r2", "unknown-box"],
        ts=2.0,
    )
    b.flush(10)
    (chg,) = [
        c
        for c in server.state.tables["change_request"].values()
        if c["correlation_id"] == "fp-ci/1"
    ]
    assert chg["cmdb_ci"] == r1 and chg["approval"] == "requested" and chg["state"] == "-4"
    linked = {
        r["ci_item"] for r in server.state.tables["task_ci"].values() if r["task"] == chg["sys_id"]
    }
    assert linked == {r1, r2}
    (inc,) = _incidents(server, "fp-ci")
    assert inc["cmdb_ci"] == r1 and inc["rfc"] == chg["sys_id"]
    b.close()
