"""The compacted ``netvigil.flow-templates`` topic on the embedded runtime: a file, read at start.

Exporters send a template once in a while and data all the time, so a collector that restarts
(or a worker that takes over an exporter) cannot decode anything until the next template, the
"template not found" cold start users of other collectors keep reporting. NetVigil publishes
every new, changed or withdrawn template to the compacted templates topic and loads the topic
at start. On the embedded runtime the topic is kept by :class:`TemplateFile`, a processor that
appends each template to a JSON-lines file; :func:`load_templates` reads it back compacted
(the last record per exporter/domain/template wins; a withdrawal removes the key), the way a
Kafka consumer reading a compacted topic from the beginning sees it.

The file is compacted as Kafka compacts the topic: once it holds more than twice the live
templates (plus ``slack`` lines), it is rewritten with the live ones only (a new file renamed
over the old, so a crash leaves one or the other). Templates churning (changed, withdrawn,
expired) therefore cannot grow it without bound, and a restart reads at most about twice
the templates the collector may hold.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from netvigil.events import Event, EventDecodeError, FlowTemplate, decode_as, encode, key_of
from netvigil.streams.base import Processor

__all__ = ["TemplateFile", "load_templates"]

log = logging.getLogger(__name__)


class TemplateFile(Processor[None]):
    """Appends every FlowTemplate to a JSON-lines file."""

    name = "flow-templates"
    inputs = ("netvigil.flow-templates",)
    outputs = ()

    def __init__(self, path: str | Path, *, slack: int = 1_000) -> None:
        self.path = Path(path)
        self.slack = slack
        self.compactions = 0
        self._live: dict[str, bytes] | None = None  # read at the first template
        self._lines = 0

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if isinstance(event, FlowTemplate):  # rare (new or changed templates): open per write
            live = self._load()
            line = encode(event) + b"\n"
            if event.withdrawn:
                live.pop(key_of(event), None)
            else:
                live[key_of(event)] = line
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._lines >= 2 * len(live) + self.slack:
                self._compact(live)
            else:
                with self.path.open("ab") as fh:
                    fh.write(line)
                self._lines += 1
        return []

    def _load(self) -> dict[str, bytes]:
        if self._live is None:
            self._live = {key_of(t): encode(t) + b"\n" for t in load_templates(self.path)}
            if self.path.exists():
                with self.path.open("rb") as fh:
                    self._lines = sum(1 for _ in fh)
        return self._live

    def _compact(self, live: dict[str, bytes]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as fh:
            fh.writelines(live.values())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._lines = len(live)
        self.compactions += 1


def load_templates(path: str | Path) -> list[FlowTemplate]:
    """The live templates of a templates file, compacted; unreadable lines are skipped."""
    p = Path(path)
    if not p.exists():
        return []
    live: dict[str, FlowTemplate] = {}
    with p.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            try:
                t = decode_as(line, FlowTemplate)
            except EventDecodeError as exc:
                log.warning("%s line %d skipped: %s", p, n, exc)
                continue
            assert isinstance(t, FlowTemplate)
            key = key_of(t)
            if t.withdrawn:
                live.pop(key, None)
            else:
                live[key] = t
    return list(live.values())
