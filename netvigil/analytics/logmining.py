"""Online log template mining: drain3 with network-aware masking (pure, no I/O).

drain3 (the maintained implementation of Drain, He et al., ICWS 2017) groups messages into
templates online with a fixed-depth parse tree. Before a message reaches it, the masks of
:mod:`netvigil.analytics.masking` turn addresses, interface names, AS numbers and hex ids into
one token each. :class:`LogMiner` reports for every message its template id, the template
text, and whether the template is new or changed, which is what the log processor turns into
new-template and template-rate anomalies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from netvigil.analytics.masking import MASKS

__all__ = ["LOGHUB_WILDCARD", "LogMiner", "Mined", "MinerConfig", "loghub_template", "mask"]

LOGHUB_WILDCARD = "<*>"
_MASK_TOKEN = re.compile(r"<(?:\*|[A-Z]+)>")
# Every mask but the AS number (which may contain a space) in one alternation, applied only
# to the whitespace-separated tokens that could hold one (a digit, or a Cisco dotted MAC with
# none): scanning
# short tokens instead of whole lines is ~5x faster (measured on Loghub bodies).
_SPANNING = {"ASN"}
_COMBINED = re.compile(
    "|".join(f"(?P<m{i}>{p})" for i, (name, p) in enumerate(MASKS) if name not in _SPANNING)
)
_TOKENS = [f"<{name}>" for name, _ in MASKS]
_ASN = re.compile("|".join(p for name, p in MASKS if name in _SPANNING))
_CANDIDATE = re.compile(r"\d|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")


def _token(match: re.Match[str]) -> str:
    return _TOKENS[int(str(match.lastgroup)[1:])]


def mask(message: str) -> str:
    """The message with addresses, interfaces, AS numbers and hex ids replaced by tokens
    (and runs of whitespace made single spaces, as Drain tokenises on whitespace anyway)."""
    if "AS" in message:
        message = _ASN.sub("<ASN>", message)
    parts = message.split()
    candidate = _CANDIDATE.search
    sub = _COMBINED.sub
    for i, tok in enumerate(parts):
        if candidate(tok):
            parts[i] = sub(_token, tok)
    return " ".join(parts)


@dataclass(frozen=True)
class MinerConfig:
    """One configuration for every log source."""

    sim_th: float = 0.5
    """Share of equal tokens for a message to join a template."""
    depth: int = 5
    """Depth of Drain's parse tree (prefix tokens used to route a message)."""
    max_children: int = 100
    max_clusters: int | None = 50_000
    """Templates kept (least recently used dropped beyond): bounds memory."""
    extra_delimiters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mined:
    """What mining one message found."""

    template_id: int
    template: str
    """The template with named masks (``<IP>``, ``<IF>``) and ``<*>`` for other variables."""
    change: str
    """``cluster_created``, ``cluster_template_changed`` or ``none``."""
    size: int
    """Messages that matched this template so far."""

    @property
    def is_new(self) -> bool:
        return self.change == "cluster_created"


def loghub_template(template: str) -> str:
    """The template in Loghub's notation: every variable as ``<*>``."""
    return _MASK_TOKEN.sub(LOGHUB_WILDCARD, template)


class LogMiner:
    """Mines templates from message bodies, one at a time, in arrival order."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = c = config or MinerConfig()
        tmc = TemplateMinerConfig()
        tmc.drain_sim_th = c.sim_th
        tmc.drain_depth = c.depth
        tmc.drain_max_children = c.max_children
        tmc.drain_max_clusters = c.max_clusters
        tmc.drain_extra_delimiters = list(c.extra_delimiters)
        tmc.mask_prefix = "<"
        tmc.mask_suffix = ">"
        tmc.masking_instructions = []  # masked here, in one pass (see mask())
        tmc.profiling_enabled = False
        self._miner = TemplateMiner(persistence_handler=None, config=tmc)

    def add(self, message: str) -> Mined:
        """Mine one message body (learns it)."""
        r = self._miner.add_log_message(mask(message.strip()))
        return Mined(
            template_id=int(r["cluster_id"]),
            template=str(r["template_mined"]),
            change=str(r["change_type"]),
            size=int(r["cluster_size"]),
        )

    def template(self, template_id: int) -> str:
        """The current text of a template (templates generalise as messages arrive)."""
        for c in self._miner.drain.clusters:
            if c.cluster_id == template_id:
                return str(c.get_template())
        raise KeyError(template_id)

    def templates(self) -> dict[int, str]:
        """Every template mined so far, by id."""
        return {c.cluster_id: str(c.get_template()) for c in self._miner.drain.clusters}
