"""Turning files into chunks for retrieval: load, find sections, split, fingerprint.

Markdown, plain text, HTML and PDF become one text plus a list of headings; a file whose
name has no known extension (`LICENSE`, `MPL-2.0`, `notes`) is read as plain text if its
content is UTF-8 text. The text is cut at every heading first and each section is then
split with LangChain's `RecursiveCharacterTextSplitter`, so a chunk never straddles two
sections and its citation (`source › section`) is exact. Spans are character offsets into
the loaded text, so a cited chunk can be found again in its document. A document may make
at most `MAX_CHUNKS_PER_DOCUMENT` chunks, checked before anything is embedded.

Everything here raises `ToolInputError` with a message a learner can act on: the same code
reads the shipped corpus, the files of `genai101 ingest` and the uploads in the chat.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ToolInputError
from knowledge.embeddings import embed
from knowledge.stores import load_for_update, locked, read_store
from knowledge.vectorstore import CORPUS, Chunk, user_collection

if TYPE_CHECKING:
    from core.settings import Settings

MARKDOWN_TYPES = (".md", ".markdown")
HTML_TYPES = (".html", ".htm")
SUPPORTED_TYPES = (*MARKDOWN_TYPES, ".txt", *HTML_TYPES, ".pdf")

# Bump when loading or splitting changes, so indexes built by older code are rebuilt.
CHUNKING_VERSION = 2

# Most chunks one document may make: about 1 MB of text (a 400-page book) at the default
# 500-character chunks, and about 80 s of embedding on two cores (26 chunks/s), during which
# the collection stays locked. A 10 MB text would be 25,000 chunks and 16 minutes; a file
# that big is better split into the parts one wants to ask about.
MAX_CHUNKS_PER_DOCUMENT = 2000
# A file of unknown type is text if at most this share of its first 64k characters are
# control characters (tab, newline, carriage return and form feed do not count).
MAX_CONTROL_SHARE = 0.05
_TEXT_SAMPLE = 65536
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f-\x9f]")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HTML_BLOCKS = ("p", "div", "li", "tr", "br", "pre", "blockquote", "section", "article", "table")


@dataclass(frozen=True)
class Heading:
    """A section starts at `offset` in the loaded text; `level` 1 is a title."""

    offset: int
    level: int
    title: str


@dataclass(frozen=True)
class LoadedDocument:
    text: str
    headings: list[Heading]


def fingerprint(data: bytes, chunk_size: int, chunk_overlap: int) -> str:
    """Content hash of a file under the chunking settings and code version: a file is
    re-embedded when either its bytes or the way it is cut change, and never otherwise."""
    h = hashlib.sha256(json.dumps([CHUNKING_VERSION, chunk_size, chunk_overlap]).encode())
    h.update(data)
    return h.hexdigest()


def load_document(data: bytes, filename: str) -> LoadedDocument:
    """Read `data` as the type its file name says, or as plain text if the name says
    nothing known and the content is text; raises ToolInputError for files that cannot
    become text (binary, empty, broken PDF)."""
    suffix = Path(filename).suffix.lower()
    if not data.strip():
        raise ToolInputError(f"{filename} is empty: there is nothing to index.")
    if suffix not in SUPPORTED_TYPES:
        doc = LoadedDocument(_unknown_type_text(data, filename, suffix), [])
    elif suffix == ".pdf":
        doc = _load_pdf(data, filename)
    else:
        text = _decode_text(data, filename).replace("\r\n", "\n")
        if suffix in HTML_TYPES:
            doc = _load_html(text)
        elif suffix in MARKDOWN_TYPES:
            doc = _load_markdown(text)
        else:  # plain text: a line starting with "#" is not a heading there
            doc = LoadedDocument(text, [])
    if not doc.text.strip():
        raise ToolInputError(f"{filename} has no readable text (a scanned PDF has only images).")
    return doc


def split_document(
    doc: LoadedDocument, source: str, chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """Chunks of at most `chunk_size` characters, cut within sections, numbered in order.

    A heading left alone in a chunk (its first paragraph did not fit) is dropped: it would
    match questions by its words alone and crowd real passages out of the top k."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
    )
    chunks: list[Chunk] = []
    for start, end, trail in _sections(doc):
        for piece in splitter.create_documents([doc.text[start:end]]):
            if _HEADING.fullmatch(piece.page_content.strip()):
                continue  # a heading cut off from its text: every chunk below carries it
            begin = start + piece.metadata["start_index"]
            chunks.append(
                Chunk(
                    source=source,
                    section=trail[-1] if trail else "",
                    path=trail,
                    number=len(chunks),
                    start=begin,
                    end=begin + len(piece.page_content),
                    text=piece.page_content,
                )
            )
    return chunks


