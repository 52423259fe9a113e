"""The ``netvigil`` command: one module per command group, registered by importing it."""

from __future__ import annotations

from netvigil.cli import (
    api,  # noqa: F401  (registers api token ...)
    core,  # noqa: F401  (registers run, demo, version, config, audit)
)
from netvigil.cli._common import main

__all__ = ["main"]
