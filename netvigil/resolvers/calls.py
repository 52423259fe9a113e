"""Executor calls off the event loop, each with a deadline.

Executors talk to devices (a gNMI Set, an ansible-runner playbook) and take as long as the
device or the playbook takes, or forever when one hangs. The coordinator runs on the event
loop (and, on Kafka, inside the worker's processing of a batch), so it must never wait for
them: each call runs in a daemon thread of its own, and the coordinator collects the outcomes
that have finished whenever it runs. A call still running at its deadline is reported as timed
out and abandoned: a thread cannot be stopped from outside, and a daemon thread does not keep
the process from exiting; :attr:`Calls.abandoned` counts them. Concurrency is bounded by the
coordinator (``coordinator.max_active`` actions in flight).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from netvigil.resolvers.base import ExecOutcome

__all__ = ["Calls", "Finished"]


@dataclass(frozen=True)
class Finished:
    key: str
    outcome: ExecOutcome | None
    """None: the call did not return before its deadline."""
    elapsed_s: float


@dataclass
class _Call:
    started: float
    deadline: float
    outcome: ExecOutcome | None = None
    done: bool = False


class Calls:
    """Calls in flight, by key (an action's request id)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()
        self.abandoned = 0

    def start(self, key: str, fn: Callable[[], ExecOutcome], timeout_s: float) -> None:
        """Run ``fn`` in its own thread; its outcome (or its timeout) is collected later."""
        now = self._clock()
        call = _Call(started=now, deadline=now + timeout_s)
        with self._lock:
            if key in self._calls:
                raise ValueError(f"a call for {key} is already running")
            self._calls[key] = call

        def run() -> None:
            try:
                out = fn()
            except Exception as exc:  # an executor that raises has failed, it has not hung
                out = ExecOutcome(False, f"{type(exc).__name__}: {exc}")
            with self._lock:
                call.outcome, call.done = out, True

        threading.Thread(target=run, name=f"executor:{key}", daemon=True).start()

    def running(self, key: str) -> bool:
        with self._lock:
            return key in self._calls

    def finished(self, mine: Callable[[str], bool] | None = None) -> list[Finished]:
        """The calls that returned or passed their deadline since the last look, each once
        (with ``mine``, only those of the keys it accepts; the others wait for their look)."""
        now = self._clock()
        out: list[Finished] = []
        with self._lock:
            for key, call in list(self._calls.items()):
                if mine is not None and not mine(key):
                    continue
                if call.done:
                    out.append(Finished(key, call.outcome, now - call.started))
                elif now >= call.deadline:
                    out.append(Finished(key, None, now - call.started))
                    self.abandoned += 1
                else:
                    continue
                del self._calls[key]
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
