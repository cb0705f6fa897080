"""Document RAG with the real all-MiniLM-L6-v2 embedder on a tiny corpus: incremental
re-ingest, persistence, per-user collections, uploads, the CLI and the tool end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

import knowledge.ingest
import knowledge.vectorstore
from agent.cli import main as cli_main
from agent.state import State
from core.errors import ToolInputError
from core.settings import Settings
from knowledge.embeddings import EMBEDDING_DIM
from knowledge.ingest import SourceFile, index_files, ingest_upload, sync_corpus
from knowledge.stores import read_store
from knowledge.vectorstore import CORPUS, VectorStore, store_path, user_collection
from tests.fakes import ScriptedChatModel, tool_call
from tests.test_rag import ZIP, make_pdf
from tools import ToolContext
from tools.rag import TOOL_NAME, make_tools, read_passages, retrieve, search_collections

ATTENTION = """# Attention

## Scaled dot-product

Attention compares each query with every key, scales by the square root of the key size,
applies a softmax and averages the values with those weights.

## Multi-head attention

Several heads attend in parallel, each with its own projections, and their outputs are
concatenated.
"""

QUANTIZATION = """# Quantization

## Scale and zero point

An affine quantizer maps a real number x to an integer q = round(x / S) + Z, where S is
the scale and Z the zero point.
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "attention.md").write_text(ATTENTION)
    (corpus / "quantization.md").write_text(QUANTIZATION)
    return Settings.from_env(
        {"data_dir": tmp_path / "data", "rag_corpus_dir": str(corpus), "provider": "local"}
    )


