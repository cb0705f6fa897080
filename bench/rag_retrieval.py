"""Retrieval quality over the shipped corpus: recall@1, recall@4 and MRR@10.

Questions come from `bench/data/rag_questions.jsonl` (`{"question", "source", "section"}`);
a question is answered at rank r when the r-th retrieved chunk has the expected source file
and section heading. Besides the shipped pipeline (`tools.rag.retrieve` over the FAISS
corpus index), the same chunks are ranked by alternatives the lesson discusses, so the
choice of retrieval method rests on numbers: plain chunk vectors, vectors of the chunk
with its heading trail, BM25 alone, and BM25 + vectors fused by reciprocal rank (RRF).

A second table compares what the model reads: the 4 best chunks against the shipped section
windows (`tools.rag.read_passages`), by whether the expected section is among them, whether
the expected fact of each document turn of the conversation sets is in their text (a
follow-up searched as the agent searches it), and their length. It is saved to
`bench/results/rag-passages.json`.

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
from knowledge.references import refers_back
from knowledge.vectorstore import CORPUS, Chunk
from tools.rag import follow_up_query, read_passages, retrieve

DATA = Path(__file__).resolve().parent / "data"
QUESTIONS = DATA / "rag_questions.jsonl"
CONVERSATIONS = [DATA / "conversations.jsonl", DATA / "conversations_heldout2.jsonl"]
RESULTS = Path(__file__).resolve().parent / "results" / "rag-passages.json"
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


def fact_turns(paths: list[Path]) -> list[tuple[str, list[str]]]:
    """(query as searched, expected strings) for each document turn with an expectation."""
    turns = []
    for path in paths:
        for line in path.read_text().splitlines():
            previous = ""
            for turn in json.loads(line)["turns"] if line.strip() else []:
                if turn["tool"] != "search_documents":
                    previous = ""
                    continue
                query = turn["user"]
                if previous and refers_back(query):
                    query = follow_up_query(query, {"query": previous})
                previous = query
                if turn["expect"]:
                    turns.append((query, turn["expect"]))
    return turns


def passages_table(
    settings: Settings, questions: list[str], expected: list[tuple[str, str]]
) -> dict[str, dict[str, float]]:
    facts = fact_turns([p for p in CONVERSATIONS if p.exists()])
    readers = {
        "4 chunks (tools.rag.retrieve)": lambda q: retrieve(settings, q, [CORPUS], 4),
        "section windows (read_passages)": lambda q: read_passages(
            settings, q, [CORPUS], settings.rag_top_k
        ),
    }
    table = {}
    for name, read in readers.items():
        found = [read(q) for q, _ in facts]
        texts = [" ".join(p["text"] for p in ps).lower() for ps in found]
        table[name] = {
            "section found": sum(
                want in {(p["source"], p["section"]) for p in read(q)}
                for q, want in zip(questions, expected, strict=True)
            )
            / len(questions),
            "fact found": sum(
                all(e.lower() in t for e in exp) for t, (_, exp) in zip(texts, facts, strict=True)
            ),
            "fact turns": len(facts),
            "mean characters": sum(map(len, texts)) / max(len(texts), 1),
            "mean passages": sum(map(len, found)) / max(len(found), 1),
        }
    return table


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

    reads = passages_table(settings, questions, expected)
    print(f"\n| {'what the model reads':<33} | section | facts | characters | passages |")
    print(f"|{'-' * 35}|---------|-------|------------|----------|")
    for name, r in reads.items():
        print(
            f"| {name:<33} | {r['section found']:7.3f} | {r['fact found']:>2}/{r['fact turns']:<2} "
            f"| {r['mean characters']:10.0f} | {r['mean passages']:8.1f} |"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "settings": {
                    "chunk_size": settings.chunk_size,
                    "chunk_overlap": settings.chunk_overlap,
                    "rag_top_k": settings.rag_top_k,
                    "rag_passage_chars": settings.rag_passage_chars,
                    "rag_context_chars": settings.rag_context_chars,
                },
                "questions": len(questions),
                "rankings": table,
                "passages": reads,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
