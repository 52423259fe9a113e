"""Bearer tokens for the console: hashed at rest, compared in constant time, roles, lockout.

A token is ``nvk_<id>_<secret>``: the id (8 hex) names the record, the secret is 32 random
bytes. The token file keeps only ``sha256(secret)``: the secret has 256 bits of entropy, so a
slow password hash (argon2, scrypt) would add nothing against guessing and only cost latency on
every request; what matters is that a stolen file does not give working tokens, which any
preimage-resistant hash ensures. The check compares digests with :func:`hmac.compare_digest`,
and an unknown id is compared against a dummy digest, so timing tells nothing about which ids
exist.

Failed logins are counted per client address in a sliding window (hand-written, ~20 lines:
rate-limit libraries count every request, while only failures must be limited, and the
console must not lock out a busy operator who holds a good token). Past the limit the client
gets 429 with ``Retry-After`` until the window slides, even with a good token.

The token is shown once, at creation; it is never logged or returned by the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from netvigil.errors import NetVigilError

__all__ = [
    "ROLES",
    "FailureLimiter",
    "Role",
    "TokenFileDamaged",
    "TokenRecord",
    "TokenStore",
    "role_allows",
    "token_path",
]

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_DUMMY = hashlib.sha256(b"netvigil-no-such-token").hexdigest()


def role_allows(have: str, need: str) -> bool:
    """Whether a token of role ``have`` may do what needs ``need`` (admin > operator > viewer)."""
    return ROLES.index(have) >= ROLES.index(need)


def token_path(data_dir: Path, configured: Path | None) -> Path:
    """Where the token file is: ``api.token_file``, else ``<data dir>/api-tokens.json``."""
    return configured or data_dir / "api-tokens.json"


class TokenFileDamaged(NetVigilError):
    """The token file cannot be read as tokens; nobody can be authenticated until it is fixed."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    sha256: str
    created: float


class TokenStore:
    """Tokens in a JSON file (mode 0600), re-read when it changes on disk.

    A change is seen by the file's inode, size and modification time in nanoseconds: saves
    replace the file (a new inode), so a token revoked by another process stops working at
    its next request even within one tick of the file system's coarse clock.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._records: dict[str, TokenRecord] = {}
        self._mtime: tuple[int, int, int] | None = None

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._records, self._mtime = {}, None
            return
        mtime = (st.st_ino, st.st_size, st.st_mtime_ns)
        if mtime == self._mtime:
            return
        try:
            rows = json.loads(self.path.read_text() or "[]")
            self._records = {r["id"]: TokenRecord(**r) for r in rows}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TokenFileDamaged(
                f"token file {self.path} is damaged ({type(exc).__name__}: {exc}); move it "
                "aside and create tokens again with `netvigil api token create`"
            ) from None
        self._mtime = mtime

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump([asdict(r) for r in self._records.values()], f, indent=1)
        os.replace(tmp, self.path)
        self._mtime = None

    def create(self, role: str, name: str = "") -> tuple[TokenRecord, str]:
        """A new token; returns its record and the token text (shown once, never stored)."""
        if role not in ROLES:
            raise NetVigilError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        self._load()
        tid = secrets.token_hex(4)
        while tid in self._records:
            tid = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        rec = TokenRecord(tid, name or f"{role}-{tid}", role, _digest(secret), time.time())
        self._records[tid] = rec
        self._save()
        return rec, f"nvk_{tid}_{secret}"

    def revoke(self, token_id: str) -> bool:
        self._load()
        if self._records.pop(token_id, None) is None:
            return False
        self._save()
        return True

    def list(self) -> list[TokenRecord]:
        self._load()
        return sorted(self._records.values(), key=lambda r: r.created)

    def check(self, token: str) -> TokenRecord | None:
        """The record of a valid token, else None; constant time in the secret."""
        self._load()
        parts = token.split("_", 2)
        tid, secret = (parts[1], parts[2]) if len(parts) == 3 and parts[0] == "nvk" else ("", "")
        rec = self._records.get(tid)
        ok = hmac.compare_digest(_digest(secret), rec.sha256 if rec else _DUMMY)
        return rec if ok and rec is not None else None


class FailureLimiter:
    """At most ``limit`` failed logins per client within ``window_s`` seconds."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._fails.get(client)
        if q is None:
            if len(self._fails) >= self.max_clients:  # bounded memory under a spray
                self._fails.pop(next(iter(self._fails)))
            q = self._fails[client] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked_for(self, client: str, now: float | None = None) -> float:
        """Seconds until the client may try again; 0 if not blocked."""
        now = time.monotonic() if now is None else now
        q = self._recent(client, now)
        if len(q) < self.limit:
            return 0.0
        return max(q[0] + self.window_s - now, 0.001)

    def fail(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(client, now).append(now)