def _sections(doc: LoadedDocument) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, heading trail) for the text before the first heading and each section."""
    bounds = [h.offset for h in doc.headings] + [len(doc.text)]
    sections = [(0, bounds[0], ())] if bounds[0] > 0 else []
    trail: list[Heading] = []
    for heading, end in zip(doc.headings, bounds[1:], strict=True):
        trail = [h for h in trail if h.level < heading.level] + [heading]
        sections.append((heading.offset, end, tuple(h.title for h in trail)))
    return [s for s in sections if doc.text[s[0] : s[1]].strip()]


def _decode_text(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; NUL bytes mean it is not text."""
    if b"\x00" in data[:8192]:
        raise ToolInputError(
            f"{filename} looks like a binary file, not text: upload Markdown, plain text, "
            "HTML or PDF."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ToolInputError(
            f"{filename} is not readable text (neither UTF-8 nor Windows-1252)."
        ) from exc


def _unknown_type_text(data: bytes, filename: str, suffix: str) -> str:
    """The text of a file whose extension says nothing (`LICENSE`, `MPL-2.0`, `notes`).

    Without an extension to go by, only strict UTF-8 with no NUL bytes and few control
    characters counts as text: Windows-1252 accepts almost any bytes, so trying it here
    would index images and archives as gibberish."""
    refusal = (
        f"{filename}: unsupported file type {suffix or '(none)'!r}, and its content is not "
        f"UTF-8 text. I can read {', '.join(SUPPORTED_TYPES)}, or any plain text in UTF-8"
    )
    if b"\x00" in data:
        raise ToolInputError(f"{refusal}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ToolInputError(
            f"{refusal}: if it is text in another encoding, save it as UTF-8 or name it .txt."
        ) from exc
    sample = text[:_TEXT_SAMPLE]
    if len(_CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample):
        raise ToolInputError(f"{refusal}.")
    return text.replace("\r\n", "\n")


def _load_markdown(text: str) -> LoadedDocument:
    """Markdown `#` headings outside code fences start sections (a `# comment` in a
    Python block is not a heading)."""
    headings: list[Heading] = []
    offset = 0
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line.rstrip("\n"))):
            headings.append(Heading(offset, len(m.group(1)), m.group(2).strip()))
        offset += len(line)
    return LoadedDocument(text, headings)


