"""The ServiceNow emulator over HTTP: Table and Change API shapes, the encoded query subset,
auth, documented errors; and the query parser fuzzed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.resolvers.tickets.emulator.query import QueryError, apply, parse
from netvigil.resolvers.tickets.emulator.server import EmulatorServer

AUTH = ("netvigil", "netvigil")


@pytest.fixture(scope="module")
def srv() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    for name, cls in [("r1", "router"), ("r2", "router"), ("sw1", "switch"), ("r10", "router")]:
        server.state.insert("cmdb_ci", {"name": name, "sys_class_name": cls})
    yield server
    server.stop()


def _get(srv: EmulatorServer, path: str, **params: str) -> requests.Response:
    return requests.get(f"{srv.url}{path}", params=params, auth=AUTH, timeout=5)


def test_create_returns_sys_id_and_number(srv: EmulatorServer) -> None:
    r = requests.post(
        f"{srv.url}/api/now/table/incident", json={"short_description": "x"}, auth=AUTH, timeout=5
    )
    assert r.status_code == 201
    rec = r.json()["result"]
    assert len(rec["sys_id"]) == 32 and rec["number"].startswith("INC00")
    got = _get(srv, f"/api/now/table/incident/{rec['sys_id']}").json()["result"]
    assert got["short_description"] == "x" and got["state"] == "1"


def test_query_subset_limit_offset_fields(srv: EmulatorServer) -> None:
    def names(**params: str) -> list[str]:
        r = _get(srv, "/api/now/table/cmdb_ci", sysparm_fields="name", **params)
        assert r.status_code == 200
        return [x["name"] for x in r.json()["result"]]

    assert names(sysparm_query="name=r1") == ["r1"]
    assert names(sysparm_query="nameSTARTSWITHr^ORDERBYDESCname") == ["r2", "r10", "r1"]
    assert names(sysparm_query="sys_class_name=switch^ORname=r2^ORDERBYname") == ["r2", "sw1"]
    assert names(sysparm_query="nameLIKE1^sys_class_name=router^ORDERBYname") == ["r1", "r10"]
    page = _get(
        srv,
        "/api/now/table/cmdb_ci",
        sysparm_query="ORDERBYname",
        sysparm_limit="2",
        sysparm_offset="1",
        sysparm_fields="name",
    )
    assert [x["name"] for x in page.json()["result"]] == ["r10", "r2"]
    assert page.headers["X-Total-Count"] == "4" and 'rel="next"' in page.headers["Link"]
    assert list(page.json()["result"][0]) == ["name"]


def test_documented_errors(srv: EmulatorServer) -> None:
    missing = _get(srv, "/api/now/table/incident/" + "0" * 32)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"message": "No Record found", "detail": missing.json()["error"]["detail"]},
        "status": "failure",
    }
    assert _get(srv, "/api/now/table/no_such_table").status_code == 400
    assert _get(srv, "/api/now/table/cmdb_ci", sysparm_query="name~~x").status_code == 400
    anon = requests.get(f"{srv.url}/api/now/table/incident", timeout=5)
    assert anon.status_code == 401 and anon.json()["status"] == "failure"
    ro = requests.post(
        f"{srv.url}/api/now/table/incident", json={}, auth=("viewer", "viewer"), timeout=5
    )
    assert ro.status_code == 403
    srv.faults(status=429, count=1, retry_after=3)
    throttled = _get(srv, "/api/now/table/incident")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    srv.faults(status=503, count=1)
    assert _get(srv, "/api/now/table/incident").status_code == 503
    assert _get(srv, "/api/now/table/incident").status_code == 200


def test_change_api_and_oauth(srv: EmulatorServer) -> None:
    tok = requests.post(
        f"{srv.url}/oauth_token.do",
        data={
            "grant_type": "password",
            "username": "netvigil",
            "password": "netvigil",
            "client_id": "c",
            "client_secret": "s",
        },
        timeout=5,
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {tok}"}
    r = requests.post(
        f"{srv.url}/api/sn_chg_rest/change/normal",
        json={"short_description": "c"},
        headers=bearer,
        timeout=5,
    )
    res = r.json()["result"]
    assert res["number"]["value"].startswith("CHG003") and res["type"]["value"] == "normal"
    sid = res["sys_id"]["value"]
    p = requests.patch(
        f"{srv.url}/api/sn_chg_rest/change/{sid}", json={"state": "-4"}, headers=bearer, timeout=5
    )
    assert p.json()["result"]["approval"]["value"] == "requested"
    lst = requests.get(f"{srv.url}/api/sn_chg_rest/change/normal", headers=bearer, timeout=5)
    assert sid in [c["sys_id"]["value"] for c in lst.json()["result"]]
    no_tpl = requests.post(
        f"{srv.url}/api/sn_chg_rest/change/standard/{'f' * 32}", json={}, headers=bearer, timeout=5
    )
    assert no_tpl.status_code == 404
    assert (
        requests.get(
            f"{srv.url}/api/now/table/incident", headers={"Authorization": "Bearer nope"}, timeout=5
        ).status_code
        == 401
    )


def test_work_notes_are_journal_entries(srv: EmulatorServer) -> None:
    rec = srv.state.insert("incident", {"short_description": "j"})
    r = requests.patch(
        f"{srv.url}/api/now/table/incident/{rec['sys_id']}",
        json={"work_notes": "n1"},
        auth=AUTH,
        timeout=5,
    )
    assert r.status_code == 200 and "work_notes" not in r.json()["result"]
    assert srv.state.journal(rec["sys_id"]) == ["n1"]


def test_down_and_up_keep_records(srv: EmulatorServer) -> None:
    before = len(srv.state.tables["cmdb_ci"])
    srv.go_down()
    with pytest.raises(requests.ConnectionError):
        _get(srv, "/api/now/table/cmdb_ci")
    srv.come_up()
    assert len(_get(srv, "/api/now/table/cmdb_ci").json()["result"]) == before


def test_or_binds_to_the_previous_term() -> None:
    rows = [{"a": "1", "b": "3"}, {"a": "2", "b": "4"}, {"a": "9", "b": "3"}]
    assert apply("a=1^ORa=2^b=3", rows) == [rows[0]]
    assert apply("a=9^NQb=4", rows) == [rows[1], rows[2]]
    assert apply("nosuchfield=1", rows) == []
    assert apply("", rows) == rows
    assert apply("a>=2^b<4", rows) == [rows[2]]
    assert apply("a>1^ORa<1", rows) == [rows[1], rows[2]]


_ATOMS = st.sampled_from(
    [
        "^",
        "^OR",
        "^NQ",
        "=",
        "!=",
        "LIKE",
        "STARTSWITH",
        "ORDERBY",
        "ORDERBYDESC",
        "IN",
        ">=",
        "<",
        "ISEMPTY",
        "a",
        "b",
        "1",
        ",",
        "",
        "é",
    ]
)


@given(st.lists(_ATOMS, max_size=12).map("".join) | st.text(max_size=40))
def test_parser_fuzz_never_crashes(query: str) -> None:
    try:
        q = parse(query)
    except QueryError:
        return
    rows = [{"a": "1", "b": ""}, {"a": "2", "b": "x"}]
    out = apply(query, rows)
    assert all(q.matches(r) for r in out) and len(out) <= len(rows)


def test_cli_runs_on_a_free_port_with_switches() -> None:
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netvigil.resolvers.tickets.emulator.server",
            "--user",
            "a:b",
            "--fail-status",
            "503",
            "--retry-after",
            "7",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        r = requests.get(f"{url}/api/now/table/incident", auth=("a", "b"), timeout=5)
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
        requests.post(f"{url}/__emulator/faults", json={"down_s": 1.0}, timeout=5)
        time.sleep(0.6)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/api/now/table/incident", auth=("a", "b"), timeout=5)
        time.sleep(1.2)
        assert requests.get(f"{url}/api/now/table/incident", auth=("a", "b"), timeout=5).ok
    finally:
        proc.terminate()
        proc.wait(10)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=200)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.text(max_size=12),
            st.one_of(st.none(), st.integers(), st.text(max_size=20)),
            max_size=4,
        ),
    )
)
def test_any_body_gets_a_documented_answer(srv: EmulatorServer, body: bytes) -> None:
    r = requests.post(
        f"{srv.url}/api/now/table/incident",
        data=body,
        auth=AUTH,
        timeout=5,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (201, 400)
    if r.status_code == 400:
        assert r.json()["status"] == "failure" and r.json()["error"]["message"]
