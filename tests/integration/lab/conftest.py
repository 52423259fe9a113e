"""The lab needs root and FRRouting, lldpd, snmpd, softflowd: skip where they are missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.lab.system import missing_requirements


@pytest.fixture(scope="session")
def lab_host() -> None:
    missing = missing_requirements()
    if missing:
        pytest.skip("the lab cannot run here: " + "; ".join(missing))


@pytest.fixture()
def lab_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A lab directory FRRouting (user frr) can read: pytest's own are closed to others."""
    path = Path(f"/run/netvigil-lab-test-{os.getpid()}")
    monkeypatch.setenv("NETVIGIL_LAB_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)
