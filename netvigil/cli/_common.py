"""What every command module shares: the root group, consoles, error translation, options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from netvigil.errors import NetVigilError

__all__ = ["config_option", "err", "friendly", "main", "out"]

F = TypeVar("F", bound=Callable[..., Any])

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def friendly(fn: F) -> F:
    """Turn NetVigil errors into one clear message on stderr and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NetVigilError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML settings file (default: $NETVIGIL_CONFIG, else built-in defaults).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """NetVigil: event-streaming AIOps for networks.

    Collects telemetry, detects anomalies online, correlates them on the topology into
    incidents with a named root cause, and opens, updates and resolves tickets, with every
    decision in a hash-chained audit log.
    """
