"""The ``netvigil`` command: one module per command group, registered by importing it."""

from __future__ import annotations

from netvigil.cli import (
    core,  # noqa: F401  (registers run, demo, version, config, audit)
    kafka,  # noqa: F401  (registers topics, worker, replay)
)
from netvigil.cli._common import main

__all__ = ["main"]
