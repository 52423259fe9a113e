"""Bad configuration through the real command line: exit status 2 and one line on stderr that
names the setting (or variable) and the fix, never a traceback; passwords inside URLs are
never shown, neither by ``config show`` nor in errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from netvigil.cli import main
from tests.conftest import netvigil

FILES: dict[str, bytes] = {
    "not-utf8": b"twin:\n  seed: \xff\xfe\n",
    "deep": b"twin: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "duplicate-key": b"twin:\n  seed: 1\n  speed: 2\n  seed: 3\n",
}
FILE_ERRORS = {
    "not-utf8": "is not UTF-8 text (byte 0xff at offset 14); save it as UTF-8",
    "deep": "nests far deeper than any setting",
    "duplicate-key": "key 'seed' is given twice (lines 2 and 4); keep one",
}
ENVIRONMENTS: dict[str, tuple[dict[str, str], str]] = {
    "list-not-json": (
        {"NETVIGIL_TWIN__FAULT_KINDS": "foo"},
        "NETVIGIL_TWIN__FAULT_KINDS: twin.fault_kinds is a list, so the variable must be JSON, "
        'e.g. \'["link_down", "congestion", "node_down"]\'',
    ),
    "objects-not-json": (
        {"NETVIGIL_SNMP__TARGETS": "not json"},
        "NETVIGIL_SNMP__TARGETS: snmp.targets is a list, so the variable must be JSON",
    ),
    "section-not-object": (
        {"NETVIGIL_API": "x"},
        "NETVIGIL_API: a whole section must be a JSON object",
    ),
    "unknown-section": (
        {"NETVIGIL_APII__PORT": "9000"},
        "NETVIGIL_APII__PORT: no section 'apii'; did you mean NETVIGIL_API__PORT?",
    ),
    "unknown-setting": (
        {"NETVIGIL_API__PROT": "9000"},
        "NETVIGIL_API__PROT: api has no setting 'prot'; did you mean NETVIGIL_API__PORT?",
    ),
    "single-underscore": (
        {"NETVIGIL_API_PORT": "9000"},
        "NETVIGIL_API_PORT: unknown variable; did you mean NETVIGIL_API__PORT?",
    ),
    "infinite": ({"NETVIGIL_TWIN__SPEED": "inf"}, "twin.speed = 'inf': Input should be a finite"),
    "nan": ({"NETVIGIL_DETECTOR__Z_THRESHOLD": "nan"}, "detector.z_threshold = 'nan'"),
    "empty-host": ({"NETVIGIL_API__HOST": ""}, "api.host = '': Value error, an empty address"),
    "password-in-url": (
        {"NETVIGIL_TICKETS__URL": "https://ops:hunter2@snow.example.com"},
        "tickets.url = 'https://ops:***@snow.example.com': Value error, must start with",
    ),
}


def _show(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return netvigil("config", "show", *args, env=env)


def _one_clear_line(r: subprocess.CompletedProcess[str], expected: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(FILES))
def test_a_bad_file_is_one_line_naming_the_problem(tmp_path: Path, case: str) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_bytes(FILES[case])
    _one_clear_line(_show({}, "--config", str(cfg)), FILE_ERRORS[case])


@pytest.mark.parametrize("case", sorted(ENVIRONMENTS))
def test_a_bad_environment_is_one_line_naming_the_variable(case: str) -> None:
    env, expected = ENVIRONMENTS[case]
    r = _show(env)
    _one_clear_line(r, expected)
    assert "hunter2" not in r.stderr


def test_config_show_masks_passwords_inside_every_url(tmp_path: Path) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text(
        "graph:\n  url: neo4j://neo4j:graphpw@db:7687\n"
        "tickets:\n  url: servicenow://ops:snowpw@snow.example.com\n"
        "summary:\n  url: http://llm:llmpw@127.0.0.1:8000/v1\n"
        "services:\n"
        "  probes:\n"
        "    - {name: web, kind: http, target: 'https://probe:probepw@web.example.com/health'}\n"
        "  scrape:\n"
        "    - {url: 'http://scrape:scrapepw@app:9100/metrics', service: app}\n"
    )
    result = CliRunner().invoke(main, ["config", "show", "--json", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    for pw in ("graphpw", "snowpw", "llmpw", "probepw", "scrapepw"):
        assert pw not in result.output
    shown = json.loads(result.output)
    assert shown["graph"]["url"] == "neo4j://neo4j:***@db:7687"
    assert shown["services"]["probes"][0]["target"] == "https://probe:***@web.example.com/health"
    assert shown["services"]["scrape"][0]["url"] == "http://scrape:***@app:9100/metrics"


def test_kafka_credentials_are_refused_in_the_bus_url_and_not_echoed() -> None:
    r = _show({"NETVIGIL_BUS__URL": "kafka://svc:kafkapw@127.0.0.1:9092"})
    _one_clear_line(r, "bus.url = 'kafka://svc:***@127.0.0.1:9092': Value error, Kafka takes no")
    assert "kafkapw" not in r.stderr
