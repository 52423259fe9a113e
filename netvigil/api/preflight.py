"""Checks before the console is served, so ``netvigil run`` fails at once with one line naming
the setting, instead of starting a service that cannot serve its console.

- the token file must be readable as tokens (a damaged one would refuse everyone);
- ``api.host``/``api.port`` must be bindable (uvicorn would report a taken port only after
  the pipeline started, and exit the process from inside its task).
"""

from __future__ import annotations

import socket
from pathlib import Path

from netvigil.api.auth import TokenStore, token_path
from netvigil.config import ApiSettings
from netvigil.errors import ConfigError

__all__ = ["check_console"]


def _bindable(api: ApiSettings) -> None:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            api.host, api.port, type=socket.SOCK_STREAM
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"api.host = {api.host!r} is not an address of this machine ({exc.strerror}); "
            "set api.host (NETVIGIL_API__HOST), e.g. 127.0.0.1"
        ) from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(addr)
        except OSError as exc:
            raise ConfigError(
                f"api.port = {api.port}: the console cannot listen on {api.host}:{api.port} "
                f"({exc.strerror}); choose a free port (NETVIGIL_API__PORT) or stop what "
                "listens there"
            ) from None


def check_console(api: ApiSettings, data_dir: Path) -> int:
    """Raise ConfigError (address) or TokenFileDamaged (token file); the number of tokens."""
    tokens = len(TokenStore(token_path(data_dir, api.token_file)).list())
    _bindable(api)
    return tokens
