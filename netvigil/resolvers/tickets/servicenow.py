"""The ServiceNow ticket backend (``servicenow://INSTANCE-HOST``), behind a durable outbox.

Calls from the resolver never touch the network: they update the local mirror and queue an
operation in one SQLite transaction (:mod:`outbox`), and return at once. A worker thread
sends the queue in order through the ``servicenow-api`` package (:mod:`snow_client`),
retrying with exponential backoff while ServiceNow is down or failing, and waiting
``Retry-After`` when it throttles. Creation is idempotent by correlation id: the worker looks
the record up before creating it, and a work note that may already have been written (a
retry) is looked for in ``sys_journal_field`` by its operation tag, so retries and restarts
make no duplicates. The same thread polls ServiceNow for what humans did (incident resolved,
change approved or rejected) and :meth:`sync` reports it, once.

What NetVigil writes: an ``incident`` per NetVigil incident (``correlation_id`` = the
fingerprint, ``correlation_display`` = NetVigil, ``cmdb_ci`` = the device's CI when found by
name), work notes, resolution (state 6, close code and notes); a ``change_request`` per
action: a normal change moved to Assess (approval requested) at level 1, a standard change
from the template "NetVigil pre-approved network action" at levels 2 and 3 (the twin verdict
is in the description the resolver writes), linked to its CIs and to the incident (the
incident's ``rfc``). Until the worker has created a record its number reads ``pending``.

URL: ``servicenow://HOST[:PORT]``; ``?tls=0`` speaks plain HTTP (the emulator).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netvigil.errors import ConfigError
from netvigil.resolvers.base import (
    ChangeDecided,
    ChangeKind,
    ChangeRecord,
    ChangeState,
    SyncUpdate,
    Ticket,
)
from netvigil.resolvers.tickets.outbox import OutboxStore
from netvigil.resolvers.tickets.snow_client import (
    SnowAuthError,
    SnowClient,
    SnowError,
    SnowRejected,
    SnowUnavailable,
)
from netvigil.resolvers.tickets.snow_ops import SnowWriter

__all__ = ["ServiceNowTickets", "base_url"]

log = logging.getLogger(__name__)


def base_url(url: str) -> str:
    """``servicenow://host[:port][?tls=0]`` -> ``https://host[:port]`` (or ``http://``)."""
    parts = urlsplit(url)
    if parts.scheme != "servicenow" or not parts.netloc:
        raise ValueError(f"{url!r}: expected servicenow://INSTANCE-HOST")
    tls = parse_qs(parts.query).get("tls", ["1"])[0] not in ("0", "false", "no")
    return f"{'https' if tls else 'http'}://{parts.netloc}"


