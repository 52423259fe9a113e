"""Passwords inside URLs (``scheme://user:password@host``) are never shown.

Settings hold URLs that may carry credentials in their userinfo part (``graph.url``,
``tickets.url``, ``summary.url``, probe targets, scrape URLs, the bus). Wherever NetVigil shows
a URL (``config show``, validation errors, start-up lines, error messages) it passes the text
through :func:`redact_urls`, which keeps the user name and replaces the password; a userinfo
without a colon may itself be a token, so it is replaced whole. Dedicated secret settings are
:class:`pydantic.SecretStr` and never shown at all.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact_urls"]

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/?#\s'\"]*)@")


def _mask(m: re.Match[str]) -> str:
    user, colon, _ = m["info"].partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{m['scheme']}{shown}@"


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(_mask, text)
