"""Every NetFlow/IPFIX and sFlow case of ../shared/data/vectors, through `netvigil decode flow`.

Each case's packets go through the command in the order given (one template cache); the
records it prints are compared with the values the case's source asserts, and with its record
counts. See ../shared/data/vectors/README.md for the case format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netvigil.cli import main
from tests.conftest import SHARED_DATA, shared_data

_DIR = SHARED_DATA / "vectors"


def _cases(corpus: str) -> list[Any]:
    path = _DIR / corpus / "cases.json"
    if not path.exists():
        return [pytest.param(None, id=f"{corpus}-absent")]
    return [pytest.param(c, id=c["id"]) for c in json.loads(path.read_text())]


def _decode(corpus: str, case: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    base = shared_data("vectors", corpus)
    files = [str(Path(base, p)) for p in case["packets"]]
    result = CliRunner().invoke(main, ["decode", "flow", *files])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    errors = result.stderr.splitlines()
    for e in errors:
        assert "error" in json.loads(e)
    return records, errors


def _check(case: dict[str, Any], records: list[dict[str, Any]]) -> None:
    if case["expect_records"] is not None:
        assert len(records) == case["expect_records"]
    if case.get("expect_flow_records") is not None:
        flows = [r for r in records if not r.get("options")]
        assert len(flows) == case["expect_flow_records"]
    for item in case["expect"]:
        for index, fields in item.items():
            rec = records[int(index)]
            for name, want in fields.items():
                key = "version" if name == "@version" else name
                assert key in rec, f"record {index}: {key} missing from {sorted(rec)}"
                assert rec[key] == want, f"record {index}: {key} = {rec[key]!r}, want {want!r}"


@pytest.mark.parametrize("case", _cases("netflow"))
def test_netflow_case(case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.skip("vectors not present")
    records, _ = _decode("netflow", case)
    _check(case, records)


@pytest.mark.parametrize("case", _cases("sflow"))
def test_sflow_case(case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.skip("vectors not present")
    records, errors = _decode("sflow", case)
    assert not errors, errors  # every sFlow case is a well-formed datagram
    _check(case, records)
    for rec in records:
        assert rec["version"] == 5