class ServiceNowTickets:
    """A TicketBackend writing to ServiceNow through an outbox in ``db_path``."""

    def __init__(
        self,
        client: SnowClient,
        db_path: str | Path,
        *,
        poll_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        worker: bool = True,
    ) -> None:
        self.client, self.store = client, OutboxStore(db_path)
        self.writer = SnowWriter(client, self.store)
        self.poll_s, self.backoff_s, self.max_backoff_s = poll_s, backoff_s, max_backoff_s
        self.last_error: SnowError | None = None
        self._pump_lock = threading.Lock()
        self._wake, self._closed = threading.Event(), threading.Event()
        self._next_poll = 0.0
        self._quiet_until = 0.0  # after a 429/5xx/outage, nothing is sent before this
        self._thread: threading.Thread | None = None
        if worker:
            self._thread = threading.Thread(target=self._run, name="servicenow-outbox", daemon=True)
            self._thread.start()

    @classmethod
    def from_url(
        cls,
        url: str,
        data_dir: Path,
        *,
        user: str = "",
        password: str = "",
        token: str = "",
        **kw: Any,
    ) -> ServiceNowTickets:
        if not token and not (user and password):
            raise ConfigError(
                f"tickets.url = {url!r} needs tickets.user and tickets.password "
                "(NETVIGIL_TICKETS__USER, NETVIGIL_TICKETS__PASSWORD) or tickets.token"
            )
        client = SnowClient(base_url(url), user=user, password=password, token=token)
        return cls(client, data_dir / "servicenow-outbox.db", **kw)

    # ------------------------------------------------------------------ TicketBackend

    @staticmethod
    def _ticket(row: dict[str, str]) -> Ticket:
        return Ticket(
            row["correlation_id"],
            row["number"] or "pending",
            row["correlation_id"],
            "resolved" if row["state"] == "resolved" else "open",
            row["title"],
        )

    @staticmethod
    def _change(row: dict[str, str]) -> ChangeRecord:
        return ChangeRecord(
            row["correlation_id"],
            row["number"] or "pending",
            row["correlation_id"],
            row["kind"],  # type: ignore[arg-type]
            row["state"],  # type: ignore[arg-type]
            row["title"],
        )

    def find(self, correlation_id: str) -> Ticket | None:
        row = self.store.row("tickets", correlation_id)
        return self._ticket(row) if row else None

    def open(
        self, correlation_id: str, title: str, description: str, *, severity: str, ts: float
    ) -> Ticket:
        with self.store.tx():
            if self.store.row("tickets", correlation_id) is None:
                self.store.db.execute(
                    "INSERT INTO tickets (correlation_id, title, state) VALUES (?, ?, 'open')",
                    (correlation_id, title),
                )
                payload = {"title": title, "description": description, "severity": severity}
                self.store.enqueue("open_incident", correlation_id, payload)
        self._wake.set()
        found = self.find(correlation_id)
        assert found is not None
        return found

    def add_note(self, ticket: Ticket, text: str, *, ts: float) -> None:
        with self.store.tx():
            self.store.db.execute(
                "INSERT INTO notes VALUES (?, ?, ?)", (ticket.correlation_id, ts, text)
            )
            self.store.enqueue("note", ticket.correlation_id, {"text": text})
        self._wake.set()

    def resolve(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        return self._transition(ticket, "open", "resolved", "resolve", note, ts)

    def reopen(self, ticket: Ticket, note: str, *, ts: float) -> Ticket:
        return self._transition(ticket, "resolved", "open", "reopen", note, ts)

    def _transition(
        self, ticket: Ticket, source: str, target: str, op: str, note: str, ts: float
    ) -> Ticket:
        """Move a ticket from ``source`` to ``target`` state with a note, once, queued."""
        with self.store.tx():
            row = self.store.row("tickets", ticket.correlation_id)
            if row is not None and row["state"] == source:
                self.store.set("tickets", ticket.correlation_id, state=target)
                self.store.db.execute(
                    "INSERT INTO notes VALUES (?, ?, ?)", (ticket.correlation_id, ts, note)
                )
                self.store.enqueue(op, ticket.correlation_id, {"note": note})
        self._wake.set()
        found = self.find(ticket.correlation_id)
        assert found is not None
        return found

    def notes(self, ticket: Ticket) -> list[str]:
        rows = self.store.db.execute(
            "SELECT text FROM notes WHERE correlation_id = ? ORDER BY rowid",
            (ticket.correlation_id,),
        )
        return [r[0] for r in rows.fetchall()]

    def open_change(
        self,
        correlation_id: str,
        *,
        incident: str,
        kind: ChangeKind,
        title: str,
        description: str,
        devices: list[str],
        ts: float,
    ) -> ChangeRecord:
        with self.store.tx():
            if self.store.row("changes", correlation_id) is None:
                state = "approved" if kind == "standard" else "requested"
                self.store.db.execute(
                    "INSERT INTO changes (correlation_id, kind, state, title) VALUES (?, ?, ?, ?)",
                    (correlation_id, kind, state, title),
                )
                payload = {
                    "incident": incident,
                    "kind": kind,
                    "title": title,
                    "description": description,
                    "devices": devices,
                }
                self.store.enqueue("open_change", correlation_id, payload)
        self._wake.set()
        found = self.find_change(correlation_id)
        assert found is not None
        return found

    def find_change(self, correlation_id: str) -> ChangeRecord | None:
        row = self.store.row("changes", correlation_id)
        return self._change(row) if row else None

    def update_change(
        self, change: ChangeRecord, state: ChangeState, note: str, *, ts: float
    ) -> ChangeRecord:
        with self.store.tx():
            self.store.set("changes", change.correlation_id, state=state)
            self.store.enqueue(
                "update_change", change.correlation_id, {"state": state, "note": note}
            )
        self._wake.set()
        found = self.find_change(change.correlation_id)
        assert found is not None
        return found

    def decide_change(self, correlation_id: str, approved: bool, who: str) -> ChangeRecord:
        """Queue ``who``'s decision for ServiceNow; :meth:`sync` reports it once ServiceNow took
        it (the approval record decided there, or ServiceNow's own earlier decision)."""
        with self.store.tx():
            row = self.store.row("changes", correlation_id)
            if row is None:
                raise ChangeDecided(f"no change for {correlation_id}")
            if row["state"] != "requested":
                number = row["number"] or "pending"
                raise ChangeDecided(f"change {number} is {row['state']}, not requested")
            self.store.set("changes", correlation_id, state="deciding")
            self.store.enqueue("decide_change", correlation_id, {"approved": approved, "who": who})
        self._wake.set()
        found = self.find_change(correlation_id)
        assert found is not None
        return found

    def sync(self) -> list[SyncUpdate]:
        """What humans did in ServiceNow, as seen by the worker's last polls; each once."""
        return [
            SyncUpdate(k, c, n, note, code)  # type: ignore[arg-type]
            for k, c, n, note, code in self.store.unreported()
        ]

    # ------------------------------------------------------------------ problems

    def open_problem(
        self, correlation_id: str, title: str, description: str, *, ts: float
    ) -> Ticket:
        """A ``problem`` record for a predicted harm (queued like everything else)."""
        with self.store.tx():
            if self.store.row("problems", correlation_id) is None:
                self.store.db.execute(
                    "INSERT INTO problems (correlation_id, title, state) VALUES (?, ?, 'open')",
                    (correlation_id, title),
                )
                payload = {"title": title, "description": description}
                self.store.enqueue("open_problem", correlation_id, payload)
        self._wake.set()
        found = self.find_problem(correlation_id)
        assert found is not None
        return found

    def find_problem(self, correlation_id: str) -> Ticket | None:
        row = self.store.row("problems", correlation_id)
        return self._ticket(row) if row else None

    def note_problem(self, ticket: Ticket, text: str, *, ts: float) -> None:
        self.store.enqueue("problem_note", ticket.correlation_id, {"text": text})
        self._wake.set()

    def close_problem(self, ticket: Ticket, code: str, note: str, *, ts: float) -> Ticket:
        with self.store.tx():
            row = self.store.row("problems", ticket.correlation_id)
            if row is not None and row["state"] == "open":
                self.store.set("problems", ticket.correlation_id, state="resolved")
                self.store.enqueue(
                    "close_problem", ticket.correlation_id, {"code": code, "note": note}
                )
        self._wake.set()
        found = self.find_problem(ticket.correlation_id)
        assert found is not None
        return found

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.store.close()

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                if time.time() >= self._quiet_until:
                    self.pump()
                if time.time() >= max(self._next_poll, self._quiet_until):
                    self.poll()
            except SnowError as e:  # a failed poll: the next one will tell
                self.last_error = e
                if isinstance(e, SnowUnavailable):
                    self._quiet_until = time.time() + (e.retry_after or self.backoff_s)
            except Exception:  # keep the worker alive, say why loudly
                log.exception("ServiceNow outbox worker")
            due = self.store.next_due()
            wait = max(self._next_poll, self._quiet_until) - time.time()
            if due is not None:
                wait = min(wait, max(due, self._quiet_until) - time.time())
            self._wake.wait(max(0.05, min(wait, 5.0)))
            self._wake.clear()

    def pump(self, now: float | None = None) -> int:
        """Send due operations in order until one fails; returns how many were sent."""
        sent = 0
        with self._pump_lock:
            while not self._closed.is_set():
                op = self.store.due(time.time() if now is None else now)
                if op is None:
                    return sent
                self.store.started(op.id)
                try:
                    self.writer.apply(op)
                except (SnowUnavailable, SnowAuthError) as e:
                    hint = e.retry_after if isinstance(e, SnowUnavailable) else None
                    delay = hint if hint is not None else self._backoff(op.attempts + 1)
                    self.store.retry(op.id, time.time() + delay, str(e))
                    self._quiet_until = time.time() + delay
                    self.last_error = e
                    log.warning(
                        "ticket operation %s %s waits %.1fs: %s",
                        op.kind,
                        op.correlation_id,
                        delay,
                        e,
                    )
                    return sent
                except SnowRejected as e:
                    self.store.dead(op.id, str(e))
                    log.error(
                        "ticket operation %s %s dropped by ServiceNow, kept as dead: %s",
                        op.kind,
                        op.correlation_id,
                        e,
                    )
                else:
                    self.store.done(op.id)
                    self.last_error = None
                    sent += 1
        return sent

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return float(base * (0.5 + random.random() / 2))

    def poll(self) -> None:
        """Read what humans did in ServiceNow (the worker does this every ``poll_s``)."""
        self._next_poll = time.time() + self.poll_s
        with self._pump_lock:
            self.writer.poll()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued operation reached ServiceNow and one poll ran (tests, CLI);
        raises the last :class:`SnowError` when that does not happen in time."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self._thread is None:
                self.pump()
            else:
                self._wake.set()
            if self.store.counts().get("pending", 0) == 0:
                self.poll()
                return
            time.sleep(0.05)
        raise self.last_error or TimeoutError("ServiceNow outbox did not drain")
