"""The ``netvigil`` command: one module per command group, registered by importing it."""

from __future__ import annotations

from netvigil.cli import (
    bench_rca,  # noqa: F401  (netvigil bench rca)
    core,  # noqa: F401  (registers run, demo, version, config, audit)
    graph,  # noqa: F401  (netvigil graph import/show/blast-radius)
    twin,  # noqa: F401
)
from netvigil.cli._common import main

__all__ = ["main"]
