"""PostgreSQL as the shared store, when `GENAI101_DATABASE_URL` is set.

Several app processes, on one machine or several, then see the same threads, history and
documents. This module holds what they share at the bottom of the stack: the URL in the
form each driver wants, connections whose failures read as one line, schema creation that
N processes starting at once cannot race, and the document collections.

A collection lives in three tables: `rag_collections` (its version), `rag_files` (one row
per source file: fingerprint, origin, chunk count) and `rag_chunks` (each chunk as JSON and
its unit vector as float32 bytes; Debian's server has no pgvector, and exact search over a
few thousand rows needs none). Postgres is the system of record; each process keeps a
FAISS index built from it as a cache keyed by the version, which every write bumps in the
same transaction as its rows. A search costs one `SELECT version` round trip, and a
process rebuilds its index only after another one changed the collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from core.settings import SettingsError
from knowledge.embeddings import EMBEDDING_DIM
from knowledge.vectorstore import Chunk, VectorStore

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_S = 5
# Advisory lock keys (class, object): schema creation is (LOCK_CLASS, 0); a collection's
# writers take (COLLECTION_LOCK_CLASS, hashtext(name)).
LOCK_CLASS = 160_001
COLLECTION_LOCK_CLASS = 160_002

COLLECTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_collections (
    name TEXT PRIMARY KEY, version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS rag_files (
    collection TEXT NOT NULL REFERENCES rag_collections (name) ON DELETE CASCADE,
    source TEXT NOT NULL, record JSONB NOT NULL,
    PRIMARY KEY (collection, source));
CREATE TABLE IF NOT EXISTS rag_chunks (
    collection TEXT NOT NULL, source TEXT NOT NULL, number INT NOT NULL,
    chunk JSONB NOT NULL, vector BYTEA NOT NULL,
    PRIMARY KEY (collection, source, number),
    FOREIGN KEY (collection, source) REFERENCES rag_files ON DELETE CASCADE);
"""


class DatabaseError(SettingsError):
    """The database URL is wrong or its server cannot be used; the message says which, in
    one line, without the password. A SettingsError, so the CLI prints it as such."""


def redacted(url: str) -> str:
    """`url` with its password replaced by `***`, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def driver_url(url: str, driver: str = "") -> str:
    """`url` with the scheme a driver wants: `postgresql://` for psycopg (libpq), or
    `postgresql+asyncpg://` for SQLAlchemy. Any other scheme is refused here, before a
    driver says something less clear about it."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise DatabaseError(
            f"GENAI101_DATABASE_URL must be a postgresql:// URL, such as "
            f"postgresql://user@host:5432/genai101; {redacted(url)!r} is not."
        )
    return f"postgresql+{driver}://{rest}" if driver else f"postgresql://{rest}"


