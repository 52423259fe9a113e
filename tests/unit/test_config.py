"""Configuration: defaults, file, environment, precedence and errors that say what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from netvigil.cli import main
from netvigil.config import Settings, describe, load_settings, redacted
from netvigil.errors import ConfigError
from tests.conftest import netvigil


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("NETVIGIL_"):
            monkeypatch.delenv(k)


def test_defaults_are_the_embedded_runtime() -> None:
    s = load_settings()
    assert s.bus.url == "memory://"
    assert s.graph.url == "memory://"
    assert s.tickets.url == "local://"


def test_file_then_env_then_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("twin:\n  speed: 5\n  seed: 11\ndetector:\n  warmup: 50\n")
    s = load_settings(cfg)
    assert (s.twin.speed, s.twin.seed, s.detector.warmup) == (5.0, 11, 50)
    monkeypatch.setenv("NETVIGIL_TWIN__SPEED", "60")
    s = load_settings(cfg)
    assert s.twin.speed == 60.0 and s.twin.seed == 11
    s = load_settings(cfg, twin={"speed": 0})
    assert s.twin.speed == 0.0


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("twin:\n  seed: 99\n")
    monkeypatch.setenv("NETVIGIL_CONFIG", str(cfg))
    assert load_settings().twin.seed == 99


def test_invalid_value_names_setting_env_var_and_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("twin:\n  speed: -1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    msg = str(info.value)
    assert "twin.speed = -1" in msg
    assert "NETVIGIL_TWIN__SPEED" in msg
    assert str(cfg) in msg
    assert "greater than or equal to 0" in msg


def test_unknown_setting_lists_known_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("twin:\n  sped: 3\n")
    with pytest.raises(ConfigError, match=r"twin\.sped: unknown setting.*speed"):
        load_settings(cfg)
    cfg.write_text("twinn: {}\n")
    with pytest.raises(ConfigError, match=r"twinn: unknown setting.*twin"):
        load_settings(cfg)


def test_bad_url_scheme_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETVIGIL_BUS__URL", "redis://x")
    with pytest.raises(ConfigError, match=r"bus\.url.*memory:// or kafka://.*NETVIGIL_BUS__URL"):
        load_settings()


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("twin: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(bad)


def test_bad_command_line_override_names_setting() -> None:
    with pytest.raises(ConfigError, match=r"twin\.speed = -3.*the command line"):
        load_settings(None, twin={"speed": -3})


def test_secrets_are_redacted_and_never_echoed(tmp_path: Path) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("tickets:\n  password: hunter2\n  token: abc\ngraph:\n  password: ''\n")
    data = redacted(load_settings(cfg))
    assert data["tickets"]["password"] == "**********"
    assert data["graph"]["password"] == ""
    result = CliRunner().invoke(main, ["config", "show", "--json", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert json.loads(result.output)["tickets"]["token"] == "**********"
    cfg.write_text("tickets:\n  password: [1, 2]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "<redacted>" in str(info.value) and "[1, 2]" not in str(info.value)


def test_cli_reports_config_errors_clearly(tmp_path: Path) -> None:
    cfg = tmp_path / "nv.yaml"
    cfg.write_text("detector:\n  z_threshold: abc\n")
    result = CliRunner().invoke(main, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "detector.z_threshold" in result.output


def test_every_setting_is_documented() -> None:
    rows = describe()
    assert len(rows) > 20
    for r in rows:
        assert r["help"], f"{r['setting']} has no help"
        assert r["env"].startswith("NETVIGIL_")


def test_processing_guarantee_takes_the_two_guarantees_only() -> None:
    for guarantee in ("at_least_once", "exactly_once"):
        ok = Settings.model_validate({"kafka": {"processing_guarantee": guarantee}})
        assert ok.kafka.processing_guarantee == guarantee
    with pytest.raises(ValidationError, match="processing_guarantee"):
        Settings.model_validate({"kafka": {"processing_guarantee": "at_most_once"}})


def test_config_docs_piped_keeps_every_name_whole() -> None:
    piped = netvigil("config", "docs", env={"COLUMNS": "80"})
    assert piped.returncode == 0, piped.stderr
    assert "…" not in piped.stdout
    lines = piped.stdout.splitlines()
    for row in describe():
        assert any(row["setting"] in ln and row["env"] in ln for ln in lines), row["env"]
