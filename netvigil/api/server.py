"""Serves the console beside the pipeline, in the service's own event loop (uvicorn).

One loop for both means the API reads the same stores the pipeline writes without locks or
threads. Stop order: the stop signal first drains and stops the pipeline, then the console
finishes its open requests and closes, so an operator never sees a half-stopped service as
ready (readiness turns false as soon as stop is asked).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn

from netvigil.api.app import Console, create_app
from netvigil.api.auth import FailureLimiter, TokenStore, token_path
from netvigil.api.prevention import PreventionDesk
from netvigil.api.resolvers import AutonomyBreaker, AutonomyPolicy, RemediationQueue
from netvigil.collectors.service_level import slos_of
from netvigil.service import Service

__all__ = ["build_console", "run_with_console"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # the service owns SIGINT/SIGTERM (drain first); uvicorn must not take them over
        yield


def build_console(svc: Service, ready: Callable[[], bool] = lambda: True) -> Console:
    """The console over a built service: the remediator's own action store, the ticket
    backend's change desk, and the autonomy state (breaker, phases) the remediator consults
    before every step, whatever the ticket backend."""
    api = svc.settings.api
    console = Console(
        incidents=svc.incidents,
        audit=svc.audit,
        topology=svc.topology,
        tickets=svc.tickets,
        actions=RemediationQueue(svc.actions, svc.tickets, svc.audit),
        breaker=AutonomyBreaker(svc.autonomy, svc.audit),
        policy=AutonomyPolicy(
            svc.policy,
            svc.autonomy,
            svc.audit,
            svc.prevention.record if svc.prevention is not None else None,
        ),
        tokens=TokenStore(token_path(svc.data_dir, api.token_file)),
        stats=svc.runtime.stats,
        dead_letter_count=lambda: svc.dead_letters.count,
        ready=ready,
        limiter=FailureLimiter(api.login_failures, api.login_window_s),
        slos=slos_of(svc.settings),
    )
    if svc.prevention is not None:
        console.prevention = PreventionDesk(
            risks=svc.prevention.risks,
            record=svc.prevention.record,
            feedback=svc.prevention.feedback,
            actions=svc.actions,
            policy=svc.policy,
            autonomy=svc.autonomy,
            audit=svc.audit,
            incidents=svc.incidents,
        )
    svc.runtime.listen("netvigil.dlq", console.meters.on_dead_letter)
    svc.runtime.listen("netvigil.anomalies", console.meters.on_anomaly)
    svc.runtime.listen("netvigil.anomalies", console.slo_board.observe)
    return console


async def run_with_console(
    svc: Service, stop: asyncio.Event, on_ready: Callable[[str], None] | None = None
) -> None:
    """Run the pipeline and serve the console until ``stop`` is set."""
    api = svc.settings.api
    state = {"running": False}
    console = build_console(svc, ready=lambda: state["running"] and not stop.is_set())
    config = uvicorn.Config(
        create_app(console, api),
        host=api.host,
        port=api.port,
        log_level="warning",
        lifespan="off",
        server_header=False,
        proxy_headers=False,  # the app believes X-Forwarded-For of api.trusted_proxies only
    )
    server = _Server(config)
    web = asyncio.create_task(server.serve())
    while not server.started and not web.done():
        await asyncio.sleep(0.02)
    if web.done():
        await web  # raises the bind error
        raise SystemExit(f"console could not listen on {api.host}:{api.port}")
    if on_ready is not None:
        on_ready(f"http://{api.host}:{api.port}/")
    state["running"] = True
    try:
        await svc.run(stop)
    finally:
        state["running"] = False
        server.should_exit = True
        await web
