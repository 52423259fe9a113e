"""A local emulator of ServiceNow's Table API and Change Management API (aiohttp).

It is an EMULATOR, for tests and demos: ServiceNow itself cannot run here. It covers what
NetVigil and the ``servicenow-api`` client use, with the shapes of ServiceNow's documentation:

- Table API ``/api/now/table/{table}``: GET list (``sysparm_query`` subset of
  :mod:`~netvigil.resolvers.tickets.emulator.query`, ``sysparm_limit``/``offset``/``fields``,
  ``X-Total-Count`` and ``Link`` headers), POST (returns ``sys_id`` and a ``number`` such as
  INC0010001 / CHG0030001),
  GET/PATCH/PUT/DELETE ``/{sys_id}``. ``work_notes`` and ``comments`` are journal fields:
  writes append a ``sys_journal_field`` row, reads return "".
- Change Management API ``/api/sn_chg_rest/change[/normal|/emergency]`` (GET list, POST),
  ``/change/standard/{template_sys_id}`` (POST; pre-approved), ``/change[/type]/{sys_id}``
  (GET/PATCH/DELETE); fields come as ``{"value", "display_value"}`` pairs. A normal change
  moved to Assess (-4) has its approval requested: a ``sysapproval_approver`` record (state
  ``requested``) for its approver, and approving or rejecting that record (Table API PATCH)
  sets the change's ``approval``, as an approval engine does.
- Auth: basic (users with roles; ``itil`` may write, ``snc_read_only`` reads, else 403) and
  OAuth bearer tokens (static, or from ``POST /oauth_token.do`` password grant).
- Errors as documented: ``{"error": {"message", "detail"}, "status": "failure"}`` with 400
  (bad query, invalid table), 401, 403, 404, 429 (with ``Retry-After``), 500/503.
- ``GET /api/subscribers`` answers 200: ``servicenow-api`` probes it when it connects.

Fault switches (``POST /__emulator/faults`` with JSON, CLI flags, or :class:`EmulatorServer`
methods): ``status`` (429/500/503) for the next ``count`` requests (-1: until cleared) with
``retry_after``; ``delay_s`` slows every answer; ``down_s`` (or
:meth:`EmulatorServer.go_down` / :meth:`come_up`) closes the listening socket and every open
connection (connection refused) and reopens it on the same port, with the records kept.

Not covered: ACLs beyond the two roles (in ServiceNow only the approver, or a user with
``approval_admin``, may decide an approval; here any writer may), display values of references,
``sysparm_display_value``, business rules, other tables' numbering, attachments.

Run: ``python -m netvigil.resolvers.tickets.emulator.server --port 0 --user admin:secret``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from netvigil.resolvers.tickets.emulator.query import QueryError, apply
from netvigil.resolvers.tickets.emulator.state import Faults, SnowState, default_state

__all__ = ["EmulatorServer", "build_app", "main"]


def _error(status: int, message: str, detail: str | None = None, **headers: str) -> web.Response:
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    return web.json_response(body, status=status, headers=headers)


def _fields(rec: dict[str, str], fields: str | None) -> dict[str, str]:
    if not fields:
        return dict(rec)
    return {f: rec.get(f, "") for f in fields.split(",")}


def _pairs(rec: dict[str, str]) -> dict[str, dict[str, str]]:
    return {k: {"value": v, "display_value": v} for k, v in rec.items()}


def build_app(state: SnowState, outage: Callable[[float], None] | None = None) -> web.Application:
    """The aiohttp application serving ``state``; ``outage(seconds)`` takes the server down
    (``POST /__emulator/faults {"down_s": N}``)."""

    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/__emulator") or request.path == "/oauth_token.do":
            return await handler(request)  # type: ignore[no-any-return]
        state.requests += 1
        f = state.faults
        if f.delay_s:
            await asyncio.sleep(f.delay_s)
        if f.status is not None and f.count != 0:
            f.count -= 1 if f.count > 0 else 0
            after = {"Retry-After": f"{f.retry_after:g}"}
            if f.status == 429:
                return _error(429, "Too many requests", "Rate limit exceeded; retry later", **after)
            message = "Service Unavailable" if f.status == 503 else "Server Error"
            return _error(f.status, message, "The instance is not available", **after)
        user = _auth(request)
        if user is None:
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        role = state.users.get(user, ("", "snc_read_only"))[1]
        if request.method not in ("GET", "HEAD") and role not in ("itil", "admin"):
            return _error(403, "User Not Authorized", f"{user} has no write access to this record")
        return await handler(request)  # type: ignore[no-any-return]

    def _auth(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return state.tokens.get(header[7:])
        if header.startswith("Basic "):
            try:
                name, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            known = state.users.get(name)
            return name if known is not None and secrets.compare_digest(known[0], pw) else None
        return None

    async def body(request: web.Request) -> dict[str, Any] | web.Response:
        try:
            data = await request.json()
        except ValueError:
            return _error(400, "Exception while reading request", "The payload is not valid JSON")
        if not isinstance(data, dict):
            return _error(400, "Exception while reading request", "Expected a JSON object")
        return data

    def table_of(request: web.Request) -> str | web.Response:
        table = request.match_info.get("table", "change_request")
        return table if table in state.tables else _error(400, f"Invalid table {table}")

    def record(table: str, sys_id: str) -> dict[str, str] | web.Response:
        rec = state.tables[table].get(sys_id)
        if rec is None:
            return _error(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
        return rec

    async def list_records(request: web.Request, table: str, pairs: bool) -> web.Response:
        q = request.query
        try:
            rows = apply(q.get("sysparm_query", ""), state.tables[table].values())
            limit = int(q.get("sysparm_limit", "10000"))
            offset = int(q.get("sysparm_offset", "0"))
        except (QueryError, ValueError) as e:
            return _error(400, "Invalid query", str(e))
        page = rows[offset : offset + limit]
        result: list[Any] = [_fields(dict(r), q.get("sysparm_fields")) for r in page]
        if pairs:
            result = [_pairs(r) for r in result]
        headers = {"X-Total-Count": str(len(rows))}
        if offset + limit < len(rows):
            nxt = request.url.update_query(sysparm_offset=str(offset + limit))
            headers["Link"] = f'<{nxt}>;rel="next"'
        return web.json_response({"result": result}, headers=headers)

    async def table_list(request: web.Request) -> web.Response:
        table = table_of(request)
        if isinstance(table, web.Response):
            return table
        return await list_records(request, table, pairs=False)

    async def table_create(request: web.Request) -> web.Response:
        table, data = table_of(request), await body(request)
        if isinstance(table, web.Response):
            return table
        if isinstance(data, web.Response):
            return data
        rec = state.insert(table, data, _auth(request) or "")
        return web.json_response(
            {"result": _fields(rec, request.query.get("sysparm_fields"))}, status=201
        )

    async def table_one(request: web.Request) -> web.Response:
        table = table_of(request)
        if isinstance(table, web.Response):
            return table
        rec = record(table, request.match_info["sys_id"])
        if isinstance(rec, web.Response):
            return rec
        if request.method == "DELETE":
            del state.tables[table][rec["sys_id"]]
            return web.Response(status=204)
        if request.method in ("PATCH", "PUT"):
            data = await body(request)
            if isinstance(data, web.Response):
                return data
            state.update(table, rec, data, _auth(request) or "")
        return web.json_response({"result": _fields(rec, request.query.get("sysparm_fields"))})

    async def change_list(request: web.Request) -> web.Response:
        kind = request.match_info.get("type")
        if kind is not None:
            extra = f"type={kind}"
            q = request.query.get("sysparm_query", "")
            request = request.clone(
                rel_url=request.rel_url.update_query(sysparm_query=f"{q}^{extra}" if q else extra)
            )
        return await list_records(request, "change_request", pairs=True)

    async def change_create(request: web.Request) -> web.Response:
        data = await body(request)
        if isinstance(data, web.Response):
            return data
        kind = request.match_info["type"]
        values: dict[str, Any] = {"approval": "not requested", "state": "-5", **data, "type": kind}
        if kind == "standard":
            tpl = record("std_change_record_producer", request.match_info.get("template", ""))
            if isinstance(tpl, web.Response):
                return tpl
            values.update(
                approval="approved", state="-2", std_change_producer_version=tpl["sys_id"]
            )
        rec = state.insert("change_request", values, _auth(request) or "")
        return web.json_response({"result": _pairs(rec)}, status=200)

    async def change_one(request: web.Request) -> web.Response:
        rec = record("change_request", request.match_info["sys_id"])
        if isinstance(rec, web.Response):
            return rec
        if request.method == "DELETE":
            del state.tables["change_request"][rec["sys_id"]]
            return web.Response(status=204)
        if request.method == "PATCH":
            data = await body(request)
            if isinstance(data, web.Response):
                return data
            state.update("change_request", rec, data, _auth(request) or "")
        return web.json_response({"result": _pairs(rec)})

    async def subscribers(request: web.Request) -> web.Response:
        return web.json_response({"result": []})

    async def oauth(request: web.Request) -> web.Response:
        form = await request.post()
        known = state.users.get(str(form.get("username", "")))
        if (
            form.get("grant_type") != "password"
            or known is None
            or known[0] != form.get("password")
        ):
            return web.json_response(
                {"error": "access_denied", "error_description": "access_denied"}, status=401
            )
        token = secrets.token_urlsafe(24)
        state.tokens[token] = str(form["username"])
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 1799,
                "scope": "useraccount",
            }
        )

    async def faults(request: web.Request) -> web.Response:
        try:
            data = await request.json()
            down_s = float(data.pop("down_s", 0))
            state.faults = Faults(**data)
        except (ValueError, TypeError) as e:
            return _error(400, "Invalid fault switch", str(e))
        if down_s > 0 and outage is not None:
            outage(down_s)
        return web.json_response({"result": "ok"})

    app = web.Application(middlewares=[gate])
    sid = "{sys_id:[0-9a-f]{32}}"
    app.router.add_get("/api/subscribers", subscribers)
    app.router.add_post("/oauth_token.do", oauth)
    app.router.add_post("/__emulator/faults", faults)
    app.router.add_get("/api/now/table/{table}", table_list)
    app.router.add_post("/api/now/table/{table}", table_create)
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        app.router.add_route(method, f"/api/now/table/{{table}}/{sid}", table_one)
        if method != "PUT":
            app.router.add_route(method, f"/api/sn_chg_rest/change/{sid}", change_one)
            app.router.add_route(
                method,
                f"/api/sn_chg_rest/change/{{type:normal|standard|emergency}}/{sid}",
                change_one,
            )
    app.router.add_get("/api/sn_chg_rest/change", change_list)
    app.router.add_get("/api/sn_chg_rest/change/{type:normal|standard|emergency}", change_list)
    app.router.add_post("/api/sn_chg_rest/change/{type:normal|emergency}", change_create)
    app.router.add_post("/api/sn_chg_rest/change/{type:standard}/{template}", change_create)
    return app


class EmulatorServer:
    """The emulator on a free local port, in a thread with its own event loop.

    ``go_down``/``come_up`` close and reopen the listening socket on the same port, keeping
    the records, so a client sees a real outage (connection refused)."""

    def __init__(self, state: SnowState | None = None, host: str = "127.0.0.1") -> None:
        self.state = state or default_state()
        self.host, self.port = host, 0
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(build_app(self.state, self._outage))
        self._site: web.TCPSite | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def start(self) -> EmulatorServer:
        self._thread.start()
        self._call(self._runner.setup())
        self.come_up()
        return self

    def come_up(self) -> None:
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        self._call(self._site.start())
        server = self._site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def go_down(self) -> None:
        """Stop listening and drop every open (keep-alive) connection, as an outage does."""
        if self._site is not None:
            self._call(self._site.stop())
            self._site = None
        server = self._runner.server

        async def drop() -> None:
            for conn in server.connections if server is not None else []:
                conn.force_close()

        self._call(drop())

    def _outage(self, seconds: float) -> None:
        def run() -> None:
            time.sleep(0.2)  # let the switch's own answer leave first
            self.go_down()
            time.sleep(seconds)
            self.come_up()

        threading.Thread(target=run, daemon=True).start()

    def faults(self, **kw: Any) -> None:
        self.state.faults = Faults(**kw)

    def stop(self) -> None:
        self.go_down()
        self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description="ServiceNow Table + Change API emulator (not ServiceNow)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = a free port, printed on start")
    p.add_argument("--user", action="append", default=[], help="NAME:PASSWORD[:ROLE] (itil)")
    p.add_argument("--token", action="append", default=[], help="TOKEN:USER, a bearer token")
    p.add_argument("--fail-status", type=int, help="answer every request with 429, 500 or 503")
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of failures (s)")
    p.add_argument("--delay", type=float, default=0.0, help="slow every answer by this (s)")
    args = p.parse_args(argv)
    users = {}
    for spec in args.user:
        name, pw, *role = spec.split(":")
        users[name] = (pw, role[0] if role else "itil")
    srv = EmulatorServer(default_state(users or None), args.host)
    for spec in args.token:
        tok, _, who = spec.partition(":")
        srv.state.tokens[tok] = who
    srv.port = args.port
    srv.faults(
        status=args.fail_status,
        count=-1 if args.fail_status else 0,
        retry_after=args.retry_after,
        delay_s=args.delay,
    )
    srv.start()
    print(f"ServiceNow emulator on {srv.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    main()
