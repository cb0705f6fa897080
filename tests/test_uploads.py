"""Files dropped in the chat: each gets its own line, good ones are indexed for that user
only, bad ones say why and change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j.exceptions import ServiceUnavailable

import knowledge.graph_store
import knowledge.ingest
from core.settings import Settings
from knowledge.graph_store import GraphStoreError
from tests.test_graph_load import RecordingGraph
from ui.uploads import ingest_files


@dataclass
class Dropped:
    """What Chainlit hands over for an uploaded file: a name and a path on disk."""

    name: str
    path: str


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"data_dir": tmp_path / "data"})


def drop(tmp_path: Path, name: str, content: bytes) -> Dropped:
    path = tmp_path / name
    path.write_bytes(content)
    return Dropped(name, str(path))


def test_good_and_bad_files_each_get_their_own_answer(settings, tmp_path):
    good = drop(tmp_path, "heron.md", b"# Heron\n\n## Codename\n\nThe codename is BLUEBIRD-7.\n")
    empty = drop(tmp_path, "empty.txt", b"")
    binary = drop(tmp_path, "blob.pdf", b"\x00\x01 not a pdf")
    reply = ingest_files(settings, "ada", [good, empty, binary]).splitlines()
    assert reply[0].startswith("✅ **heron.md**: 1 chunks added")
    assert reply[1].startswith("⚠️ **empty.txt**") and "Nothing already indexed" in reply[1]
    assert reply[2].startswith("⚠️ **blob.pdf**")
    # The good file went into ada's collection only.
    from tools.rag import retrieve

    hits = retrieve(settings, "codename of Heron", ["user-ada"], k=1)
    assert "BLUEBIRD-7" in hits[0]["text"]
    assert retrieve(settings, "codename of Heron", ["user-bob"], k=1) == []


def test_malformed_article_csv_names_the_row_and_loads_nothing(settings, tmp_path):
    header = b"Title;Abstract;Topic;Subtopic;Authors;Publication_Date\n"
    bad = drop(tmp_path, "articles.csv", header + b"A title;An abstract;NLP;RAG;Ada;not-a-date\n")
    reply = ingest_files(settings, "ada", [bad])
    assert reply.startswith("⚠️ **articles.csv**")
    assert "row" in reply.lower() and "date" in reply.lower()
    assert not (settings.data_dir / "graph").exists()  # no server was even started


HEADER = b"Title;Abstract;Topic;Subtopic;Authors;Publication_Date\n"
HERON = b"# Heron\n\nThe codename is BLUEBIRD-7.\n"


def test_a_csv_field_over_the_size_limit_does_not_stop_the_next_file(settings, tmp_path):
    huge = drop(tmp_path, "big.csv", HEADER + b'T;"' + b"a" * 200_000 + b'";T;S;Ann;2021-01-01\n')
    good = drop(tmp_path, "heron.md", HERON)
    reply = ingest_files(settings, "ada", [huge, good]).splitlines()
    assert len(reply) == 2
    assert reply[0].startswith("⚠️ **big.csv**") and "row 2" in reply[0]
    assert reply[1].startswith("✅ **heron.md**")


@pytest.mark.parametrize(
    "error",
    [
        GraphStoreError("The embedded graph database did not start. Server log:\n..."),
        ServiceUnavailable("Couldn't connect to 127.0.0.1:7687"),
    ],
)
def test_a_graph_failure_is_one_clear_line(settings, tmp_path, monkeypatch, error):
    def broken(settings):
        raise error

    monkeypatch.setattr(knowledge.graph_store, "shared_store", broken)
    csv = drop(tmp_path, "articles.csv", HEADER + b"A title;An abstract;NLP;RAG;Ada;2024-01-01\n")
    good = drop(tmp_path, "heron.md", HERON)
    reply = ingest_files(settings, "ada", [csv, good]).splitlines()
    assert len(reply) == 2
    assert reply[0].startswith("⚠️ **articles.csv**")
    assert "article graph" in reply[0] and type(error).__name__ in reply[0]
    assert "Server log" not in reply[0]  # the details go to the log, not the chat
    assert reply[1].startswith("✅ **heron.md**")


def test_an_unexpected_error_shows_no_traceback_and_spares_the_others(
    settings, tmp_path, monkeypatch
):
    real = knowledge.ingest.ingest_upload

    def flaky(settings, user_id, path, filename):
        if filename == "first.md":
            raise RuntimeError("faiss exploded at index.cpp:42")
        return real(settings, user_id, path, filename)

    monkeypatch.setattr(knowledge.ingest, "ingest_upload", flaky)
    files = [drop(tmp_path, "first.md", HERON), drop(tmp_path, "second.md", HERON)]
    reply = ingest_files(settings, "ada", files).splitlines()
    assert len(reply) == 2
    assert reply[0].startswith("⚠️ **first.md**") and "RuntimeError" in reply[0]
    assert "index.cpp" not in reply[0] and "Traceback" not in reply[0]
    assert reply[1].startswith("✅ **second.md**")


def test_a_text_file_without_an_extension_is_indexed(settings, tmp_path):
    licence = drop(tmp_path, "LICENSE", b"MIT License\n\nPermission is hereby granted...\n")
    assert ingest_files(settings, "ada", [licence]).startswith("✅ **LICENSE**: 1 chunks added")


def test_articles_already_in_the_graph_are_reported_as_kept(settings, tmp_path, monkeypatch):
    graph = RecordingGraph({"Old title"})
    monkeypatch.setattr(knowledge.graph_store, "shared_store", lambda settings: graph)
    rows = b"Old title;Rewritten;NLP;RAG;Ada;2024-01-01\nNew title;New;NLP;RAG;Ada;2024-01-02\n"
    reply = ingest_files(settings, "ada", [drop(tmp_path, "articles.csv", HEADER + rows)])
    assert reply.startswith("✅ **articles.csv**: 1 new article added")
    assert "1 kept, already in the graph" in reply and "Old title" in reply
