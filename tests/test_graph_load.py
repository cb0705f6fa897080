"""CSV validation for the graph loader, and what a load sends to the graph: pure, no
database (a recording stand-in for the store; tests/test_graph_uploads_db.py uses the real
one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import ToolInputError
from core.settings import Settings
from knowledge.graph_load import DATASET, load_articles, parse_articles
from knowledge.graph_store import ReadResult

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed-articles"
HEADER = "Title;Abstract;Topic;Subtopic;Authors;Publication_Date"
GOOD = "A Title;An abstract.;Topic A;Sub A;Ann Lee, Bo Chen;2023-05-01"


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "articles.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_project_dataset_meets_the_brief() -> None:
    rows = parse_articles(DATASET)
    authors = {a for r in rows for a in r.authors}
    assert len(rows) >= 60
    assert len(authors) >= 25
    assert len({r.topic for r in rows}) >= 4
    assert len({r.subtopic for r in rows}) >= 8
    assert len({r.year for r in rows}) >= 5
    assert sum(len(r.authors) > 1 for r in rows) >= 30
    assert all(r.abstract for r in rows)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared seed articles not available")
@pytest.mark.parametrize("name", ["synthetic_articles_v1.csv", "synthetic_articles_v2.csv"])
def test_lesson_files_are_accepted(name: str) -> None:
    rows = parse_articles(SEEDS / name)
    assert len(rows) == 20
    assert all(r.authors and r.date[:2] == "20" for r in rows)


def test_a_good_row_is_parsed(tmp_path: Path) -> None:
    (row,) = parse_articles(write(tmp_path, HEADER, GOOD))
    assert row.title == "A Title"
    assert row.authors == ("Ann Lee", "Bo Chen")
    assert (row.date, row.year) == ("2023-05-01", 2023)
    assert "Topic A" in row.embedding_text() and "An abstract." in row.embedding_text()


def test_bom_blank_lines_and_quoted_semicolons(tmp_path: Path) -> None:
    quoted = 'Quoted;"Uses; a semicolon";T;S;Ann Lee;2020-01-02'
    path = write(tmp_path, "\ufeff" + HEADER, GOOD, "", quoted)
    rows = parse_articles(path)
    assert [r.abstract for r in rows] == ["An abstract.", "Uses; a semicolon"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["Title;Abstract;Topic;Authors;Publication_Date", GOOD], "Subtopic"),
        ([HEADER, GOOD, "B;x;T;S;Ann Lee;2023-13-40"], "row 3: Publication_Date '2023-13-40'"),
        ([HEADER, "B;x;T;S;Ann Lee;May 2021"], "row 2: Publication_Date 'May 2021'"),
        ([HEADER, GOOD, GOOD.replace("A Title", "")], "row 3: empty Title"),
        ([HEADER, "B;x;T;S; , ;2021-01-01"], "row 2: no author names"),
        ([HEADER, "B;x;T;S;Ann;2021-01-01;extra"], "row 2: has 7 fields instead of 6"),
        ([HEADER, GOOD, GOOD], "row 3: repeats the title of row 2"),
        ([HEADER], "no articles"),
    ],
)
def test_malformed_files_say_which_row(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(ToolInputError) as err:
        parse_articles(write(tmp_path, *lines))
    assert message in str(err.value)


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    bad = [f"T{i};x;T;S;Ann;2021-02-30" for i in range(12)]
    with pytest.raises(ToolInputError) as err:
        parse_articles(write(tmp_path, HEADER, GOOD, *bad))
    text = str(err.value)
    assert "nothing was changed" in text
    assert "row 3:" in text and "and 4 more" in text


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ToolInputError, match="UTF-8"):
        parse_articles(path)


def test_a_file_over_the_row_cap_is_refused_before_anything_else(tmp_path: Path) -> None:
    rows = [f"Title {i};x;T;S;Ann Lee;2021-01-01" for i in range(5001)]
    with pytest.raises(ToolInputError) as err:
        parse_articles(write(tmp_path, HEADER, *rows))
    text = str(err.value)
    assert "more than 5,000 articles" in text and "split it" in text


def test_a_field_over_the_csv_size_limit_names_its_row(tmp_path: Path) -> None:
    huge = 'Huge;"' + "a" * 200_000 + '";T;S;Ann Lee;2021-01-01'
    with pytest.raises(ToolInputError) as err:
        parse_articles(write(tmp_path, HEADER, GOOD, huge))
    text = str(err.value)
    assert "row 3" in text and "131,072 characters" in text and "nothing was changed" in text


class RecordingGraph:
    """Stands in for `GraphStore` in `load_articles`: knows which article titles exist,
    answers every count with 0, and records the statements written."""

    def __init__(self, titles: set[str]) -> None:
        self.settings = Settings()
        self.titles = titles
        self.written: list[tuple[str, dict[str, Any]]] = []

    def read(self, cypher: str, params: dict[str, Any] | None = None) -> ReadResult:
        if params and "titles" in params:
            return ReadResult(["titles"], [[sorted(self.titles & set(params["titles"]))]], False)
        return ReadResult(["c"], [[0]], False)

    def write(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        self.written += statements

    def ensure_vector_index(self, label: str, prop: str, dimensions: int) -> None:
        pass


def test_a_load_only_adds_and_keeps_articles_already_in_the_graph(tmp_path: Path) -> None:
    graph = RecordingGraph({"A Title"})
    new = "New One;Fresh.;Topic A;Sub A;Cy Dee;2024-02-03"
    result = load_articles(graph, parse_articles(write(tmp_path, HEADER, GOOD, new)))
    assert (result["added"], result["kept"]) == (1, ["A Title"])
    assert [params["title"] for _, params in graph.written] == ["New One"]
    for cypher, _ in graph.written:  # nothing may SET properties of a node that exists
        assert "SET" not in cypher.replace("ON CREATE SET", "")
