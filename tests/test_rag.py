"""Document RAG without the embedding model: loading, sections, chunking, fingerprints,
collection names, citation formatting and parsing, and query rewriting with a fake model."""

from __future__ import annotations

import pytest

from core.errors import ToolInputError
from knowledge.ingest import fingerprint, load_document, split_document
from knowledge.vectorstore import check_collection, joined, section_window, user_collection
from tools import artifacts
from tools.rag import (
    cited_passages,
    follow_up_query,
    format_passages,
)

MARKDOWN = """Intro line before any heading.

# Quantization

Quantization stores weights as 8-bit integers.

## Scale and zero point

The scale S maps integers back to reals. {filler}

```python
# this comment is not a heading
q = round(x / S) + Z
```

## Dynamic quantization

Activations are quantized on the fly at inference time.

### Per-channel

One scale per output channel.
"""


ZIP = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"  # .pptx, .docx
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
CONTROL = bytes(range(1, 32)) * 40  # valid UTF-8 without NUL, but not text


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
            + f"] /Count {len(pages)} >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
            ).encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def markdown_doc(filler_words: int = 0) -> bytes:
    return MARKDOWN.format(filler=" ".join(["reals"] * filler_words)).encode()


def test_markdown_chunks_carry_section_trail_number_and_exact_span() -> None:
    doc = load_document(markdown_doc(filler_words=120), "quant.md")
    chunks = split_document(doc, "quant.md", chunk_size=200, chunk_overlap=40)

    assert [c.number for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].section == "" and chunks[0].path == ()
    assert chunks[0].text == "Intro line before any heading."
    sections = {c.section: c.path for c in chunks}
    assert sections["Scale and zero point"] == ("Quantization", "Scale and zero point")
    assert sections["Per-channel"] == ("Quantization", "Dynamic quantization", "Per-channel")
    # The long section is split into several overlapping chunks, none crossing a heading.
    scale = [c for c in chunks if c.section == "Scale and zero point"]
    assert len(scale) > 2
    assert all("Activations" not in c.text for c in scale)
    assert scale[2].start < scale[1].end  # overlap
    assert not any(c.text.startswith("## Scale") and len(c.text) < 30 for c in chunks)
    assert chunks[3].chunk_id == "quant.md#3"


def test_heading_inside_code_fence_is_not_a_section() -> None:
    doc = load_document(markdown_doc(), "quant.md")
    titles = [h.title for h in doc.headings]
    assert titles == ["Quantization", "Scale and zero point", "Dynamic quantization", "Per-channel"]


def test_plain_text_has_no_sections_even_with_hash_lines() -> None:
    doc = load_document(b"# not a heading in a .txt\r\nsecond line\r\n", "notes.txt")
    assert doc.headings == []
    assert doc.text == "# not a heading in a .txt\nsecond line\n"


def test_html_headings_become_sections_and_scripts_are_dropped() -> None:
    html = (
        b"<html><head><title>Guide</title><script>var x = 1;</script></head><body>"
        b"<nav>menu</nav><h2>Install</h2><p>Run <b>pip</b> install.</p><p>Then test.</p>"
        b"<h3>Offline</h3><ul><li>no network</li></ul><style>p{}</style></body></html>"
    )
    doc = load_document(html, "guide.html")
    chunks = split_document(doc, "guide.html", 500, 100)

    assert [h.title for h in doc.headings] == ["Guide", "Install", "Offline"]
    assert "var x" not in doc.text and "menu" not in doc.text and "p{}" not in doc.text
    assert "Run pip install." in doc.text
    # The title has no text of its own, so no chunk; the sections below carry it.
    assert [c.path for c in chunks] == [("Guide", "Install"), ("Guide", "Install", "Offline")]


