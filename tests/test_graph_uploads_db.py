"""CSV uploads against a real embedded ArcadeDB: the graph is shared by every user, so an
upload may add articles but never change one that is already there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from knowledge.graph_load import load_csv_upload
from knowledge.graph_store import shared_store
from tests.conftest import free_port

pytestmark = pytest.mark.slow

HEADER = "Title;Abstract;Topic;Subtopic;Authors;Publication_Date"
ARTICLE = (
    "MATCH (a:Article {title: $title}) "
    "OPTIONAL MATCH (r:Researcher)-[:PUBLISHED]->(a) "
    "OPTIONAL MATCH (a)-[:IN_TOPIC]->(t:Topic) "
    "RETURN a.abstract, a.date, collect(DISTINCT r.name), collect(DISTINCT t.name)"
)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        data_dir=tmp_path / "data", graph_bolt_port=free_port(), graph_http_port=free_port()
    )
    yield settings
    shared_store(settings).close()


def upload(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_another_users_upload_cannot_change_an_existing_article(
    settings: Settings, tmp_path: Path
) -> None:
    first = upload(tmp_path, "ada.csv", "Graph RAG;The original abstract.;NLP;RAG;Ada;2023-05-01")
    assert load_csv_upload(settings, first)["added"] == 1

    second = upload(
        tmp_path,
        "mallory.csv",
        "Graph RAG;Rewritten by someone else.;Spam;Ads;Mallory;1999-01-01",
        "Vector Search;A new article.;NLP;Retrieval;Bo Chen;2024-02-02",
    )
    result = load_csv_upload(settings, second)

    assert (result["added"], result["kept"]) == (1, ["Graph RAG"])
    store = shared_store(settings)
    assert store.read(ARTICLE, {"title": "Graph RAG"}).rows == [
        ["The original abstract.", "2023-05-01", ["Ada"], ["NLP"]]
    ]
    assert store.read(ARTICLE, {"title": "Vector Search"}).rows == [
        ["A new article.", "2024-02-02", ["Bo Chen"], ["NLP"]]
    ]
    assert result["graph"]["Researcher"] == 2  # Mallory came only with the kept row
