"""A thin adapter over the ``servicenow-api`` package: the calls NetVigil makes, with its
errors translated at this one boundary into three kinds the outbox acts on.

- :class:`SnowUnavailable` (connection refused, timeout, 429, 5xx): retry later, after
  ``retry_after`` seconds when ServiceNow said so.
- :class:`SnowAuthError` (401, 403): retrying will not help until someone fixes the
  credentials; the message says which setting to change.
- :class:`SnowRejected` (400, 404, ...): this request is wrong; retrying the same one is
  pointless, so the outbox keeps it as dead with the reason.

The package is used for everything (``Api.get_table``, ``add_table_record``,
``patch_table_record``, ``create_change_request``, ``update_change_request``). It lacks one
thing: a request timeout (its session calls pass none), so a hung instance would block the
worker forever; the adapter gives the package's own ``requests`` session a default timeout.
"""

from __future__ import annotations

import functools
from typing import Any

import requests

from netvigil.errors import NetVigilError

__all__ = ["SnowAuthError", "SnowClient", "SnowError", "SnowRejected", "SnowUnavailable"]


class SnowError(NetVigilError):
    """Root of ServiceNow failures seen by NetVigil."""


class SnowUnavailable(SnowError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SnowAuthError(SnowError):
    pass


class SnowRejected(SnowError):
    pass


def _retry_after(resp: requests.Response) -> float | None:
    raw = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _detail(resp: requests.Response) -> str:
    try:
        err = resp.json().get("error", {})
        return f"{err.get('message')}: {err.get('detail')}"
    except (ValueError, AttributeError):
        return resp.text[:200]


def translate(exc: BaseException, base_url: str) -> SnowError:
    """Map an exception of ``requests`` or ``servicenow-api`` to a :class:`SnowError`."""
    name = type(exc).__name__
    resp = getattr(exc, "response", None)
    status = resp.status_code if isinstance(resp, requests.Response) else None
    if status in (401, 403) or name in ("AuthError", "UnauthorizedError"):
        what = (
            "refused the credentials"
            if status != 403 and name != "UnauthorizedError"
            else ("denied access (the user needs the itil role)")
        )
        return SnowAuthError(
            f"ServiceNow at {base_url} {what}: set tickets.user and tickets.password "
            f"(NETVIGIL_TICKETS__USER/__PASSWORD) or tickets.token"
        )
    if status == 429 or (status is not None and status >= 500):
        assert resp is not None
        return SnowUnavailable(
            f"ServiceNow answered {status} ({_detail(resp)})", _retry_after(resp)
        )
    if status is not None:
        assert resp is not None
        return SnowRejected(f"ServiceNow rejected the request with {status}: {_detail(resp)}")
    if isinstance(exc, requests.RequestException):
        return SnowUnavailable(f"ServiceNow at {base_url} unreachable: {type(exc).__name__}")
    return SnowRejected(f"ServiceNow call failed: {name}: {exc}")


def _flat(model: Any) -> dict[str, str]:
    """A record as plain strings, whether it came as Table fields or Change API pairs."""
    out: dict[str, str] = {}
    for k, v in model.model_dump(warnings=False).items():
        if isinstance(v, dict) and "value" in v:
            v = v["value"]
        out[k] = "" if v is None else str(v)
    return out


class SnowClient:
    """The NetVigil calls over one ``servicenow_api.Api``, created on first use."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str = "",
        password: str = "",
        token: str = "",
        timeout_s: float = 10.0,
        verify: bool = True,
    ) -> None:
        if not token and not (user and password):
            raise SnowAuthError(
                "the servicenow:// ticket backend needs tickets.user and tickets.password "
                "or tickets.token"
            )
        self.base_url = base_url.rstrip("/")
        self._creds = {
            "username": user or None,
            "password": password or None,
            "token": token or None,
        }
        self._timeout_s, self._verify = timeout_s, verify
        self._api: Any = None

    def _call(self, name: str, **kw: Any) -> Any:
        try:
            if self._api is None:
                from servicenow_api import Api

                # connects (GET /api/subscribers) and checks the credentials
                self._api = Api(url=self.base_url, verify=self._verify, **self._creds)
                sess = self._api._session
                sess.request = functools.partial(sess.request, timeout=self._timeout_s)
            return getattr(self._api, name)(**kw).result
        except SnowError:
            raise
        except Exception as e:  # the package raises bare requests and agent_utilities errors
            raise translate(e, self.base_url) from e

    def find(self, table: str, query: str, limit: int = 1000) -> list[dict[str, str]]:
        rows = self._call("get_table", table=table, sysparm_query=query, sysparm_limit=limit)
        return [_flat(r) for r in rows or []]

    def create(self, table: str, data: dict[str, Any]) -> dict[str, str]:
        return _flat(self._call("add_table_record", table=table, data=data))

    def patch(self, table: str, sys_id: str, data: dict[str, Any]) -> dict[str, str]:
        return _flat(
            self._call("patch_table_record", table=table, table_record_sys_id=sys_id, data=data)
        )

    def create_change(self, kind: str, data: dict[str, Any], template: str = "") -> dict[str, str]:
        kw: dict[str, Any] = {"change_type": kind, "data": data}
        if template:
            kw["standard_change_template_id"] = template
        return _flat(self._call("create_change_request", **kw))

    def update_change(self, sys_id: str, data: dict[str, Any]) -> dict[str, str]:
        return _flat(self._call("update_change_request", change_request_sys_id=sys_id, data=data))
