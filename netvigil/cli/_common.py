"""What every command module shares: the root group, consoles, error translation, options.

The root group is lazy: it knows each command's name, module and one line of help, and imports
a command's module only when that command runs (or its own ``--help`` is asked for). So
``netvigil --help`` and ``netvigil version`` import none of the libraries other commands use
(faust, transformers, scipy, the service), and a command pays only for its own imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netvigil.errors import NetVigilError

__all__ = ["LazyGroup", "config_option", "err", "friendly", "main", "out", "print_table"]

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


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use.

    ``lazy`` maps a command's name to the module that defines it (with ``@main.command()`` or
    ``@main.group()``) and the one line of help ``netvigil --help`` shows for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def register(self, name: str, module: str, help: str) -> None:
        """Make ``name`` a command of this group, defined in ``module`` (imported when used)."""
        self.lazy[name] = (module, help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(self.lazy[cmd_name][0])  # registers it on import
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is not None:
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=formatter.width)))
            else:
                rows.append((name, self.lazy[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """NetVigil: event-streaming AIOps for networks.

    Collects telemetry, detects anomalies online, correlates them on the topology into
    incidents with a named root cause, and opens, updates and resolves tickets, with every
    decision in a hash-chained audit log.
    """
