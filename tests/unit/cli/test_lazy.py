"""The ``netvigil`` group imports a command's module only when that command runs."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netvigil.cli import COMMANDS, main

# libraries that cost start-up time and memory; none is needed to list commands
HEAVY = (
    "aiokafka",
    "ansible_runner",
    "confluent_kafka",
    "drain3",
    "faust",
    "fastapi",
    "neo4j",
    "numpy",
    "pysnmp",
    "river",
    "scipy",
    "transformers",
    "netvigil.service",
    "netvigil.streams",
)

_PROBE = """
import json, sys
from netvigil.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(*argv: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True
    )
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


@pytest.mark.parametrize("argv", [("--help",), ("version",), ("logs", "--help")])
def test_listing_commands_imports_no_heavy_library(argv: tuple[str, ...]) -> None:
    assert _heavy(_modules_after(*argv)) == []


def test_logs_mine_imports_only_the_miner(tmp_path: Path) -> None:
    src = tmp_path / "m.txt"
    src.write_text("link up on eth0\n")
    mods = _modules_after("logs", "mine", "--input", str(src), "--output", str(tmp_path / "o"))
    assert "netvigil.analytics.logmining" in mods
    assert _heavy(mods) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_registered_module_defines_its_command_with_that_help(name: str) -> None:
    module, line = COMMANDS[name]
    importlib.import_module(module)
    cmd = main.commands.get(name)
    assert cmd is not None, f"{module} does not define the command {name!r}"
    assert cmd.get_short_help_str(limit=1000).startswith(line.rstrip("."))


def test_help_lists_every_registered_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    rows = result.output.split("Commands:")[1].splitlines()
    listed = {m.group(1) for ln in rows if (m := re.match(r"  (\S+)", ln))}
    assert listed == set(COMMANDS)
