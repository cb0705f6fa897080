"""Which store holds the collections: the FAISS files under the data folder
(`knowledge/vectorstore.py`) or, with `database_url` set, PostgreSQL (`knowledge/pg.py`).

The choice lives here, above both, so neither backend imports the other: pg.py builds on
vectorstore.py's `VectorStore` and `Chunk`, and vectorstore.py knows nothing of pg.py.
Callers that lock, change or read a collection go through these three functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from knowledge import pg
from knowledge.vectorstore import (
    VectorStore,
    check_collection,
    file_lock,
    read_file_store,
    store_path,
)

if TYPE_CHECKING:
    from core.settings import Settings


@contextlib.contextmanager
def locked(settings: Settings, collection: str) -> Iterator[None]:
    """Exclusive lock on a collection for a read-modify-write (uploads, re-ingest): a file
    lock, or with a database an advisory lock that holds across machines."""
    if settings.database_url:
        with pg.collection_lock(settings.database_url, check_collection(collection)):
            yield
        return
    with file_lock(settings, collection):
        yield


def load_for_update(settings: Settings, collection: str) -> VectorStore:
    """A fresh, uncached copy of a collection to change and `save`, under `locked`."""
    if settings.database_url:
        return pg.PgVectorStore.read(settings.database_url, check_collection(collection))
    return VectorStore.load(store_path(settings, collection))


def read_store(settings: Settings, collection: str) -> VectorStore:
    """A collection for reading. Cached per file version (or database version), so a search
    does not reload the index; treat it as read-only (writers use `load_for_update`)."""
    if settings.database_url:
        return pg.read_store(settings.database_url, check_collection(collection))
    return read_file_store(settings, collection)
