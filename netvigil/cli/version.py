"""``netvigil version``: imports nothing but the package's metadata."""

from __future__ import annotations

import click

from netvigil import __version__
from netvigil.cli._common import main

__all__ = ["version"]


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"netvigil {__version__}")
