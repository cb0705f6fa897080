"""Document RAG lesson: search the course notes and the learner's own files, answer with citations.

The pipeline is the lesson's: a follow-up question (one that points back, see
`knowledge.references`) is searched together with the previous search's query (shown to
the learner, since it is half the trick of conversational RAG; the agent passes that query
back from this tool's artifact, `follow_up`), the query is embedded with all-MiniLM-L6-v2,
the shared corpus and the user's own
collection are searched with FAISS and merged by cosine score, and the model gets numbered
passages to cite as [1], [2]. The artifact carries the passages so the UI can show only the
ones the answer actually cited (`tools.artifacts.cited_passages`).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolArg, StructuredTool

from core.errors import ToolInputError
from knowledge.embeddings import embed
from knowledge.ingest import collect_files, index_files, sync_corpus
from knowledge.stores import read_store
from knowledge.vectorstore import CORPUS, joined, section_window, user_collection
from tools import artifacts
from tools.artifacts import cited_passages as cited_passages  # still imported from here

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from core.settings import Settings
    from knowledge.vectorstore import Chunk, VectorStore
    from tools import ToolContext

TOOL_NAME = "search_documents"
LESSON = {
    "title": "Document RAG",
    "shows": "the passages of the course documents (or your uploaded files) retrieved for a "
    "question, with their scores, and an answer that cites them by number",
    "example": "Using the course documents, what is the difference between static and "
    "dynamic quantization?",
}
# `genai101 chat` runs as this user (see agent.runner.chat_once), so files added with
# `genai101 ingest` are the ones it can search.
CLI_USER = "cli"
MAX_QUERY_CHARS = 400  # a follow-up's query: the previous one and the question, newest kept

# How to answer the passages, given to the model after them and the question. The 1.5B
# model described the passages ("The search documents returned 2 results. The first link is
# [1], which discusses ...") instead of answering from them.
ANSWER_NOTE = (
    "Answer this question itself in one or two sentences with what the passages say about "
    "it (the number, name or term asked for), citing the passage's number, like [1]. Do not "
    "list or describe the passages. If they do not answer the question, say so."
)


def retrieve(settings: Settings, query: str, collections: list[str], k: int) -> list[dict]:
    """The `k` best chunks over all `collections`, merged by cosine score and numbered."""
    return [
        _passage(n, score, collection, [chunk], chunk)
        for n, (score, collection, chunk, _) in enumerate(_hits(settings, query, collections, k), 1)
    ]


def read_passages(settings: Settings, query: str, collections: list[str], k: int) -> list[dict]:
    """What the model reads: the best hits among 2k chunks, each widened to its section
    window (`section_window`, at most `rag_passage_chars`), a hit inside a window already
    taken dropped, until `k` passages or `rag_context_chars` in all.

    Measured on the 18 document turns with an expected fact in the two conversation sets:
    4 chunks held the fact for 13, these windows for 16, at ~2,000 characters instead of
    ~1,400; the right section is still among them for 81 of 84 retrieval questions
    (83 with 4 chunks). Section windows of 1,000-1,200 characters found no more facts and
    fewer sections (`bench/rag_retrieval.py`, README)."""
    passages: list[dict] = []
    taken: set[tuple[str, str]] = set()
    total = 0
    for score, collection, chunk, store in _hits(settings, query, collections, 2 * k):
        if (collection, chunk.chunk_id) in taken:
            continue
        window = section_window(store.chunks, chunk, settings.rag_passage_chars)
        passage = _passage(len(passages) + 1, score, collection, window, chunk)
        if passages and total + len(passage["text"]) > settings.rag_context_chars:
            break
        taken.update((collection, c.chunk_id) for c in window)
        passages.append(passage)
        total += len(passage["text"])
        if len(passages) == k:
            break
    return passages


def _hits(
    settings: Settings, query: str, collections: list[str], k: int
) -> list[tuple[float, str, Chunk, VectorStore]]:
    query = query.strip()
    if not query:
        raise ToolInputError("The search query is empty: ask about a topic or a document.")
    vector = embed([query], settings)[0]
    hits = []
    for collection in collections:
        store = read_store(settings, collection)
        hits += [(score, collection, chunk, store) for chunk, score in store.search(vector, k)]
    hits.sort(key=lambda h: -h[0])
    return hits[:k]


def _passage(n: int, score: float, collection: str, window: list[Chunk], hit: Chunk) -> dict:
    return {
        "n": n,
        "chunk_id": hit.chunk_id,
        "chunks": [c.chunk_id for c in window],
        "source": hit.source,
        "section": hit.section,
        "path": list(hit.path),
        "score": round(score, 4),
        "collection": collection,
        "span": [window[0].start, window[-1].end],
        "text": joined(window),
    }


def search_collections(settings: Settings, user_id: str) -> list[str]:
    """What a user searches: the shared corpus (built or refreshed here if stale) and their
    own uploads."""
    sync_corpus(settings)
    return [CORPUS, user_collection(user_id)]


def label(passage: dict) -> str:
    return " › ".join(p for p in (passage["source"], passage["section"]) if p)


def format_passages(passages: list[dict]) -> str:
    """The numbered passages as the model reads them (how to answer them is the facts'
    `note`, which the agent puts after the learner's question)."""
    return "\n\n".join(f"[{p['n']}] ({label(p)}) {' '.join(p['text'].split())}" for p in passages)


def follow_up_query(query: str, earlier: dict[str, Any] | None) -> str:
    """What a follow-up to the previous search searches: that search's query, then the
    question ("fraction of tokens BERT masks in pretraining. does it say what happens to
    the ones that get picked?"). The embedding of both finds passages on the earlier topic
    that answer the new question, with no model call. The model's rewrite, which this
    replaced, copied the tool's description in ("search_documents course notes user
    uploaded files") on 2 of 5 follow-ups of a blind conversation set. The newest words
    are kept when a chain of follow-ups grows long."""
    before = str((earlier or {}).get("query") or "").strip()
    return f"{before} {query.strip()}"[-MAX_QUERY_CHARS:].strip() if before else ""


def search_documents(
    settings: Settings, query: str, user_id: str, k: int | None = None, rewritten: str = ""
) -> tuple[str, dict[str, Any]]:
    """The tool's core: (numbered passages for the model, artifact for the UI).

    `rewritten` is the standalone query when the question was a follow-up; it is what gets
    searched, and the artifact shows both so the learner sees the rewrite.
    """
    searched = rewritten or query
    passages = read_passages(
        settings, searched, search_collections(settings, user_id), k or settings.rag_top_k
    )
    parts = []
    if rewritten and rewritten != query:
        parts.append(
            artifacts.markdown(
                f"A follow-up, searched with the previous search's words: **{rewritten}** "
                f"(you asked “{query}”)"
            )
        )
    if not passages:
        text = "No documents are indexed yet: upload a file or run `genai101 ingest`."
        parts.append(artifacts.markdown(text))
        return text, _artifact(parts, passages, query, searched, "no passages")
    parts.append(
        artifacts.table(
            ["#", "score", "source", "section", "chunk"],
            [[p["n"], p["score"], p["source"], p["section"], p["chunk_id"]] for p in passages],
            name="retrieved passages",
        )
    )
    # The UI shows a passage only if the final answer cites its number.
    parts += [
        artifacts.cite(
            artifacts.markdown(
                f"**[{p['n']}] {label(p)}** · score {p['score']:.2f}\n\n{p['text']}"
            ),
            p["n"],
        )
        for p in passages
    ]
    summary = f"{len(passages)} passages for “{searched}”"
    return format_passages(passages), _artifact(parts, passages, query, searched, summary)


def _artifact(
    parts: list[dict], passages: list[dict], query: str, searched: str, summary: str
) -> dict[str, Any]:
    result = artifacts.artifact(TOOL_NAME, parts, summary, passages=passages)
    result.update(query=query, standalone_query=searched, follow_up={"query": searched})
    result["facts"] = artifacts.facts(
        passages=[p["n"] for p in passages],
        note=ANSWER_NOTE if passages else "",
        numbers=artifacts.numbers_in(" ".join([query, searched, *(p["text"] for p in passages)])),
        statement=(
            "The passages found for this question:\n"
            + "\n".join(f"[{p['n']}] ({label(p)}) {_first_sentence(p['text'])}" for p in passages)
            if passages
            else summary
        ),
    )
    return result


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    end = re.search(r"(?<=[.!?])\s", flat[:400])
    return flat[: end.start()] if end else flat[:300]


def warm_up(ctx: ToolContext) -> None:
    """Build the corpus index now rather than during the first question (~20 s)."""
    from knowledge.ingest import sync_corpus

    sync_corpus(ctx.settings)


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    def run(
        query: str,
        config: RunnableConfig,
        earlier: Annotated[dict | None, InjectedToolArg] = None,
    ) -> tuple[str, dict[str, Any]]:
        user_id = (config.get("configurable") or {}).get("user_id", "default")
        rewritten = follow_up_query(query, earlier)
        try:
            return search_documents(ctx.settings, query, user_id, rewritten=rewritten)
        except ToolInputError as exc:
            return str(exc), artifacts.artifact(TOOL_NAME, [artifacts.markdown(str(exc))], str(exc))

    return [
        StructuredTool.from_function(
            run,
            name=TOOL_NAME,
            description=(
                "Search the course notes and the user's uploaded files. Returns numbered "
                "passages to cite as [1]. Use for questions about the lessons (RAG, attention, "
                "prompting, tools, knowledge graphs, fine-tuning, quantization) or the user's "
                "documents."
            ),
            response_format="content_and_artifact",
        )
    ]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    ingest = subparsers.add_parser(
        "ingest", help="index files for document search (no PATH: the shipped corpus)"
    )
    ingest.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--collection",
        help=f"where to add them (default: {user_collection(CLI_USER)}, what `chat` searches)",
    )
    ingest.add_argument("--json", action="store_true")
    ingest.set_defaults(func=_cmd_ingest)

    search = subparsers.add_parser("search", help="search the indexed documents")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=None, help="passages to return (default 4)")
    search.add_argument("--collection", help="search only this collection")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=_cmd_search)


