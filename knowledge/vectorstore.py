"""FAISS collections on disk: the shipped corpus, and one collection per chat user.

A collection is one file, `<data>/rag/<collection>/store.npz`, holding the serialized FAISS
index and the JSON metadata (chunks in index order, and a fingerprint per source file).
One file means one atomic `os.replace` on save: a crash or a rejected upload can never leave
an index that disagrees with its metadata, and readers never see half a write. Writers take
a file lock, so two uploads by the same user cannot lose each other's chunks.

The index is `IndexFlatIP` over unit vectors (exact cosine search): at the sizes this app
sees it answers in well under a millisecond (see `bench/faiss_latency.py`), needs no
training, and supports removing a file's rows when it is re-ingested.

With `database_url` set, collections live in PostgreSQL instead (`knowledge/pg.py`, whose
store is a `VectorStore` too), so every app process sees every upload. `knowledge/stores.py`
chooses between the two; this module holds the file store only and never imports pg.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ToolInputError
from knowledge.embeddings import EMBEDDING_DIM

if TYPE_CHECKING:
    from core.settings import Settings

CORPUS = "corpus"
STORE_FILE = "store.npz"
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage and what a citation needs to point back at it."""

    source: str
    section: str  # the nearest heading ("" before the first one)
    path: tuple[str, ...]  # the heading trail, title first
    number: int  # position within its file, from 0
    start: int  # character span in the loaded text
    end: int
    text: str

    @property
    def chunk_id(self) -> str:
        return f"{self.source}#{self.number}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": list(self.path)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "path": tuple(data["path"])})


def section_window(chunks: Sequence[Chunk], hit: Chunk, max_chars: int) -> list[Chunk]:
    """`hit` and its neighbours within its section, as many as fit in `max_chars` of joined
    text, growing after the hit first: the passage a model reads for one hit.

    Chunks are ~500 characters, so a section's heading sentence and the fact a question
    asks for often sit in different chunks: "how many entity types are kept for linking?"
    found the section's first chunk, and the count was in the next one (small-to-big
    retrieval: search small chunks, read their surroundings). Neighbours are the chunks
    numbered next to the hit in the same file under the same heading trail, so a window
    never crosses into another section."""
    by_number = {c.number: c for c in chunks if c.source == hit.source and c.path == hit.path}
    low = high = hit.number
    grew = True
    while grew:
        grew = False
        for number in (high + 1, low - 1):
            if number in by_number:
                window = [by_number[n] for n in range(min(low, number), max(high, number) + 1)]
                if len(joined(window)) <= max_chars:
                    low, high, grew = min(low, number), max(high, number), True
    return [by_number[n] for n in range(low, high + 1)]


def joined(chunks: Sequence[Chunk]) -> str:
    """The text of consecutive chunks with their overlaps read once (by character span); a
    gap (a heading dropped on its own) becomes a paragraph break."""
    text, end = "", None
    for chunk in sorted(chunks, key=lambda c: c.start):
        if end is None:
            text, end = chunk.text, chunk.end
        elif chunk.start < end:
            text += chunk.text[end - chunk.start :]
            end = max(end, chunk.end)
        else:
            text, end = f"{text}\n\n{chunk.text}", chunk.end
    return text


def user_collection(user_id: str) -> str:
    """`user-<id>`; ids that are not safe as folder names get a readable part plus a hash,
    so two different users can never share a collection."""
    user_id = user_id or "default"
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", user_id)[:40].lstrip(".")
    if slug != user_id:
        slug = f"{slug}-{hashlib.sha256(user_id.encode()).hexdigest()[:12]}"
    return f"user-{slug}"


def check_collection(name: str) -> str:
    if not _COLLECTION_NAME.match(name):
        raise ToolInputError(
            f"Collection name {name!r} is not valid: use letters, digits, '-', '_' or '.'."
        )
    return name


def store_path(settings: Settings, collection: str) -> Path:
    return settings.path("rag", check_collection(collection), STORE_FILE)


class VectorStore:
    """Chunks, their vectors in a FAISS index (row i is chunk i), and the source files."""

    def __init__(
        self, location: Path, index: Any, chunks: list[Chunk], files: dict[str, dict[str, Any]]
    ) -> None:
        self.location = location
        self.index = index
        self.chunks = chunks
        self.files = files

    @classmethod
    def load(cls, location: Path) -> VectorStore:
        """The collection saved at `location`, or an empty one if there is none yet."""
        import faiss

        if not location.exists():
            return cls(location, faiss.IndexFlatIP(EMBEDDING_DIM), [], {})
        with np.load(location, allow_pickle=False) as data:
            index = faiss.deserialize_index(data["index"])
            meta = json.loads(data["meta"].tobytes().decode())
        chunks = [Chunk.from_dict(c) for c in meta["chunks"]]
        return cls(location, index, chunks, meta["files"])

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The `k` chunks nearest to one unit query vector, best first, with cosine scores."""
        if not self.chunks or k <= 0:
            return []
        scores, ids = self.index.search(query.reshape(1, -1), min(k, len(self.chunks)))
        return [
            (self.chunks[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]

    def remove(self, source: str) -> int:
        """Drop a source file's chunks; returns how many went."""
        rows = [i for i, c in enumerate(self.chunks) if c.source == source]
        if rows:
            self.index.remove_ids(np.asarray(rows, dtype=np.int64))
            self.chunks = [c for c in self.chunks if c.source != source]
        self.files.pop(source, None)
        return len(rows)

    def add(
        self, source: str, record: dict[str, Any], chunks: list[Chunk], vectors: np.ndarray
    ) -> None:
        """Replace whatever `source` had with these chunks (vectors: unit rows, same order)."""
        self.remove(source)
        if len(chunks):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.chunks.extend(chunks)
        self.files[source] = {**record, "chunks": len(chunks)}

    def save(self) -> None:
        """Write to a temporary file next to the store, then rename over it (atomic)."""
        import faiss

        meta = {"chunks": [c.to_dict() for c in self.chunks], "files": self.files}
        buffer = io.BytesIO()
        np.savez(
            buffer,
            index=faiss.serialize_index(self.index),
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
        )
        tmp = self.location.with_name(f".{self.location.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.location)


@contextlib.contextmanager
def file_lock(settings: Settings, collection: str) -> Iterator[None]:
    """Exclusive lock on a collection's file for a read-modify-write (uploads, re-ingest)."""
    lock_path = settings.path("rag", check_collection(collection), ".lock")
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_file_store(settings: Settings, collection: str) -> VectorStore:
    """A collection's file for reading, cached per file version (mtime and size), so a
    search does not reload the index; treat it as read-only."""
    location = store_path(settings, collection)
    try:
        stat = location.stat()
    except FileNotFoundError:
        return VectorStore.load(location)
    return _read_cached(str(location), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_cached(location: str, mtime_ns: int, size: int) -> VectorStore:
    return VectorStore.load(Path(location))
