"""Incident summaries: a deterministic template by default, an optional text generator.

Why a template first: an operator (and a test) must get the same sentence for the same
incident, with no network and no model; the summary only restates what the incident already
carries (root cause, fault, evidence, impact, the anomalies and when they began), so it can
never invent a fact. A text-generation backend is opt-in and always *falls back* to the
template when it fails, times out or returns nothing, so an unreachable model never costs a
summary.

Backends (``SummaryConfig.backend``):

- ``template`` (default): :func:`template_summary`.
- ``openai``: any OpenAI-compatible chat-completions endpoint (``POST {url}/chat/completions``,
  e.g. vLLM, llama.cpp's server, Ollama, OpenAI). Written with :mod:`urllib` rather than the
  ``openai`` package because it is one JSON POST and the package would be a large dependency
  for it.
- ``transformers``: a local text-generation model directory (loaded with
  ``local_files_only=True``, never from a hub), through ``transformers.pipeline``.

The generator is given the template summary as its facts and asked to rephrase them; its
answer is truncated to ``max_chars``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from netvigil.events import Incident

__all__ = ["Summarizer", "SummaryConfig", "template_summary"]

_PROMPT = (
    "You are a network operations assistant. Rewrite the incident facts below as a short "
    "summary (at most three sentences) for an on-call engineer. Use only these facts."
)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def template_summary(incident: Incident) -> str:
    """A deterministic summary of ``incident`` from its own fields only."""
    parts: list[str] = []
    state = "Resolved" if incident.status == "resolved" else "Open"
    rc = incident.root_cause
    if rc is None:
        parts.append(f"{state} {incident.severity} incident: anomalies without a located cause.")
    else:
        fault = rc.fault or "degraded"
        parts.append(
            f"{state} {incident.severity} incident: {rc.kind} {rc.entity} is {fault} "
            f"(confidence {rc.score:.2f})."
        )
        if rc.evidence:
            parts.append("Evidence: " + "; ".join(rc.evidence[:3]) + ".")
        others = [f"{c.kind} {c.entity} ({c.score:.2f})" for c in incident.root_causes[1:3]]
        if others:
            parts.append("Other candidates: " + ", ".join(others) + ".")
    if incident.anomalies:
        first = min(a.onset_ts for a in incident.anomalies)
        active = sum(a.state == "active" for a in incident.anomalies)
        # each distinct (signal, kind) formatted once: a storm's incident has hundreds of
        # symptoms of a few kinds, summarized at every revision
        pairs = {(a.signal, a.kind) for a in incident.anomalies}
        kinds = sorted({f"{signal} {kind}" for signal, kind in pairs})
        shown = ", ".join(kinds[:4]) + (f" and {len(kinds) - 4} more" if len(kinds) > 4 else "")
        parts.append(
            f"{len(incident.anomalies)} anomalies ({active} active) since {_when(first)}: {shown}."
        )
    if incident.impact:
        shown = ", ".join(incident.impact[:5])
        more = f" and {len(incident.impact) - 5} more" if len(incident.impact) > 5 else ""
        parts.append(f"Affected: {shown}{more}.")
    if incident.slos:
        parts.append("Error budget burning: " + ", ".join(incident.slos) + ".")
    return " ".join(parts)


@dataclass(frozen=True)
class SummaryConfig:
    backend: Literal["template", "openai", "transformers"] = "template"
    url: str = ""
    """OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8000/v1``."""
    model: str = ""
    """Model name (``openai``) or local model directory (``transformers``)."""
    api_key: str = ""
    timeout_s: float = 10.0
    max_chars: int = 600


class Summarizer:
    """Summarises incidents with the configured backend, falling back to the template."""

    def __init__(self, cfg: SummaryConfig | None = None) -> None:
        self.cfg = cfg or SummaryConfig()
        self.failures = 0
        """Generator calls that failed and fell back to the template (for metrics and tests)."""
        self._pipe: Callable[..., Any] | None = None

    @property
    def generative(self) -> bool:
        return self.cfg.backend != "template"

    def summarize(self, incident: Incident) -> str:
        """The summary of ``incident``; blocking when a generator is configured."""
        facts = template_summary(incident)
        if not self.generative:
            return facts
        try:
            text = self._generate(facts).strip()
        except Exception:  # any backend failure: the template still says it all
            text = ""
        if not text:
            self.failures += 1
            return facts
        return text[: self.cfg.max_chars]

    def _generate(self, facts: str) -> str:
        if self.cfg.backend == "openai":
            return self._openai(facts)
        return self._transformers(facts)

    def _openai(self, facts: str) -> str:
        body = {
            "model": self.cfg.model or "default",
            "messages": [
                {"role": "system", "content": _PROMPT},
                {"role": "user", "content": facts},
            ],
            "temperature": 0,
            "max_tokens": 200,
        }
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key:
            headers["Authorization"] = f"Bearer {self.cfg.api_key}"
        req = urllib.request.Request(
            self.cfg.url.rstrip("/") + "/chat/completions",
            data=json.dumps(body).encode(),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
            answer = json.loads(resp.read())
        return str(answer["choices"][0]["message"]["content"])

    def _transformers(self, facts: str) -> str:
        if self._pipe is None:
            from transformers import pipeline  # optional, heavy: loaded on first use

            self._pipe = pipeline(
                "text-generation", model=self.cfg.model, model_kwargs={"local_files_only": True}
            )
        prompt = f"{_PROMPT}\n\nFacts: {facts}\n\nSummary:"
        out = self._pipe(prompt, max_new_tokens=120, do_sample=False, return_full_text=False)
        return str(out[0]["generated_text"])
