"""``netvigil api token``: the token is printed once, stored hashed, listed without it, revoked."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from netvigil.api.auth import TokenStore
from netvigil.cli import main


def test_token_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    r = runner.invoke(
        main, ["api", "token", "create", "--role", "operator", "--name", "otto", "--json", *data]
    )
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["role"] == "operator" and made["token"].startswith("nvk_")
    store = TokenStore(tmp_path / "api-tokens.json")
    assert store.check(made["token"]) is not None
    assert made["token"] not in (tmp_path / "api-tokens.json").read_text()

    listed = runner.invoke(main, ["api", "token", "list", *data])
    assert listed.exit_code == 0 and "otto" in listed.output and made["id"] in listed.output
    assert made["token"].split("_", 2)[2] not in listed.output

    assert runner.invoke(main, ["api", "token", "revoke", made["id"], *data]).exit_code == 0
    assert store.check(made["token"]) is None
    again = runner.invoke(main, ["api", "token", "revoke", made["id"], *data])
    assert again.exit_code != 0 and "no token" in again.output


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main, ["api", "token", "create", "--role", "root", "--data-dir", str(tmp_path)]
    )
    assert r.exit_code == 2 and "root" in r.output
