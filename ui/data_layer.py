"""Chainlit persistence on SQLite: threads, steps and elements in one file under the data
folder, element files on local disk, served at FILES_ROUTE to their owner only.

Chainlit 2.12 ships a SQLAlchemy data layer but neither a schema for it nor a local file
store; without both, the history sidebar stays empty and elements vanish after a resume.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from chainlit.auth import get_current_user
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.storage_clients.base import BaseStorageClient
from chainlit.data.utils import queue_until_user_message
from chainlit.element import Element
from chainlit.user import User
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse

from core.settings import private_dir, private_file

FILES_ROUTE = "/genai101/files"

# Element files are user content: only these types are shown in the page, everything else
# (HTML, SVG, PDF, scripts...) is a download. Either way the browser may not sniff another
# type, and a file opened on its own runs nothing.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
PLAIN_TEXT_TYPES = {"text/plain", "text/markdown", "text/csv"}
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
_ID = re.compile(r"[A-Za-z0-9_-]+")


def chainlit_schema(json_type: str, list_type: str) -> str:
    """Chainlit's tables for its SQLAlchemy layer (text ids, plus the columns 2.12 writes).
    SQLite keeps JSON and lists as TEXT; Postgres has JSONB and TEXT[] for them, which
    the layer's queries expect there."""
    j, t = json_type, list_type
    return f"""
CREATE TABLE IF NOT EXISTS users (
    "id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, "metadata" {j} NOT NULL,
    "createdAt" TEXT);
CREATE TABLE IF NOT EXISTS threads (
    "id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT, "userIdentifier" TEXT,
    "tags" {t}, "metadata" {j},
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS steps (
    "id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, "threadId" TEXT NOT NULL,
    "parentId" TEXT, "streaming" BOOLEAN NOT NULL, "waitForAnswer" BOOLEAN, "isError" BOOLEAN,
    "metadata" {j}, "tags" {t}, "input" TEXT, "output" TEXT, "createdAt" TEXT, "command" TEXT,
    "start" TEXT, "end" TEXT, "generation" {j}, "showInput" TEXT, "language" TEXT,
    "indent" INT, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, "modes" TEXT, "icon" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS elements (
    "id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT, "chainlitKey" TEXT,
    "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INT,
    "language" TEXT, "forId" TEXT, "mime" TEXT, "props" {j}, "autoPlay" BOOLEAN,
    "playerConfig" {j},
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT NOT NULL,
    "value" INT NOT NULL, "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE);
"""


SCHEMA = chainlit_schema(json_type="TEXT", list_type="TEXT")


class LocalStorageClient(BaseStorageClient):
    """Element files under one private folder (0700, files 0600), served at FILES_ROUTE.

    New keys are `<user id>/<element id>` (see `element_key`); older ones also end with the
    element's name and are still read.
    """

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root.resolve())

    def file_path(self, object_key: str) -> Path:
        parts = object_key.split("/")
        path = (self.root / object_key).resolve()
        if any(p in ("", ".", "..") for p in parts) or not path.is_relative_to(self.root):
            raise ValueError(f"not an object key of this store: {object_key!r}")
        return path

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        path = self.file_path(object_key)
        if path.exists() and not overwrite:
            return {"object_key": object_key, "url": await self.get_read_url(object_key)}
        private_dir(path.parent)
        private_file(path, data.encode() if isinstance(data, str) else data)
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        path = self.file_path(object_key)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    async def get_read_url(self, object_key: str) -> str:
        return f"{FILES_ROUTE}/{object_key}"

    async def close(self) -> None:
        return None


def element_key(user_id: str, element_id: str) -> str:
    """Where an element's file is stored: from ids only. Chainlit appends the element's name,
    so a name like "../../<user>/<element>/report.md" rewrote another user's file and ".."
    pointed at the uploader's own folder."""
    for part in (user_id, element_id):
        if not _ID.fullmatch(part):
            raise ValueError(f"not an id for a file key: {part!r}")
    return f"{user_id}/{element_id}"


