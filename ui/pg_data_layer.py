"""Chainlit persistence on PostgreSQL, when `GENAI101_DATABASE_URL` is set: threads, steps,
elements and feedback in that database, so every app process lists and resumes every
learner's threads.

The behaviour is `SQLiteDataLayer`'s (element files keyed by ids, served to their owner
only, JSON columns decoded, the delete hook); only the connection (asyncpg through
SQLAlchemy) and the column types differ. The schema is Chainlit's documented one for its
SQLAlchemy layer, with text ids as in the SQLite file, plus the columns 2.12 writes.

Element files stay in a folder (`LocalStorageClient`): one machine's app processes share
it; several machines need that folder on shared storage (see the README's Deployment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

from knowledge import pg
from ui.data_layer import LocalStorageClient, SQLiteDataLayer

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    "id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, "metadata" JSONB NOT NULL,
    "createdAt" TEXT);
CREATE TABLE IF NOT EXISTS threads (
    "id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT, "userIdentifier" TEXT,
    "tags" TEXT[], "metadata" JSONB,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS steps (
    "id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, "threadId" TEXT NOT NULL,
    "parentId" TEXT, "streaming" BOOLEAN NOT NULL, "waitForAnswer" BOOLEAN, "isError" BOOLEAN,
    "metadata" JSONB, "tags" TEXT[], "input" TEXT, "output" TEXT, "createdAt" TEXT,
    "command" TEXT, "start" TEXT, "end" TEXT, "generation" JSONB, "showInput" TEXT,
    "language" TEXT, "indent" INT, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN,
    "modes" TEXT, "icon" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS elements (
    "id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT, "chainlitKey" TEXT,
    "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INT,
    "language" TEXT, "forId" TEXT, "mime" TEXT, "props" JSONB, "autoPlay" BOOLEAN,
    "playerConfig" JSONB,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT NOT NULL,
    "value" INT NOT NULL, "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
"""


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
