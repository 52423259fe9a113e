"""The compacted ``netvigil.flow-templates`` topic on the embedded runtime: a file, read at start.

Exporters send a template once in a while and data all the time, so a collector that restarts
(or a worker that takes over an exporter) cannot decode anything until the next template, the
"template not found" cold start users of other collectors keep reporting. NetVigil publishes
every new, changed or withdrawn template to the compacted templates topic and loads the topic
at start. On the embedded runtime the topic is kept by :class:`TemplateFile`, a processor that
appends each template to a JSON-lines file; :func:`load_templates` reads it back compacted
(the last record per exporter/domain/template wins; a withdrawal removes the key), the way a
Kafka consumer reading a compacted topic from the beginning sees it.
"""

from __future__ import annotations

import logging
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

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def new_state(self) -> None:
        return None

    async def process(self, event: Event, state: None) -> Sequence[Event]:
        if isinstance(event, FlowTemplate):  # rare (new or changed templates): open per write
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as fh:
                fh.write(encode(event) + b"\n")
        return []


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