def test_pdf_pages_become_sections() -> None:
    doc = load_document(
        make_pdf(["Attention weighs tokens.", "", "Heads run in parallel."]), "a.pdf"
    )
    chunks = split_document(doc, "a.pdf", 500, 100)
    assert [(c.section, c.text) for c in chunks] == [
        ("page 1", "Attention weighs tokens."),
        ("page 3", "Heads run in parallel."),
    ]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (ZIP, "slides.pptx", "unsupported file type '.pptx'"),
        (PNG, "logo", r"unsupported file type '\(none\)'"),
        (CONTROL, "dump.bin", "not UTF-8 text"),
        ("café".encode("cp1252"), "NOTES", "save it as UTF-8"),
        (b"", "empty.md", "is empty"),
        (b"  \n\t\n", "blank.txt", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.md", "binary"),
        (b"plain words, not a PDF", "fake.pdf", "not a PDF"),
        (
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ngarbage",
            "bad.pdf",
            "PDF",
        ),
    ],
)
def test_bad_files_raise_a_readable_error(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ToolInputError, match=message):
        load_document(data, name)


@pytest.mark.parametrize("name", ["LICENSE", "MPL-2.0", "notes", "Makefile", "setup.cfg"])
def test_text_without_a_known_extension_is_read_as_plain_text(name: str) -> None:
    text = "Mozilla Public License Version 2.0\n# 1. Definitions\n\n“Covered Software” means…\n"
    doc = load_document(text.encode(), name)
    assert (doc.text, doc.headings) == (text, [])


