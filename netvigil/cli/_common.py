"""What every command module shares: the root group, consoles, error translation, options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netvigil.errors import NetVigilError

__all__ = ["config_option", "err", "friendly", "main", "out", "print_table"]

F = TypeVar("F", bound=Callable[..., Any])

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def print_table(table: Table) -> None:
    """A table on stdout: wrapped to a terminal's width, at its full width otherwise.

    Piped into a file or another program, rich assumes 80 columns and cuts long cells
    (setting names, environment variables) with "…"; there nothing asks for a width, so the
    table is as wide as its longest row. Scripts should prefer the command's ``--json``.
    """
    if out.is_terminal:
        out.print(table)
        return
    width = out.measure(table, options=out.options.update_width(1 << 16)).maximum
    Console(file=out.file, width=width, soft_wrap=True, no_color=out.no_color).print(table)


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
