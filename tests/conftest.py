"""Shared test helpers: where the shared real data lives, the CLI in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import netvigil as _package  # noqa: F401  (before any test imports gRPC: netvigil/__init__.py)

REPO = Path(__file__).resolve().parents[1]

# Pipelines built by tests classify log templates by keywords: loading the MiniLM model takes
# seconds per service start. The semantic path has its own tests (test_semantic.py, and
# test_logs.py::test_the_settings_give_the_log_processor_the_minilm_classifier).
os.environ.setdefault("NETVIGIL_DETECTOR__LOG_CLASSIFIER", "keywords")
SHARED_DATA = Path(os.environ.get("NETVIGIL_SHARED_DATA", REPO.parent / "shared" / "data"))


def clean_env() -> dict[str, str]:
    """This process's environment without NETVIGIL_* settings, for a CLI child that must see
    the defaults; but with the test suite's keyword log classifier (see above)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETVIGIL_")}
    env["NETVIGIL_DETECTOR__LOG_CLASSIFIER"] = "keywords"
    return env


def netvigil(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``netvigil ARGS`` in a child process (the real entry point, with its exit status and
    stderr as a user sees them), with the clean environment plus ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "netvigil.cli", *args],
        capture_output=True,
        text=True,
        env={**clean_env(), **(env or {})},
        timeout=180,
    )


def shared_data(*parts: str) -> Path:
    """A path under the shared data folder; skips the test when it is not on this machine."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} not present (set NETVIGIL_SHARED_DATA)")
    return path