def unusable(url: str, exc: Exception) -> DatabaseError:
    """The driver's first line (libpq adds hints on further lines) and what to check."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DatabaseError(
        f"Cannot use the database at {redacted(url)}: {reason}. "
        "Check GENAI101_DATABASE_URL and that the PostgreSQL server is running."
    )


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection, or DatabaseError within CONNECT_TIMEOUT_S."""
    import psycopg

    try:
        return psycopg.connect(driver_url(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise unusable(url, exc) from None


# The schema lock is polled, not waited for: a session blocked in pg_advisory_lock is in a
# transaction, and LangGraph's CREATE INDEX CONCURRENTLY (run by the lock's holder on
# another connection) waits for every open transaction to end. Four processes starting at
# once (test_postgres) hung that way for good, unseen by the deadlock detector.
TRY_SCHEMA_LOCK = "SELECT pg_try_advisory_lock(%s, 0)"
LOCK_POLL_S = 0.1


def ensure_schema(url: str, sql: str) -> None:
    """Run `CREATE ... IF NOT EXISTS` statements in one transaction under the schema lock:
    two processes creating the same table at once fail with a duplicate-key error, even
    with IF NOT EXISTS."""
    with connect(url) as con:  # closing the connection releases the lock
        while not con.execute(TRY_SCHEMA_LOCK, (LOCK_CLASS,)).fetchone()[0]:
            time.sleep(LOCK_POLL_S)
        with con.transaction():
            con.execute(sql)


@contextlib.asynccontextmanager
async def schema_lock(url: str) -> AsyncIterator[None]:
    """The schema lock for async setup code (LangGraph's migrations). Its connection comes
    first, so a wrong URL or an absent server fails here, readably."""
    import psycopg

    try:
        con = await psycopg.AsyncConnection.connect(
            driver_url(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.Error as exc:
        raise unusable(url, exc) from None
    async with con:  # closing the connection releases the lock
        while not (await (await con.execute(TRY_SCHEMA_LOCK, (LOCK_CLASS,))).fetchone())[0]:
            await asyncio.sleep(LOCK_POLL_S)
        yield


@lru_cache(maxsize=8)
def _collections_ready(url: str) -> bool:
    """The collection tables exist: created once per process and URL, on first use, so the
    CLI's `ingest` works without the app having started first."""
    ensure_schema(url, COLLECTIONS_SCHEMA)
    return True


@contextlib.contextmanager
def collection_lock(url: str, collection: str) -> Iterator[None]:
    """Exclusive across every process on this database, for a read-modify-write of one
    collection (an upload, a corpus sync). Held by a session that ends with the block, so
    a process that dies mid-write releases it too."""
    _collections_ready(url)
    with connect(url) as con:
        con.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))", (COLLECTION_LOCK_CLASS, collection)
        )
        yield


class PgVectorStore(VectorStore):
    """A collection loaded from Postgres. `add` and `remove` note which sources changed;
    `save` rewrites just those, in one transaction that also bumps the version. It has no
    file location: the database is where it lives."""

    def __init__(
        self,
        url: str,
        collection: str,
        version: int,
        index: Any,
        chunks: list[Chunk],
        files: dict[str, dict[str, Any]],
    ) -> None:
        self.url = url
        self.collection = collection
        self.version = version
        self.index = index
        self.chunks = chunks
        self.files = files
        self.changed: dict[str, np.ndarray | None] = {}  # source -> new vectors, None: gone

    @classmethod
    def read(cls, url: str, collection: str) -> PgVectorStore:
        """The collection as one snapshot (version and rows agree), its FAISS index built
        from the stored vectors; an empty collection if it has never been written."""
        import faiss
        import psycopg

        _collections_ready(url)
        with connect(url) as con:
            con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with con.transaction():
                row = con.execute(
                    "SELECT version FROM rag_collections WHERE name = %s", (collection,)
                ).fetchone()
                files = dict(
                    con.execute(
                        "SELECT source, record FROM rag_files WHERE collection = %s "
                        "ORDER BY source",
                        (collection,),
                    ).fetchall()
                )
                rows = con.execute(
                    "SELECT chunk, vector FROM rag_chunks WHERE collection = %s "
                    "ORDER BY source, number",
                    (collection,),
                ).fetchall()
        index = faiss.IndexFlatIP(EMBEDDING_DIM)
        if rows:
            vectors = np.frombuffer(b"".join(bytes(v) for _, v in rows), dtype=np.float32)
            index.add(vectors.reshape(len(rows), EMBEDDING_DIM))
        chunks = [Chunk.from_dict(c) for c, _ in rows]
        return cls(url, collection, row[0] if row else 0, index, chunks, files)

    def remove(self, source: str) -> int:
        self.changed[source] = None
        return super().remove(source)

    def add(
        self, source: str, record: dict[str, Any], chunks: list[Chunk], vectors: np.ndarray
    ) -> None:
        super().add(source, record, chunks, vectors)  # calls remove first
        self.changed[source] = np.asarray(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM)

    def save(self) -> None:
        from psycopg.types.json import Jsonb

        with connect(self.url) as con, con.transaction():
            con.execute(
                "INSERT INTO rag_collections VALUES (%s, 0) ON CONFLICT DO NOTHING",
                (self.collection,),
            )
            for source, vectors in self.changed.items():
                con.execute(
                    "DELETE FROM rag_files WHERE collection = %s AND source = %s",
                    (self.collection, source),
                )
                if vectors is None:
                    continue
                con.execute(
                    "INSERT INTO rag_files VALUES (%s, %s, %s)",
                    (self.collection, source, Jsonb(self.files[source])),
                )
                chunks = [c for c in self.chunks if c.source == source]
                con.cursor().executemany(
                    "INSERT INTO rag_chunks VALUES (%s, %s, %s, %s, %s)",
                    [
                        (self.collection, source, c.number, Jsonb(c.to_dict()), v.tobytes())
                        for c, v in zip(chunks, vectors, strict=True)
                    ],
                )
            (self.version,) = con.execute(
                "UPDATE rag_collections SET version = version + 1 WHERE name = %s "
                "RETURNING version",
                (self.collection,),
            ).fetchone()
        self.changed.clear()


def read_store(url: str, collection: str) -> VectorStore:
    """A collection for reading: this process's cached copy while the version in Postgres
    is the one it was built at, else a fresh one. Treat it as read-only."""
    _collections_ready(url)
    with connect(url) as con:
        row = con.execute(
            "SELECT version FROM rag_collections WHERE name = %s", (collection,)
        ).fetchone()
    return _read_cached(url, collection, row[0] if row else 0)


@lru_cache(maxsize=16)
def _read_cached(url: str, collection: str, version: int) -> VectorStore:
    return PgVectorStore.read(url, collection)