def test_truncated_pdf_is_reported_as_damaged() -> None:
    data = make_pdf(["Some text."])
    with pytest.raises(ToolInputError, match=r"truncated\.pdf"):
        load_document(data[: len(data) // 3], "truncated.pdf")


def test_windows_1252_text_is_read() -> None:
    assert load_document("café résumé".encode("cp1252"), "n.txt").text == "café résumé"


def test_fingerprint_changes_with_content_and_chunking() -> None:
    base = fingerprint(b"abc", 500, 100)
    assert base == fingerprint(b"abc", 500, 100)
    assert base != fingerprint(b"abd", 500, 100)
    assert base != fingerprint(b"abc", 400, 100)


def test_user_collections_are_safe_and_distinct() -> None:
    assert user_collection("alice") == "user-alice"
    assert user_collection("") == "user-default"
    odd = user_collection("../../etc")
    assert "/" not in odd and odd.startswith("user-")
    assert user_collection("a@b.c") != user_collection("a_b.c")
    assert check_collection(odd) == odd
    with pytest.raises(ToolInputError):
        check_collection("../corpus")


PASSAGES = [
    {"n": n, "source": "rag.md", "section": s, "text": f"text {n}\n  more", "score": 0.5}
    for n, s in [(1, "Chunking"), (2, "Embeddings"), (3, ""), (4, "FAISS")]
]


def test_format_passages_numbers_and_labels_them() -> None:
    text = format_passages(PASSAGES[:3])
    assert text.startswith("[1] (rag.md › Chunking) text 1 more")
    assert text.endswith("[3] (rag.md) text 3 more")


@pytest.mark.parametrize(
    ("answer", "numbers"),
    [
        ("Overlap keeps sentences whole [1].", [1]),
        ("See [1, 3] and [2].", [1, 2, 3]),
        ("Both [1][4].", [1, 4]),
        ("A range [2-4].", [2, 3, 4]),
        ("Spelled out [Passage 2] and [source 3].", [2, 3]),
        ("A huge range [3-100000] stops at the last passage.", [3, 4]),
        ("Unknown [9] and a list [x] and [] are ignored.", []),
        ("No citations at all.", []),
    ],
)
def test_cited_passages_parses_citation_forms(answer: str, numbers: list[int]) -> None:
    cited = cited_passages(answer, PASSAGES)
    assert [p["n"] for p in cited] == numbers
    assert all(p["cited"] == "explicit" for p in cited)


def test_an_uncited_answer_that_copies_a_passage_gets_it_as_quoted() -> None:
    passages = [
        {"n": 1, "text": "Overlap means consecutive chunks share up to 100 characters of text."},
        {"n": 2, "text": "FAISS compares the query with every stored vector in a flat index."},
    ]
    answer = (
        "Chunk overlap means consecutive chunks share up to 100 characters, so nothing is lost."
    )
    assert [(p["n"], p["cited"]) for p in cited_passages(answer, passages)] == [(1, "quoted")]
    assert cited_passages("Overlap is about chunks and characters.", passages) == []
    assert [p["n"] for p in cited_passages(answer + " See [2].", passages)] == [2]


def test_the_ui_shows_a_cited_part_only_if_the_answer_used_its_passage() -> None:
    from ui.render import render

    parts = [
        artifacts.markdown("the table"),
        *(artifacts.cite(artifacts.markdown(f"passage {p['n']}"), p["n"]) for p in PASSAGES),
    ]
    artifact = artifacts.artifact("search_documents", parts, passages=PASSAGES)
    assert render(artifact)[0].split("\n\n") == [
        "the table",
        *(f"passage {n}" for n in (1, 2, 3, 4)),
    ]
    assert render(artifact, "It is [2-3].")[0].split("\n\n") == [
        "the table",
        "passage 2",
        "passage 3",
    ]
    assert render(artifact, "Nothing cited.")[0] == "the table"


def test_a_follow_up_is_searched_with_the_previous_query_and_no_model() -> None:
    """ "And which ones get dropped?" alone finds nothing on entity types; with the previous
    search's words it does. No model call: the rewrite it replaced copied the tool's own
    description into the query."""
    earlier = {"query": "which entity types are kept for Wikipedia linking?"}
    assert follow_up_query("and which ones get dropped?", earlier) == (
        "which entity types are kept for Wikipedia linking? and which ones get dropped?"
    )
    assert follow_up_query("What is chunk overlap?", None) == ""
    long = follow_up_query("and the last?", {"query": "x" * 1000})
    assert len(long) <= 400 and long.endswith("and the last?")


def test_an_uncited_answer_that_repeats_a_passage_gets_it_named() -> None:
    from tools.artifacts import with_sources

    passages = [
        {"n": 1, "text": "Chunk overlap means consecutive chunks share up to 100 characters."},
        {"n": 2, "text": "FAISS keeps the vectors in memory."},
    ]
    answer = "Consecutive chunks share up to 100 characters, so nothing is cut."
    named = with_sources(answer, passages)
    assert named.startswith(answer) and named.endswith("shares with them: [1])")
    assert with_sources(answer + " [2]", passages) == answer + " [2]"  # cited: left alone
    assert with_sources("Overlap is useful.", passages) == "Overlap is useful."


def test_an_uncited_short_answer_is_sourced_by_the_numbers_and_terms_it_states() -> None:
    """The model's right answer "Each attention head works in 64 dimensions for BERT-base."
    shares no phrase with its passage; failed as uncited twice, it was replaced by a list of
    passages."""
    from tools.artifacts import with_sources

    passages = [
        {"n": 1, "text": "Attention splits 768 dimensions into 12 heads."},
        {"n": 2, "text": "BERT-base gives each of its 12 heads 64 of the 768 dimensions."},
        {"n": 3, "text": "Past the limit LangGraph raises GraphRecursionError (default 25)."},
    ]
    question = "how many dimensions does each of the 12 heads get?"
    answer = "Each attention head works in 64 dimensions."
    assert with_sources(answer, passages, question).endswith("shares with them: [2])")
    error = with_sources("You get a GraphRecursionError.", passages, question)
    assert error.endswith("[3])")
    # A number only the question holds, or one no passage holds, names no source.
    assert with_sources("There are 12 of them.", passages, question) == "There are 12 of them."
    assert with_sources("It is 65 dimensions.", passages, question) == "It is 65 dimensions."


def test_a_section_window_grows_around_its_hit_within_its_section_only() -> None:
    doc = load_document(markdown_doc(filler_words=120), "quant.md")
    chunks = split_document(doc, "quant.md", chunk_size=200, chunk_overlap=40)
    scale = [c for c in chunks if c.section == "Scale and zero point"]
    hit = scale[1]

    whole = section_window(chunks, hit, max_chars=10_000)
    assert whole == scale  # every chunk of the section, and nothing of the next one
    # The joined window is the section's text as loaded, overlaps read once.
    assert joined(whole) == doc.text[scale[0].start : scale[-1].end]

    assert section_window(chunks, hit, max_chars=len(hit.text)) == [hit]
    after = section_window(chunks, hit, max_chars=len(joined(scale[1:3])))
    assert after == scale[1:3]  # the chunk after the hit is tried first
