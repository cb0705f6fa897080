"""The teaching corpus and the retrieval question set stay consistent."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "knowledge" / "corpus"
QUESTIONS = ROOT / "bench" / "data" / "rag_questions.jsonl"


def _headings(text: str) -> tuple[list[str], list[str]]:
    """Return (titles, sections) outside fenced code blocks."""
    titles, sections, in_code = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("# "):
            titles.append(line[2:].strip())
        elif line.startswith("## "):
            sections.append(line[3:].strip())
    return titles, sections


DOCS = sorted(CORPUS.glob("*.md"))


def test_corpus_has_the_seven_lessons():
    assert len(DOCS) >= 7


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_doc_structure(doc):
    text = doc.read_text(encoding="utf-8")
    titles, sections = _headings(text)
    assert len(titles) == 1, "exactly one # title"
    assert text.startswith("# "), "the title comes first"
    assert len(sections) >= 5
    assert len(set(sections)) == len(sections), "section headings are unique"
    words = len(re.findall(r"\S+", text))
    assert 1000 <= words <= 2500


def test_questions_point_at_existing_sections():
    sections = {doc.name: set(_headings(doc.read_text(encoding="utf-8"))[1]) for doc in DOCS}
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 40
    seen = set()
    for row in rows:
        assert set(row) == {"question", "source", "section"}
        assert row["source"] in sections, row
        assert row["section"] in sections[row["source"]], row
        assert row["question"] not in seen, row
        seen.add(row["question"])
    per_doc = {name: sum(r["source"] == name for r in rows) for name in sections}
    assert min(per_doc.values()) >= 5, per_doc
