"""FAISS query latency: exact `IndexFlatIP` (what the app uses) against approximate HNSW.

Sizes: the real corpus index (its own vectors), then 10k and 100k synthetic unit vectors
scattered around the real ones (clustered by topic like real chunk embeddings, unlike
uniform random vectors, where no index can find meaningful neighbours). Queries are stored
vectors plus a little noise; one query at a time with k=4 and one thread, as a chat turn.
HNSW's answers are compared with the exact flat ones (same best hit; share of the top 4
found): speed that loses neighbours is not free. Synthetic neighbours 2-4 are near-ties,
so recall@4 is a harsh measure there.

    python bench/faiss_latency.py [--queries 200] [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from core.settings import Settings
from knowledge.embeddings import EMBEDDING_DIM
from knowledge.ingest import sync_corpus
from knowledge.stores import read_store
from knowledge.vectorstore import CORPUS

K = 4
HNSW_M = 16
HNSW_EF_SEARCH = 64
SPREAD = 0.04  # per-dimension noise around a real vector: cosine ~0.8 to its centre
QUERY_NOISE = 0.01


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def timed_search(index, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    times, ids = [], []
    for q in queries:
        start = time.perf_counter()
        _, found = index.search(q[None, :], K)
        times.append((time.perf_counter() - start) * 1000)
        ids.append(found[0])
    return times, np.array(ids)


def measure(name: str, vectors: np.ndarray, queries: np.ndarray) -> list[list[str]]:
    import faiss

    rows = []
    flat = faiss.IndexFlatIP(EMBEDDING_DIM)
    start = time.perf_counter()
    flat.add(vectors)
    build = time.perf_counter() - start
    times, exact = timed_search(flat, queries)
    rows.append([name, "IndexFlatIP", build, np.median(times), np.percentile(times, 95), 1.0, 1.0])

    hnsw = faiss.IndexHNSWFlat(EMBEDDING_DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    start = time.perf_counter()
    hnsw.add(vectors)
    build = time.perf_counter() - start
    times, found = timed_search(hnsw, queries)
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(exact, found, strict=True)])
    top1 = np.mean(exact[:, 0] == found[:, 0])
    label = f"HNSW M={HNSW_M} ef={HNSW_EF_SEARCH}"
    rows.append([name, label, build, np.median(times), np.percentile(times, 95), top1, recall])
    return rows


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    settings = Settings.from_env()
    faiss.omp_set_num_threads(settings.torch_threads)
    rng = np.random.default_rng(0)

    sync_corpus(settings)
    store = read_store(settings, CORPUS)
    sets = [(f"corpus ({len(store)})", store.index.reconstruct_n(0, len(store)))]
    sets += [
        (f"synthetic {n:,}", unit(rng.standard_normal((n, EMBEDDING_DIM)))) for n in args.sizes
    ]

    rows = []
    for name, vectors in sets:
        picks = vectors[rng.integers(0, len(vectors), args.queries)]
        queries = unit(picks + QUERY_NOISE * noise(rng, picks.shape))
        rows += measure(name, vectors, queries)

    print(f"k={K}, {args.queries} single queries, {settings.torch_threads} thread(s)\n")
    print(f"| {'vectors':<18} | {'index':<18} | build s | median ms | p95 ms | top-1 | recall@4 |")
    print(f"|{'-' * 20}|{'-' * 20}|---------|-----------|--------|-------|----------|")
    for name, index, build, median, p95, top1, recall in rows:
        print(
            f"| {name:<18} | {index:<18} | {build:7.2f} | {median:9.3f} | {p95:6.3f} | "
            f"{top1:5.3f} | {recall:8.3f} |"
        )


if __name__ == "__main__":
    main()
