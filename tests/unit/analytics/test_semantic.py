"""Semantic classification with the real all-MiniLM-L6-v2 weights, loaded offline."""

from __future__ import annotations

import pytest

from netvigil.analytics.semantic import (
    IncidentIndex,
    MiniLMEmbedder,
    TemplateClassifier,
)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.mark.parametrize(
    ("template", "category"),
    [
        ("%LINK-3-UPDOWN: Interface <IF>, changed state to down", "link"),
        ("%BGP-5-ADJCHANGE: neighbor <IP> Down BGP Notification sent", "routing_protocol"),
        ("Failed password for invalid user <*> from <IP> port <*> ssh2", "authentication"),
        ("%SYS-5-CONFIG_I: Configured from console by admin on vty0", "configuration_change"),
        ("%ENVMON-4-TEMP: Temperature sensor 2 exceeded warning threshold", "environment"),
        ("%PLATFORM-2-PS_FAIL: Power supply 1 failed", "hardware"),
    ],
)
def test_classifies_network_templates(
    embedder: MiniLMEmbedder, template: str, category: str
) -> None:
    assert TemplateClassifier(embedder).classify(template)[0] == category


def test_embeddings_are_cached_per_template(embedder: MiniLMEmbedder) -> None:
    c = TemplateClassifier(embedder)
    for _ in range(5):
        c.classify("%LINK-3-UPDOWN: Interface <IF>, changed state to up")
    assert c.model_calls == 1


def test_similar_incidents_come_back_first(embedder: MiniLMEmbedder) -> None:
    idx = IncidentIndex(embedder)
    idx.add("INC1", "link core1--edge1 down: interface changed state to down")
    idx.add("INC2", "BGP session to neighbor flapped, routing protocol adjacency lost")
    idx.add("INC3", "power supply failure on linecard")
    assert idx.similar("interface Gi0/1 went down, link lost", k=1)[0][0] == "INC1"
