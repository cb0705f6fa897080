"""Which user owns each conversation thread.

The agent keeps a conversation in the LangGraph checkpointer under its bare thread id.
Chainlit checks a thread's author when it is resumed from the sidebar, but a client that
sends someone else's thread id with a message would make the agent read and extend that
conversation. So the turn runner claims the thread for its user before the agent touches it:
the first user of an id owns it, anyone else is refused. The record is a small SQLite file
beside the history, private to the app's OS user, and survives restarts; with
`database_url` set it is a table in the shared PostgreSQL instead, since every app process
there serves every thread (a file per process would let a second process hand a thread to
another user).
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

from core.errors import ToolInputError
from core.settings import Settings, private_file
from knowledge import pg

FOREIGN_THREAD = (
    "This conversation belongs to another user, so it cannot be continued here: start a new chat."
)


OWNERS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS thread_owners (thread_id TEXT PRIMARY KEY, user_id TEXT NOT NULL)"
)


class ThreadOwners:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        if self.url:
            pg.ensure_schema(self.url, OWNERS_SCHEMA)
            return
        self.path = private_file(settings.path("chat", "thread_owners.sqlite"))
        with closing(self._connect()) as con, con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS owners "
                "(thread_id TEXT PRIMARY KEY, user_id TEXT NOT NULL)"
            )

    async def claim(self, thread_id: str, user_id: str) -> None:
        """Record `user_id` as the owner of a thread nobody owns yet; raise ToolInputError
        (a message for the chat, naming nobody) if another user owns it."""
        if await asyncio.to_thread(self._claim, thread_id, user_id) != user_id:
            raise ToolInputError(FOREIGN_THREAD)

    async def forget(self, thread_id: str) -> None:
        """The thread was deleted: its id no longer belongs to anyone."""
        await asyncio.to_thread(self._forget, thread_id)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def _claim(self, thread_id: str, user_id: str) -> str:
        if self.url:  # the primary key decides between two processes claiming at once
            with pg.connect(self.url) as con:
                con.execute(
                    "INSERT INTO thread_owners VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (thread_id, user_id),
                )
                row = con.execute(
                    "SELECT user_id FROM thread_owners WHERE thread_id = %s", (thread_id,)
                )
                return row.fetchone()[0]
        # One transaction: of two users claiming a new id at once, exactly one gets it.
        with closing(self._connect()) as con, con:
            con.execute("INSERT OR IGNORE INTO owners VALUES (?, ?)", (thread_id, user_id))
            row = con.execute("SELECT user_id FROM owners WHERE thread_id = ?", (thread_id,))
            return row.fetchone()[0]

    def _forget(self, thread_id: str) -> None:
        if self.url:
            with pg.connect(self.url) as con:
                con.execute("DELETE FROM thread_owners WHERE thread_id = %s", (thread_id,))
            return
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM owners WHERE thread_id = ?", (thread_id,))
