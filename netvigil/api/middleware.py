"""The console's outer edge: what every response carries and whom a forwarded address is
believed from.

:class:`SecurityHeaders` wraps the whole application, outside Starlette's error middleware, so
every response gets the headers: pages, API answers, 401/413/422 and the 500 of an unexpected
error alike. The page holds a bearer token: no foreign scripts, no framing, no referrer, and
nothing but the static page files may be cached.

Forwarded addresses: uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default, which on
a console reached through ``kubectl port-forward`` or any local client means anyone may choose
the address their failed logins are counted against. The server turns that off
(``proxy_headers=False``) and the application applies uvicorn's own
:class:`~uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware` only for the proxies listed in
``api.trusted_proxies`` (none by default): it takes the right-most address not of a trusted
proxy, which a client cannot forge by sending its own header.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["SECURITY_HEADERS", "SecurityHeaders", "edge"]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CACHEABLE = "/ui/"
"""Path prefix of the static page files, the only responses that may be cached."""


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response, and ``Cache-Control: no-store``
    to every one but the static page files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(CACHEABLE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def edge(app: ASGIApp, trusted_proxies: Sequence[str]) -> ASGIApp:
    """``app`` behind the forwarded-address rule and the security headers."""
    if trusted_proxies:
        app = ProxyHeadersMiddleware(app, trusted_hosts=list(trusted_proxies))  # type: ignore[arg-type,assignment]
    return SecurityHeaders(app)
