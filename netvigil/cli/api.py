"""``netvigil api``: manage the console's bearer tokens (shown once, stored hashed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from netvigil.api.auth import ROLES, TokenStore, token_path
from netvigil.cli._common import config_option, err, friendly, main, out, print_table
from netvigil.config import load_settings

__all__ = ["api"]


def _store(config_path: str | None, data_dir: str | None) -> TokenStore:
    settings = load_settings(config_path)
    data = Path(data_dir or settings.storage.data_dir)
    return TokenStore(token_path(data, settings.api.token_file))


data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, help="The service's data dir."
)


@main.group()
def api() -> None:
    """The operator console's HTTP API."""


@api.group()
def token() -> None:
    """Bearer tokens: create, list, revoke."""


@token.command("create")
@config_option
@data_dir_option
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the token may do.")
@click.option("--name", default="", help="Who holds it (shown in the audit log).")
@click.option("--json", "as_json", is_flag=True)
@friendly
def token_create(
    config_path: str | None, data_dir: str | None, role: str, name: str, as_json: bool
) -> None:
    """Create a token and print it once; only its hash is kept."""
    rec, text = _store(config_path, data_dir).create(role, name)
    if as_json:
        click.echo(json.dumps({"id": rec.id, "name": rec.name, "role": rec.role, "token": text}))
        return
    err.print(f"token {rec.id} for {rec.name} ({rec.role}); it is shown only now:")
    click.echo(text)


@token.command("list")
@config_option
@data_dir_option
@friendly
def token_list(config_path: str | None, data_dir: str | None) -> None:
    """List tokens (ids, names, roles; never the tokens)."""
    table = Table("id", "name", "role", "created (UTC)")
    for r in _store(config_path, data_dir).list():
        created = datetime.fromtimestamp(r.created, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(r.id, r.name, r.role, created)
    print_table(table)


@token.command("revoke")
@config_option
@data_dir_option
@click.argument("token_id")
@friendly
def token_revoke(config_path: str | None, data_dir: str | None, token_id: str) -> None:
    """Revoke a token by id; it stops working at once."""
    if not _store(config_path, data_dir).revoke(token_id):
        raise click.ClickException(f"no token {token_id!r}")
    out.print(f"token {token_id} revoked")
