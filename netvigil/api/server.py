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
from netvigil.api.base import ActionQueue, Breaker, Policy
from netvigil.api.memory import MemoryActionQueue, MemoryBreaker, MemoryPolicy
from netvigil.api.resolvers import AutonomyBreaker, AutonomyPolicy, RemediationQueue
from netvigil.collectors.service_level import slos_of
from netvigil.service import Service

__all__ = ["build_console", "run_with_console"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # the service owns SIGINT/SIGTERM (drain first); uvicorn must not take them over
        yield


def _oversight(svc: Service) -> tuple[ActionQueue, Breaker]:
    """The resolvers' real action store, change desk and breaker when the service has them;
    the in-memory stand-ins (proposing from the incidents they see) otherwise."""
    desk = svc.tickets
    if (
        svc.actions is not None
        and svc.autonomy is not None
        and hasattr(desk, "decide_change")
        and hasattr(desk, "find_change")
    ):
        return (
            RemediationQueue(svc.actions, desk, svc.audit),  # type: ignore[arg-type]
            AutonomyBreaker(svc.autonomy, svc.audit),
        )
    actions = MemoryActionQueue(svc.audit, publish=svc.runtime.publish)
    breaker = MemoryBreaker(svc.audit)
    actions.breaker = breaker
    svc.runtime.listen("netvigil.incidents", actions.on_incident)
    return actions, breaker


def _policy(svc: Service) -> Policy:
    """The remediator's policy and the shared autonomy state when the service acts; an
    in-memory view of the coordinator's phase otherwise."""
    if svc.policy is not None and svc.autonomy is not None:
        return AutonomyPolicy(svc.policy, svc.autonomy, svc.audit)
    return MemoryPolicy(svc.audit, svc.settings.coordinator.phase)


def build_console(svc: Service, ready: Callable[[], bool] = lambda: True) -> Console:
    """The console over a built service."""
    api = svc.settings.api
    actions, breaker = _oversight(svc)
    console = Console(
        incidents=svc.incidents,
        audit=svc.audit,
        topology=svc.topology,
        tickets=svc.tickets,
        actions=actions,
        breaker=breaker,
        policy=_policy(svc),
        tokens=TokenStore(token_path(svc.data_dir, api.token_file)),
        stats=svc.runtime.stats,
        dead_letter_count=lambda: svc.dead_letters.count,
        ready=ready,
        limiter=FailureLimiter(api.login_failures, api.login_window_s),
        slos=slos_of(svc.settings),
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
