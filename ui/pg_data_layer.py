"""Chainlit persistence on PostgreSQL, when `GENAI101_DATABASE_URL` is set: threads, steps,
elements and feedback in that database, so every app process lists and resumes every
learner's threads.

The behaviour is `SQLiteDataLayer`'s (element files keyed by ids, served to their owner
only, JSON columns decoded, the delete hook); only the connection (asyncpg through
SQLAlchemy) and the column types differ: the schema is the SQLite file's
(`chainlit_schema`) with Postgres's JSONB and TEXT[] columns.

Element files stay in a folder (`LocalStorageClient`): one machine's app processes share
it; several machines need that folder on shared storage (see the README's Deployment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

from knowledge import pg
from ui.data_layer import LocalStorageClient, SQLiteDataLayer, chainlit_schema

SCHEMA = chainlit_schema(json_type="JSONB", list_type="TEXT[]")


def prepare_database(url: str) -> None:
    """Chainlit's tables, created if missing. Called when the app module loads, so a wrong
    URL or an unreachable server stops the start with one line (`pg.DatabaseError`)."""
    pg.ensure_schema(url, SCHEMA)


class PostgresDataLayer(SQLiteDataLayer):
    """`SQLiteDataLayer` on Postgres: its methods are SQL both databases run alike; only
    the constructor (no file to create, the schema made by `prepare_database`) differs."""

    def __init__(
        self,
        url: str,
        files_root: Path,
        on_delete_thread: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        SQLAlchemyDataLayer.__init__(
            self,
            conninfo=pg.driver_url(url, "asyncpg"),
            storage_provider=LocalStorageClient(files_root),
        )
        self.on_delete_thread = on_delete_thread
