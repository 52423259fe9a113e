"""Tokens: stored hashed, checked in constant time, revocable; failed logins limited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netvigil.api.auth import FailureLimiter, TokenStore, role_allows
from netvigil.errors import NetVigilError


def test_token_file_keeps_only_a_hash(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    rec, token = store.create("operator", "otto")
    text = (tmp_path / "t.json").read_text()
    secret = token.split("_", 2)[2]
    assert secret not in text and token not in text
    assert json.loads(text)[0]["sha256"] == rec.sha256
    assert (tmp_path / "t.json").stat().st_mode & 0o077 == 0  # not readable by others
    assert store.check(token) == rec


def test_wrong_malformed_and_revoked_tokens_are_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    rec, token = store.create("viewer")
    assert store.check(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.check("nvk_ffffffff_" + token.split("_", 2)[2]) is None  # other id
    assert store.check("") is None
    assert store.check("Bearer " + token) is None
    assert store.revoke(rec.id) is True
    assert store.check(token) is None
    assert store.revoke(rec.id) is False


def test_a_second_store_sees_tokens_created_after_it_started(tmp_path: Path) -> None:
    serving = TokenStore(tmp_path / "t.json")
    assert serving.list() == []
    _, token = TokenStore(tmp_path / "t.json").create("admin")  # the CLI, another process
    rec = serving.check(token)
    assert rec is not None and rec.role == "admin"


def test_unknown_role_and_damaged_file_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NetVigilError, match="unknown role"):
        TokenStore(tmp_path / "t.json").create("root")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(NetVigilError, match="damaged"):
        TokenStore(tmp_path / "bad.json").check("nvk_1_2")


@given(st.text(max_size=200))
def test_check_never_raises_on_any_header_text(text: str) -> None:
    store = TokenStore(Path("/nonexistent/netvigil/tokens.json"))
    assert store.check(text) is None


def test_role_order() -> None:
    assert role_allows("admin", "operator") and role_allows("operator", "operator")
    assert not role_allows("viewer", "operator") and not role_allows("operator", "admin")


def test_failure_limiter_blocks_after_limit_and_slides() -> None:
    lim = FailureLimiter(limit=3, window_s=10)
    for t in (0.0, 1.0, 2.0):
        assert lim.blocked_for("a", now=t) == 0
        lim.fail("a", now=t)
    assert lim.blocked_for("a", now=3.0) == pytest.approx(7.0)
    assert lim.blocked_for("b", now=3.0) == 0  # per client
    assert lim.blocked_for("a", now=10.5) == 0  # the first failure left the window


def test_failure_limiter_memory_is_bounded() -> None:
    lim = FailureLimiter(limit=1, window_s=60, max_clients=100)
    for i in range(1000):
        lim.fail(f"10.0.{i // 256}.{i % 256}", now=0.0)
    assert len(lim._fails) <= 100