class SQLiteDataLayer(SQLAlchemyDataLayer):
    """SQLAlchemyDataLayer on `sqlite+aiosqlite`, with its schema, JSON columns decoded,
    element files keyed by ids, and a hook for what else a deleted thread takes with it."""

    def __init__(
        self,
        db_path: Path,
        files_root: Path,
        on_delete_thread: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        private_file(db_path)
        with sqlite3.connect(db_path) as con:
            con.executescript(SCHEMA)
        super().__init__(
            conninfo=f"sqlite+aiosqlite:///{db_path}",
            storage_provider=LocalStorageClient(files_root),
        )
        self.on_delete_thread = on_delete_thread

    @queue_until_user_message()
    async def create_element(self, element: Element) -> None:
        """Chainlit's own, with the file's key from `element_key`. An element with only a
        URL keeps its URL: the server fetches nothing on a client's behalf."""
        if not element.for_id:
            return
        element.mime = element.mime or "application/octet-stream"
        row = {k: v for k, v in element.to_dict().items() if v is not None}
        if element.path:
            content = await asyncio.to_thread(Path(element.path).read_bytes)
        else:
            content = element.content
        if content is not None:
            user_id = await self._get_user_id_by_thread(element.thread_id) or "unknown"
            stored = await self.storage_provider.upload_file(
                object_key=element_key(user_id, element.id), data=content, mime=element.mime
            )
            row.update(url=stored["url"], objectKey=stored["object_key"])
        if "props" in row:
            row["props"] = json.dumps(row["props"])
        columns = ", ".join(f'"{c}"' for c in row)
        values = ", ".join(f":{c}" for c in row)
        updates = ", ".join(f'"{c}" = :{c}' for c in row if c != "id")
        await self.execute_sql(
            f"INSERT INTO elements ({columns}) VALUES ({values}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            row,
        )

    async def owned_element(self, object_key: str, user_identifier: str) -> dict | None:
        """The element stored under `object_key`, if it is in a thread of that user."""
        rows = await self.execute_sql(
            'SELECT e."name", e."mime" FROM elements e '
            'JOIN threads t ON t."id" = e."threadId" JOIN users u ON u."id" = t."userId" '
            'WHERE e."objectKey" = :key AND u."identifier" = :user',
            {"key": object_key, "user": user_identifier},
        )
        return rows[0] if rows else None

    async def delete_thread(self, thread_id: str) -> None:
        """Chainlit's own, then `on_delete_thread`: the agent keeps the conversation itself
        elsewhere (the LangGraph checkpointer), which must go with the thread."""
        await super().delete_thread(thread_id)
        if self.on_delete_thread is not None:
            await self.on_delete_thread(thread_id)

    async def get_thread(self, thread_id: str):
        thread = await super().get_thread(thread_id)
        if thread:
            # SQLite hands JSON columns back as strings; custom elements then render empty.
            for element in thread.get("elements") or []:
                element["props"] = _json(element.get("props"))
            for step in thread.get("steps") or []:
                step["metadata"] = _json(step.get("metadata"))
            thread["metadata"] = _json(thread.get("metadata"))
        return thread


def add_files_route(app: FastAPI, layer: Callable[[], SQLiteDataLayer]) -> None:
    """Serve element files at FILES_ROUTE: to a logged-in user (Chainlit's session cookie or
    bearer token), and only files of that user's own threads; others get a 404, as if the
    file did not exist."""

    @app.get(FILES_ROUTE + "/{key:path}")
    async def element_file(
        key: str, user: Annotated[User | None, Depends(get_current_user)]
    ) -> FileResponse:
        if user is None:  # Chainlit asks for no login: no one's files are public either
            raise HTTPException(401, "Log in to see this file.")
        data = layer()
        element = await data.owned_element(key, user.identifier)
        if element is None:
            raise HTTPException(404)
        try:
            path = data.storage_provider.file_path(key)
        except ValueError as exc:
            raise HTTPException(404) from exc
        if not path.is_file():
            raise HTTPException(404)
        return file_response(path, element["name"], element["mime"])


def file_response(path: Path, name: str, mime: str | None) -> FileResponse:
    """Images inline as themselves, text inline as text/plain, anything else a download."""
    mime = (mime or "").split(";")[0].strip().lower()
    if mime in INLINE_TYPES:
        return FileResponse(path, media_type=mime, headers=FILE_HEADERS)
    if mime in PLAIN_TEXT_TYPES:
        return FileResponse(path, media_type="text/plain", headers=FILE_HEADERS)
    filename = PurePosixPath(name.replace("\\", "/")).name
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=filename if filename not in ("", ".", "..") else "file",
        content_disposition_type="attachment",
        headers=FILE_HEADERS,
    )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
