"""Retrieval quality over the shipped corpus: recall@1, recall@4 and MRR@10.

Questions come from `bench/data/rag_questions.jsonl` (`{"question", "source", "section"}`);
a question is answered at rank r when the r-th retrieved chunk has the expected source file
and section heading. Besides the shipped pipeline (`tools.rag.retrieve` over the FAISS
corpus index), the same chunks are ranked by alternatives the lesson discusses, so the
choice of retrieval method rests on numbers: plain chunk vectors, vectors of the chunk
with its heading trail, BM25 alone, and BM25 + vectors fused by reciprocal rank (RRF).

    python bench/rag_retrieval.py [--questions PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from core.settings import Settings
from knowledge.embeddings import embed
from knowledge.ingest import (
    collect_files,
    corpus_dir,
    load_document,
    split_document,
    sync_corpus,
)
from knowledge.vectorstore import CORPUS, Chunk
from tools.rag import retrieve

QUESTIONS = Path(__file__).resolve().parent / "data" / "rag_questions.jsonl"
DEPTH = 10  # ranks scored for MRR
RRF_K = 60  # the usual reciprocal-rank-fusion constant


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def dense_rankings(doc_vectors: np.ndarray, query_vectors: np.ndarray) -> list[list[int]]:
    scores = query_vectors @ doc_vectors.T
    return [list(np.argsort(-row)[:DEPTH]) for row in scores]


def bm25_rankings(chunks: list[Chunk], questions: list[str]) -> list[list[int]]:
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokens(c.text) for c in chunks])
    return [list(np.argsort(-bm25.get_scores(tokens(q)))[:DEPTH]) for q in questions]


def rrf(*rankings: list[list[int]]) -> list[list[int]]:
    """Reciprocal rank fusion: each list gives a document 1 / (60 + rank)."""
    fused = []
    for per_query in zip(*rankings, strict=True):
        score: dict[int, float] = {}
        for ranking in per_query:
            for rank, doc in enumerate(ranking, start=1):
                score[doc] = score.get(doc, 0.0) + 1.0 / (RRF_K + rank)
        fused.append(sorted(score, key=lambda d: -score[d])[:DEPTH])
    return fused


def metrics(ranked: list[list[tuple[str, str]]], expected: list[tuple[str, str]]) -> list[float]:
    """recall@1, recall@4, MRR@10 for (source, section) rankings."""
    first = [
        next((r for r, hit in enumerate(ranking, start=1) if hit == want), None)
        for ranking, want in zip(ranked, expected, strict=True)
    ]
    n = len(expected)
    return [
        sum(1 for r in first if r is not None and r <= 1) / n,
        sum(1 for r in first if r is not None and r <= 4) / n,
        sum(1.0 / r for r in first if r is not None) / n,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    if not args.questions.exists():
        print(f"No question set at {args.questions}: nothing to measure.")
        return
    settings = Settings.from_env()
    rows = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows]
    expected = [(r["source"], r["section"]) for r in rows]

    chunks = [
        chunk
        for f in collect_files([corpus_dir(settings)])
        for chunk in split_document(
            load_document(f.data, f.source), f.source, settings.chunk_size, settings.chunk_overlap
        )
    ]
    started = time.perf_counter()
    query_vectors = embed(questions, settings)
    plain = dense_rankings(embed([c.text for c in chunks], settings), query_vectors)
    trail = dense_rankings(
        embed([" › ".join(c.path) + "\n" + c.text for c in chunks], settings), query_vectors
    )
    lexical = bm25_rankings(chunks, questions)
    variants = {
        "vectors: chunk text": plain,
        "vectors: heading trail + text": trail,
        "BM25": lexical,
        "RRF: chunk vectors + BM25": rrf(plain, lexical),
        "RRF: trail vectors + BM25": rrf(trail, lexical),
    }
    table = {
        name: metrics(
            [[(chunks[i].source, chunks[i].section) for i in r] for r in ranking], expected
        )
        for name, ranking in variants.items()
    }
    sync_corpus(settings)
    shipped = [
        [(p["source"], p["section"]) for p in retrieve(settings, q, [CORPUS], DEPTH)]
        for q in questions
    ]
    table["shipped: tools.rag.retrieve (FAISS)"] = metrics(shipped, expected)
    elapsed = time.perf_counter() - started

    print(
        f"{len(questions)} questions, {len(chunks)} chunks ({settings.chunk_size}/"
        f"{settings.chunk_overlap}), all-MiniLM-L6-v2, {elapsed:.0f} s\n"
    )
    print(f"| {'method':<38} | recall@1 | recall@4 | MRR@10 |")
    print(f"|{'-' * 40}|----------|----------|--------|")
    for name, (r1, r4, mrr) in table.items():
        print(f"| {name:<38} | {r1:8.3f} | {r4:8.3f} | {mrr:6.3f} |")


if __name__ == "__main__":
    main()
