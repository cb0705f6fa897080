"""Files dropped in the chat: each gets its own line, good ones are indexed for that user
only, bad ones say why and change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.settings import Settings
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