@pytest.fixture
def embed_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The texts of every embedding batch made by ingestion (the real model still runs)."""
    calls: list[list[str]] = []
    real = knowledge.ingest.embed

    def counting(texts, settings=None):
        calls.append(list(texts))
        return real(texts, settings)

    monkeypatch.setattr(knowledge.ingest, "embed", counting)
    return calls


def top(settings: Settings, query: str, collections: list[str]) -> dict:
    return retrieve(settings, query, collections, 1)[0]


def test_corpus_is_built_on_first_use_and_only_changes_are_reembedded(
    settings: Settings, embed_calls: list[list[str]]
) -> None:
    first = sync_corpus(settings)
    assert {(r.source, r.status) for r in first} == {
        ("attention.md", "added"),
        ("quantization.md", "added"),
    }
    assert len(embed_calls) == 1
    assert sync_corpus(settings) == []  # nothing changed: no lock, no embedding
    assert len(embed_calls) == 1

    corpus = Path(settings.rag_corpus_dir)
    (corpus / "quantization.md").write_text(QUANTIZATION.replace("zero point", "offset"))
    results = {r.source: r.status for r in sync_corpus(settings)}
    assert results == {"attention.md": "unchanged", "quantization.md": "updated"}
    assert all("Attention" not in t for t in embed_calls[-1])  # only the changed file
    store = read_store(settings, CORPUS)
    assert not any("zero point" in c.text for c in store.chunks)  # old chunks replaced
    assert any("offset" in c.text for c in store.chunks)
    assert len(store) == store.index.ntotal

    (corpus / "attention.md").unlink()
    results = {r.source: r.status for r in sync_corpus(settings)}
    assert results == {"quantization.md": "unchanged", "attention.md": "removed"}
    assert {c.source for c in read_store(settings, CORPUS).chunks} == {"quantization.md"}


def test_index_persists_across_reloads(settings: Settings) -> None:
    sync_corpus(settings)
    before = retrieve(settings, "how do several heads work?", [CORPUS], 2)

    reloaded = VectorStore.load(store_path(settings, CORPUS))
    assert [c.chunk_id for c in reloaded.chunks] == [
        c.chunk_id for c in read_store(settings, CORPUS).chunks
    ]
    knowledge.vectorstore._read_cached.cache_clear()  # as after a restart
    after = retrieve(settings, "how do several heads work?", [CORPUS], 2)
    assert after == before
    assert before[0]["section"] == "Multi-head attention"
    assert before[0]["path"] == ["Attention", "Multi-head attention"]


def test_uploads_go_to_the_users_own_collection(settings: Settings, tmp_path: Path) -> None:
    notes = tmp_path / "upload.tmp"
    notes.write_text("# Notes\n\nThe secret project codename is Bluebird.\n")
    result = ingest_upload(settings, "alice", notes, "my notes.md")

    assert result["chunks"] == 1 and result["status"] == "added"
    assert result["collection"] == user_collection("alice")
    query = "what is the project codename?"
    alice = top(settings, query, search_collections(settings, "alice"))
    assert alice["source"] == "my notes.md" and alice["collection"] == "user-alice"
    bob = retrieve(settings, query, search_collections(settings, "bob"), 4)
    assert all(p["collection"] == CORPUS for p in bob)

    notes.write_text("# Notes\n\nThe codename changed to Kestrel.\n")
    assert ingest_upload(settings, "alice", notes, "my notes.md")["status"] == "updated"
    texts = [c.text for c in read_store(settings, "user-alice").chunks]
    assert len(texts) == 1 and "Kestrel" in texts[0]


def test_pdf_upload_is_indexed(settings: Settings, tmp_path: Path) -> None:
    pdf = tmp_path / "upload.tmp"
    pdf.write_bytes(make_pdf(["Dynamic padding pads each batch to its longest sequence."]))
    assert ingest_upload(settings, "carol", pdf, "padding.pdf")["chunks"] == 1
    hit = top(settings, "what does dynamic padding do?", ["user-carol"])
    assert (hit["source"], hit["section"]) == ("padding.pdf", "page 1")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.md", "empty"),
        (b"\x00\x01\x02binary", "blob.txt", "binary"),
        (ZIP, "deck.pptx", "unsupported"),
        (b"%PDF-1.7\n\x00\x00 broken beyond repair", "broken.pdf", "PDF"),
        (b"x" * (1024 * 1024 + 1), "huge.txt", "upload limit is 1 MB"),
    ],
)
def test_bad_uploads_leave_the_collection_untouched(
    settings: Settings, tmp_path: Path, data: bytes, name: str, message: str
) -> None:
    settings = settings.with_(upload_max_mb=1)
    good = tmp_path / "good.tmp"
    good.write_text("Cats sleep sixteen hours a day.")
    ingest_upload(settings, "dave", good, "cats.txt")
    saved = store_path(settings, "user-dave").read_bytes()

    bad = tmp_path / "bad.tmp"
    bad.write_bytes(data)
    with pytest.raises(ToolInputError, match=message):
        ingest_upload(settings, "dave", bad, name)
    assert store_path(settings, "user-dave").read_bytes() == saved


def test_a_bad_file_in_a_batch_does_not_block_the_others(settings: Settings) -> None:
    results = index_files(
        settings,
        "mixed",
        [SourceFile("bad.md", b"", "x"), SourceFile("good.md", b"Fine text.", "y")],
    )
    assert [(r.source, r.status) for r in results] == [("bad.md", "error"), ("good.md", "added")]
    assert [c.source for c in read_store(settings, "mixed").chunks] == ["good.md"]


def test_a_document_over_the_chunk_cap_is_refused_before_embedding(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[int] = []

    def unit_vectors(texts, settings=None):
        embedded.append(len(texts))
        return np.eye(len(texts), EMBEDDING_DIM, dtype=np.float32)

    monkeypatch.setattr(knowledge.ingest, "embed", unit_vectors)
    one_line = b"word " * 200_000  # 1 MB on one line: about 2,500 chunks of 500 characters
    results = index_files(
        settings,
        "user-frank",
        [SourceFile("dump.txt", one_line, "upload"), SourceFile("ok.txt", b"Fine text.", "u")],
    )
    assert [(r.source, r.status) for r in results] == [("dump.txt", "error"), ("ok.txt", "added")]
    assert "2,000 chunks" in results[0].error and "split it" in results[0].error
    assert embedded == [1]  # only the small file was embedded
    assert [c.source for c in read_store(settings, "user-frank").chunks] == ["ok.txt"]


def test_cli_ingest_and_search(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GENAI101_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GENAI101_RAG_CORPUS_DIR", settings.rag_corpus_dir)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "faiss.md").write_text("# FAISS\n\nIndexFlatIP is an exact inner-product index.\n")

    assert cli_main(["ingest", str(folder), "--json"]) == 0
    ingested = json.loads(capsys.readouterr().out)
    assert ingested["collection"] == "user-cli"
    assert ingested["files"][0]["status"] == "added"

    assert cli_main(["search", "exact inner product index", "-k", "2", "--json"]) == 0
    passages = json.loads(capsys.readouterr().out)["passages"]
    assert passages[0]["source"] == "faiss.md" and len(passages) == 2

    assert cli_main(["search", "softmax over keys", "--collection", CORPUS]) == 0
    assert "attention.md › Scaled dot-product" in capsys.readouterr().out
    assert cli_main(["ingest", str(folder / "missing.md")]) == 1


def tool_graph(settings: Settings, model: ScriptedChatModel):
    (tool,) = make_tools(ToolContext(settings, lambda: model))
    builder = StateGraph(State)
    builder.add_node("tools", ToolNode([tool]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile()


def test_tool_searches_a_follow_up_with_the_previous_query(settings: Settings) -> None:
    """The agent passes the previous search back (`earlier`, from the artifact's
    `follow_up`); the tool searches both, with no model call, and says so."""
    model = ScriptedChatModel(script=[])
    (tool,) = make_tools(ToolContext(settings, lambda: model))
    earlier = {"query": "What is affine quantization with a scale?"}
    message = tool.invoke(
        {"type": "tool_call", "id": "1", "name": TOOL_NAME,
         "args": {"query": "and the zero point?", "earlier": earlier}},
        {"configurable": {"user_id": "erin"}},
    )  # fmt: skip

    assert isinstance(message, ToolMessage) and model.calls == []
    assert message.content.startswith("[1] (quantization.md › Scale and zero point)")
    artifact = message.artifact
    assert artifact["tool"] == TOOL_NAME
    searched = "What is affine quantization with a scale? and the zero point?"
    assert artifact["standalone_query"] == searched and artifact["query"] == "and the zero point?"
    assert artifact["follow_up"] == {"query": searched}
    assert "searched with the previous search's words" in artifact["parts"][0]["content"]
    passage_parts = [p for p in artifact["parts"] if "cite" in p]
    assert [p["cite"] for p in passage_parts] == [p["n"] for p in artifact["passages"]]
    assert artifact["passages"][0]["chunk_id"] == "quantization.md#0"


def test_tool_first_question_is_not_rewritten(settings: Settings) -> None:
    model = ScriptedChatModel(script=[])
    messages = [HumanMessage("softmax?"), tool_call(TOOL_NAME, {"query": "softmax"})]
    state = tool_graph(settings, model).invoke({"messages": messages}, {"configurable": {}})
    artifact = state["messages"][-1].artifact
    assert model.calls == []
    assert artifact["standalone_query"] == "softmax"
    assert artifact["passages"][0]["section"] == "Scaled dot-product"


def test_the_model_reads_a_hit_with_its_neighbours_and_each_window_once(
    tmp_path: Path,
) -> None:
    """The fact sits in the chunk after the one that matches the question's words: the
    passage read is the window, so the fact is in it (it was not with chunks alone)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = " ".join(["plain words about other matters"] * 12)
    (corpus / "linking.md").write_text(
        "# Linking\n\n## Which entity types are kept for linking\n\n"
        "Entity linking connects a mention to one article; only some types are kept.\n\n"
        f"{filler}\n\nThe kept types number eleven, and dates and money are dropped.\n"
    )
    settings = Settings.from_env(
        {
            "data_dir": tmp_path / "data",
            "rag_corpus_dir": str(corpus),
            "chunk_size": 200,
            "chunk_overlap": 0,
        }
    )
    question = "which entity types are kept for linking?"
    collections = search_collections(settings, "ada")
    assert "eleven" not in retrieve(settings, question, collections, 1)[0]["text"]

    passages = read_passages(settings, question, collections, 4)
    assert "eleven" in passages[0]["text"] and "kept for linking" in passages[0]["text"]
    assert len(passages[0]["chunks"]) > 1
    ids = [i for p in passages for i in p["chunks"]]
    assert len(ids) == len(set(ids))  # a hit inside a window already read is not read again
    assert sum(len(p["text"]) for p in passages) <= settings.rag_context_chars
