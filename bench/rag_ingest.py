"""Ingestion throughput: the whole pipeline against bare sentence-transformers encoding.

The pipeline (`knowledge.ingest.index_files`: read, split, embed, FAISS add, atomic save)
runs into a fresh collection each time; the baseline is `model.encode` on exactly the same
chunk texts with the same batch size. Runs alternate so machine load hits both alike; the
model is loaded and warmed before timing. The ratio is pipeline chunks/s over bare chunks/s
(1.0 means the pipeline adds nothing on top of the model).

    python bench/rag_ingest.py [--repeats 3] [PATH...]   (default: the shipped corpus)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from core.settings import Settings
from knowledge.embeddings import embedder
from knowledge.ingest import collect_files, corpus_dir, index_files, load_document, split_document


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.from_env()
    files = collect_files(args.paths or [corpus_dir(settings)])
    texts = [
        c.text
        for f in files
        for c in split_document(
            load_document(f.data, f.source), f.source, settings.chunk_size, settings.chunk_overlap
        )
    ]
    model = embedder(settings)
    torch.set_num_threads(settings.torch_threads)
    model.encode(texts[:32], batch_size=32)  # warm-up

    pipeline, bare = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            results = index_files(settings.with_(data_dir=Path(tmp)), "bench", files)
            pipeline.append(time.perf_counter() - start)
        assert sum(r.chunks for r in results) == len(texts)
        start = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        bare.append(time.perf_counter() - start)

    n = len(texts)
    p, b = statistics.median(pipeline), statistics.median(bare)
    print(
        f"{len(files)} files, {n} chunks, median of {args.repeats} alternating runs, "
        f"{settings.torch_threads} torch thread(s)\n"
    )
    print("| step                          | seconds | chunks/s |")
    print("|-------------------------------|---------|----------|")
    print(f"| bare model.encode             | {b:7.2f} | {n / b:8.1f} |")
    print(f"| index_files (whole pipeline)  | {p:7.2f} | {n / p:8.1f} |")
    print(f"\nratio pipeline / bare: {b / p:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