def _load_html(html: str) -> LoadedDocument:
    """Visible text of the page with `<h1>`-`<h6>` turned into Markdown headings, so HTML
    sections are tracked exactly like Markdown ones."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title and not soup.find("h1") else ""
    for tag in soup(["head", "script", "style", "noscript", "template", "nav", "svg"]):
        tag.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.replace_with(f"\n\n{'#' * level} {tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.append("\n\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    return _load_markdown(f"# {title}\n\n{text}" if title else text)


def _load_pdf(data: bytes, filename: str) -> LoadedDocument:
    """Text of each page; a page is a section ("page 3"), since PDFs carry no headings."""
    import io

    from pypdf import PdfReader

    if not data.lstrip().startswith(b"%PDF"):
        raise ToolInputError(f"{filename} is not a PDF (it lacks the %PDF header).")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ToolInputError(f"{filename} is password-protected: upload an unlocked copy.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ToolInputError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise ToolInputError(
            f"{filename} is a damaged PDF that I cannot read ({type(exc).__name__})."
        ) from exc
    text, headings = "", []
    for number, page in enumerate(pages, start=1):
        if page.strip():
            headings.append(Heading(len(text), 1, f"page {number}"))
            text += page.strip() + "\n\n"
    return LoadedDocument(text, headings)


@dataclass(frozen=True)
class SourceFile:
    """A file to index: its name in citations, its bytes, and where it came from."""

    source: str
    data: bytes
    origin: str


@dataclass(frozen=True)
class FileResult:
    source: str
    status: str  # added | updated | unchanged | removed | error
    chunks: int
    error: str = ""


def index_files(
    settings: Settings, collection: str, files: list[SourceFile], prune: bool = False
) -> list[FileResult]:
    """Bring `collection` up to date with `files`, embedding only new or changed files.

    A file that cannot be read, or would make more than `MAX_CHUNKS_PER_DOCUMENT` chunks,
    gets an `error` result before anything is embedded and leaves its old chunks (if any)
    alone. With `prune`, sources not in `files` are dropped (the corpus mirrors a folder).
    All new chunks are embedded in one batch and the store is saved once, atomically.
    """
    results: list[FileResult] = []
    with locked(settings, collection):
        store = load_for_update(settings, collection)
        pending: list[tuple[SourceFile, str, list[Chunk]]] = []
        for file in files:
            fp = fingerprint(file.data, settings.chunk_size, settings.chunk_overlap)
            if store.files.get(file.source, {}).get("fingerprint") == fp:
                results.append(
                    FileResult(file.source, "unchanged", store.files[file.source]["chunks"])
                )
                continue
            try:
                doc = load_document(file.data, file.source)
            except ToolInputError as exc:
                results.append(FileResult(file.source, "error", 0, str(exc)))
                continue
            chunks = split_document(doc, file.source, settings.chunk_size, settings.chunk_overlap)
            if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
                results.append(FileResult(file.source, "error", 0, _too_many_chunks(file, chunks)))
                continue
            pending.append((file, fp, chunks))
        keep = {f.source for f in files}
        removed = [s for s in store.files if prune and s not in keep]
        for source in removed:
            results.append(FileResult(source, "removed", store.remove(source)))
        if not pending and not removed:
            return results
        vectors = embed([c.text for _, _, chunks in pending for c in chunks], settings)
        row = 0
        for file, fp, chunks in pending:
            status = "updated" if file.source in store.files else "added"
            record = {"fingerprint": fp, "origin": file.origin}
            store.add(file.source, record, chunks, vectors[row : row + len(chunks)])
            row += len(chunks)
            results.append(FileResult(file.source, status, len(chunks)))
        store.save()
    return results


def _too_many_chunks(file: SourceFile, chunks: list[Chunk]) -> str:
    """The refusal says how much of this file would fit, so the learner knows how to cut it."""
    fits = chunks[MAX_CHUNKS_PER_DOCUMENT].start
    return (
        f"{file.source} would make {len(chunks):,} chunks; the limit is "
        f"{MAX_CHUNKS_PER_DOCUMENT:,} chunks per document. Nothing was embedded: split it into "
        f"files of under {fits:,} characters each, or upload only the parts you want to ask "
        "about."
    )


def ingest_upload(settings: Settings, user_id: str, path: str | Path, filename: str) -> dict:
    """Index a file a user dropped in the chat into that user's own collection.

    Raises ToolInputError (message ready for the chat) for files over `upload_max_mb`,
    unsupported types, binary or empty files and broken PDFs; the collection is then left
    exactly as it was. Re-uploading a file with the same name replaces its old chunks.
    """
    path = Path(path)
    name = Path(filename).name or path.name
    limit = settings.upload_max_mb * 1024 * 1024
    size = path.stat().st_size
    if size > limit:
        raise ToolInputError(
            f"{name} is {size / 2**20:.1f} MB; the upload limit is {settings.upload_max_mb} MB."
        )
    collection = user_collection(user_id)
    (result,) = index_files(settings, collection, [SourceFile(name, path.read_bytes(), "upload")])
    if result.status == "error":
        raise ToolInputError(result.error)
    verb = {"unchanged": "is already indexed", "updated": "was re-indexed"}.get(
        result.status, "was indexed"
    )
    return {
        "source": name,
        "collection": collection,
        "chunks": result.chunks,
        "status": result.status,
        "message": f"{name} {verb}: {result.chunks} chunks you can now ask about.",
    }


def corpus_dir(settings: Settings) -> Path:
    """The shipped teaching documents, unless `rag_corpus_dir` points elsewhere."""
    if settings.rag_corpus_dir:
        return Path(settings.rag_corpus_dir).expanduser().resolve()
    return Path(__file__).resolve().parent / "corpus"


def collect_files(paths: list[Path]) -> list[SourceFile]:
    """Files named directly keep their name as source; files found in a folder are named by
    their path inside it (so two `intro.md` in different folders stay apart)."""
    files: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.suffix.lower() in SUPPORTED_TYPES:
                    source = found.relative_to(path).as_posix()
                    files.append(SourceFile(source, found.read_bytes(), str(found.resolve())))
        elif path.is_file():
            files.append(SourceFile(path.name, path.read_bytes(), str(path.resolve())))
        else:
            raise ToolInputError(f"{path}: no such file or folder.")
    return files


def sync_corpus(settings: Settings) -> list[FileResult]:
    """Build the corpus index if it is missing or stale; a cheap hash check otherwise.

    Called before every search, so editing a lesson file is picked up without a restart.
    """
    files = collect_files([corpus_dir(settings)])
    current = read_store(settings, CORPUS).files
    wanted = {
        f.source: fingerprint(f.data, settings.chunk_size, settings.chunk_overlap) for f in files
    }
    if wanted == {s: r["fingerprint"] for s, r in current.items()}:
        return []
    return index_files(settings, CORPUS, files, prune=True)
