"""Every syslog case of ../shared/data/vectors, through `netvigil decode syslog`.

Single messages (transport "udp") are piped in as they are, with no framing option; streams
use `--framing octet-counting` or `--framing lf` (with the case's trailer). Valid messages must
give every asserted field; invalid ones the error text, the column and the partial message
that best-effort parsing returns. See ../shared/data/vectors/README.md for the case format.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from click.testing import CliRunner

from netvigil.cli import main
from tests.conftest import SHARED_DATA, shared_data


def _cases() -> list[Any]:
    path = SHARED_DATA / "vectors" / "syslog" / "cases.json"
    if not path.exists():
        return [pytest.param(None, id="syslog-absent")]
    return [pytest.param(c, id=c["id"]) for c in json.loads(path.read_text())]


def _args(case: dict[str, Any]) -> list[str]:
    opts = case.get("parser_options") or {}
    args = ["decode", "syslog"]
    if case["transport"] == "octet-counting":
        args += ["--framing", "octet-counting"]
        if "max_message_length" in opts:
            args += ["--max-message-length", str(opts["max_message_length"])]
    elif case["transport"] == "non-transparent":
        args += ["--framing", "lf", "--trailer", opts.get("trailer", "LF").lower()]
    if opts.get("compliant_msg"):
        args.append("--compliant-msg")
    return args


def _same_fields(got: dict[str, Any], want: dict[str, Any], what: str) -> None:
    for key, value in want.items():
        if key == "timestamp_resolved":
            continue  # a resolved instant, not a field of the output
        if key.endswith("_b64"):
            assert got.get(key) == value, f"{what}: {key} = {got.get(key)!r}, want {value!r}"
            assert base64.b64decode(value)  # the bytes the case asserts
            continue
        assert key in got, f"{what}: {key} missing"
        assert got[key] == value, f"{what}: {key} = {got[key]!r}, want {value!r}"


def _check(got: dict[str, Any], want: dict[str, Any], what: str) -> None:
    assert got["valid"] is want["valid"], f"{what}: {got}"
    if want["valid"]:
        _same_fields(got, want["expect"], what)
        return
    error = want["error"]
    assert got["error"]["message"] == error["message"], f"{what}: {got['error']}"
    if "column" in error:
        assert got["error"].get("column") == error["column"], f"{what}: {got['error']}"
    partial = want.get("expect_partial")
    if partial is not None:
        assert got.get("partial") is not None, f"{what}: no partial in {got}"
        _same_fields(got["partial"], partial, f"{what} partial")
    elif "expect_partial" in want:
        assert got.get("partial") is None, f"{what}: unexpected partial {got.get('partial')}"


@pytest.mark.parametrize("case", _cases())
def test_syslog_case(case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.skip("vectors not present")
    shared_data("vectors", "syslog")
    data = base64.b64decode(case["input_b64"]) if "input_b64" in case else case["input"].encode()
    result = CliRunner().invoke(main, _args(case), input=data)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    if case["transport"] == "udp":
        assert len(rows) == 1, rows
        want = {k: case[k] for k in ("valid", "expect", "error", "expect_partial") if k in case}
        _check(rows[0], want, case["id"])
        if case["valid"]:
            assert rows[0]["rfc"] == case["rfc"]
        return
    expected = case["expect_results_best_effort"]
    assert len(rows) == len(expected), rows
    for i, (got, want) in enumerate(zip(rows, expected, strict=True)):
        _check(got, want, f"{case['id']}[{i}]")