def _cmd_ingest(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    try:
        if not args.paths:
            results, collection = sync_corpus(settings), CORPUS
        else:
            collection = args.collection or user_collection(CLI_USER)
            if collection == CORPUS:
                raise ToolInputError(
                    "The corpus collection mirrors knowledge/corpus: add the file there and run "
                    "`genai101 ingest` without paths, or choose another --collection."
                )
            results = index_files(settings, collection, collect_files(args.paths))
    except ToolInputError as exc:
        print(f"genai101: {exc}")
        return 1
    if args.json:
        rows = [r.__dict__ for r in results]
        print(json.dumps({"collection": collection, "files": rows}, indent=2, ensure_ascii=False))
    else:
        for r in results:
            print(
                f"{r.status:>9}  {r.source}  ({r.chunks} chunks){'  ' + r.error if r.error else ''}"
            )
        if not results:
            print(f"{collection}: up to date")
    return 1 if any(r.status == "error" for r in results) else 0


def _cmd_search(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    try:
        collections = (
            [args.collection] if args.collection else search_collections(settings, CLI_USER)
        )
        if args.collection == CORPUS:
            sync_corpus(settings)
        passages = read_passages(settings, args.query, collections, args.k or settings.rag_top_k)
    except ToolInputError as exc:
        print(f"genai101: {exc}")
        return 1
    if args.json:
        print(json.dumps({"query": args.query, "passages": passages}, indent=2, ensure_ascii=False))
        return 0
    for p in passages:
        text = " ".join(p["text"].split())
        print(f"[{p['n']}] {p['score']:.3f}  {label(p)}  ({p['chunk_id']})\n    {text[:300]}\n")
    if not passages:
        print("No passages: nothing is indexed in these collections.")
    return 0
