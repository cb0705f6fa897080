"""PostgreSQL as the shared store, against a real throwaway server: two app processes
(two `Settings` with their own data folders, one database URL) share a thread's history,
a document collection and Chainlit's thread list; a bad URL is one readable line.

The server is Debian's PostgreSQL (`make test` installs it), a cluster made with `initdb`
in a temp folder and run as the unprivileged `postgres` user when the tests run as root.
Where it cannot be started, these tests skip and say why.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import chainlit as cl
import pytest
from chainlit.context import init_http_context
from chainlit.step import StepDict
from chainlit.types import Feedback, Pagination, ThreadFilter
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from agent.graph import build_graph
from agent.launcher import AppProcess
from agent.llm_server import free_port
from agent.runner import Assistant, open_checkpointer
from bench.pg_cluster import NoPostgres, throwaway_postgres
from core.errors import ToolInputError
from core.settings import Settings
from knowledge import pg
from knowledge.embeddings import embed
from knowledge.ingest import SourceFile, index_files
from knowledge.stores import read_store
from tests.fakes import ScriptedChatModel, models_of
from tools import artifacts
from ui.pg_data_layer import PostgresDataLayer, prepare_database

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A throwaway cluster (`bench.pg_cluster`); its URL without a database name."""
    try:
        with throwaway_postgres() as url:
            yield url
    except NoPostgres as exc:
        pytest.skip(str(exc))


@pytest.fixture
def database_url(server: str) -> str:
    """A fresh, empty database per test, so each one also exercises schema creation."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg.connect(f"{server}/postgres") as con:
        con.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def two_processes(tmp_path: Path, url: str) -> tuple[Settings, Settings]:
    """Two app processes' settings: one database, separate data folders (no shared disk).
    The provider is a server that is never called (the tests script the model), so no
    turn starts the local LLM."""
    llm = {"provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "model": "x"}
    return tuple(
        Settings.from_env({"data_dir": tmp_path / name, "database_url": url, **llm})
        for name in "ab"
    )


@tool(response_format="content_and_artifact")
def echo(text: str) -> tuple[str, dict]:
    """Repeat a text."""
    return text, artifacts.artifact("echo", [artifacts.markdown(text)])


def assistant(model: ScriptedChatModel, settings: Settings, checkpointer) -> Assistant:
    a = Assistant(settings, checkpointer)
    a._graph = build_graph(
        models_of(model), [echo], settings, checkpointer, semantic_router=lambda text: ("none", 0.9)
    )
    return a


async def test_a_thread_started_in_one_process_continues_in_the_other(tmp_path, database_url):
    one, two = two_processes(tmp_path, database_url)
    model = ScriptedChatModel(script=["A1", "B1", "A2"])
    async with open_checkpointer(one) as cp_one, open_checkpointer(two) as cp_two:
        a, b = assistant(model, one, cp_one), assistant(model, two, cp_two)
        await a.ainvoke("first, on one", "T", user_id="ada")
        await b.ainvoke("second, on two", "T", user_id="ada")
        await a.ainvoke("third, on one", "T", user_id="ada")
        seen = [m.content for m in model.calls[-1]["messages"] if isinstance(m, HumanMessage)]
        assert seen == ["first, on one", "second, on two", "third, on one"]
    async with open_checkpointer(two) as cp:  # a restarted process: setup() again is harmless
        history = await assistant(model, two, cp).messages("T")
    assert [m.content for m in history][-2:] == ["third, on one", "A2"]
    assert not any(tmp_path.rglob("history.sqlite"))


async def test_a_thread_owned_on_one_process_is_refused_to_another_user_on_the_other(
    tmp_path, database_url
):
    """With a thread-owner file per process, the second process had no record of Ada's
    thread and gave it to the first user to ask for it there."""
    one, two = two_processes(tmp_path, database_url)
    model = ScriptedChatModel(script=["A1", "A2", "E1"])
    async with open_checkpointer(one) as cp_one, open_checkpointer(two) as cp_two:
        a, b = assistant(model, one, cp_one), assistant(model, two, cp_two)
        await a.ainvoke("my private notes", "T", user_id="ada")
        with pytest.raises(ToolInputError, match="belongs to another user"):
            await b.ainvoke("show me", "T", user_id="eve")
        await b.ainvoke("still mine", "T", user_id="ada")
        await b.delete_thread("T")  # a deleted id is free again, everywhere
        await a.ainvoke("a new thread", "T", user_id="eve")


@pytest.mark.timeout(90)  # a lock wait that deadlocks hangs instead of failing
async def test_processes_starting_at_once_create_the_schema_once(tmp_path, database_url):
    """N processes start together on an empty database: LangGraph's migrations and the
    tables are made once, under the schema lock, and none of the starts fails."""
    settings = Settings.from_env({"data_dir": tmp_path, "database_url": database_url})

    async def start() -> None:
        async with open_checkpointer(settings):
            await asyncio.to_thread(prepare_database, database_url)

    await asyncio.gather(*(start() for _ in range(4)))
    with pg.connect(database_url) as con:
        versions = [v for (v,) in con.execute("SELECT v FROM checkpoint_migrations")]
    assert len(versions) == len(set(versions)) > 0


async def test_a_document_ingested_through_one_process_is_searched_through_the_other(
    tmp_path, database_url
):
    one, two = two_processes(tmp_path, database_url)
    collection = "user-ada"
    assert len(read_store(two, collection)) == 0  # two caches the empty collection
    tides = b"# Tides\n\nThe tides rise and fall mainly because of the Moon's gravity.\n"
    (added,) = index_files(one, collection, [SourceFile("tides.md", tides, "upload")])
    assert added.status == "added"

    store = read_store(two, collection)
    assert [c.source for c in store.chunks] == ["tides.md"]
    (best, score), *_ = store.search(embed(["What causes the tides?"], two)[0], 4)
    assert "Moon's gravity" in best.text and score > 0.5
    assert read_store(two, collection) is store  # unchanged version: the cached index

    volcano = b"# Volcanoes\n\nMagma rises through the crust and erupts as lava.\n"
    (updated,) = index_files(two, collection, [SourceFile("tides.md", volcano, "upload")])
    assert updated.status == "updated"
    texts = [c.text for c in read_store(one, collection).chunks]
    assert texts and all("lava" in t or "Volcanoes" in t for t in texts)
    assert not any(tmp_path.rglob("store.npz"))


async def test_the_chainlit_data_layer_stores_and_lists_a_thread_for_a_user(tmp_path, database_url):
    init_http_context()  # Chainlit's data layer methods look for a request context
    prepare_database(database_url)
    prepare_database(database_url)  # a second process starting: nothing to do, no error
    writer = PostgresDataLayer(database_url, tmp_path / "files")
    user = await writer.create_user(cl.User(identifier="ada", metadata={"provider": "local"}))
    thread_id, step_id = str(uuid.uuid4()), str(uuid.uuid4())
    await writer.update_thread(thread_id, name="Tides", user_id=user.id, metadata={"lesson": 3})
    step: StepDict = {
        "id": step_id,
        "threadId": thread_id,
        "name": "ada",
        "type": "user_message",
        "streaming": False,
        "output": "What causes the tides?",
        "createdAt": "2026-12-01T14:00:00Z",
        "metadata": {"source": "test"},
    }
    await writer.create_step(step)
    await writer.upsert_feedback(Feedback(forId=step_id, threadId=thread_id, value=1))
    view = cl.CustomElement(name="AttentionView", props={"tokens": ["the", "moon"]}, for_id=step_id)
    view.thread_id = thread_id
    notes = cl.File(name="notes.txt", content=b"tides", thread_id=thread_id, for_id=step_id)
    for element in (view, notes):
        await writer.create_element(element)
    await writer.close()

    reader = PostgresDataLayer(database_url, tmp_path / "files")  # the other process
    listed = await reader.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
    assert [t["id"] for t in listed.data] == [thread_id]
    thread = await reader.get_thread(thread_id)
    assert thread["name"] == "Tides" and thread["userIdentifier"] == "ada"
    assert thread["metadata"] == {"lesson": 3}
    (saved,) = thread["steps"]
    assert saved["output"] == "What causes the tides?"
    assert saved["metadata"] == {"source": "test"}
    assert saved["feedback"]["value"] == 1
    elements = {e["name"]: e for e in thread["elements"]}
    assert elements["AttentionView"]["props"] == {"tokens": ["the", "moon"]}
    key = elements["notes.txt"]["objectKey"]
    assert await reader.owned_element(key, "ada") is not None
    assert await reader.owned_element(key, "bob") is None
    assert reader.storage_provider.file_path(key).read_bytes() == b"tides"
    assert await reader.get_thread_author(thread_id) == "ada"
    other = await reader.create_user(cl.User(identifier="bob"))
    nothing = await reader.list_threads(Pagination(first=10), ThreadFilter(userId=other.id))
    assert nothing.data == []
    await reader.close()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mysql://ada@localhost/genai101", "must be a postgresql:// URL"),
        ("postgresql://ada:s3cret@127.0.0.1:{port}/genai101", "Cannot use the database at"),
    ],
)
async def test_a_bad_url_is_one_readable_line_without_the_password(tmp_path, url, expected):
    url = url.format(port=free_port())  # nothing listens there
    settings = Settings.from_env({"data_dir": tmp_path, "database_url": url})
    for attempt in (lambda: pg.connect(url), lambda: read_store(settings, "corpus")):
        with pytest.raises(pg.DatabaseError) as caught:
            attempt()
        assert expected in str(caught.value) and "\n" not in str(caught.value)
        assert "s3cret" not in str(caught.value)
    with pytest.raises(pg.DatabaseError, match=expected):
        async with open_checkpointer(settings):
            pass


def test_the_app_stops_at_start_with_one_line_when_the_database_is_unreachable(tmp_path):
    url = f"postgresql://ada:s3cret@127.0.0.1:{free_port()}/genai101"
    app = AppProcess(
        tmp_path / "app",
        tmp_path / "data",
        {"GENAI101_DATABASE_URL": url, "CHAINLIT_AUTH_SECRET": "x" * 48},
    )
    with pytest.raises(RuntimeError, match="the app exited"):
        app.start(timeout_s=120)
    log = app.log.read_text()
    assert "genai101: Cannot use the database at postgresql://ada:***@127.0.0.1" in log
    assert "Traceback" not in log and "s3cret" not in log


def test_the_app_keeps_its_users_and_threads_in_the_database(tmp_path, database_url):
    """The real app on Postgres: its login stores the learner there, and it lists a thread
    another process wrote for that learner."""
    env = {
        "GENAI101_DATABASE_URL": database_url,
        "CHAINLIT_AUTH_SECRET": "x" * 48,
        "GENAI101_PROVIDER": "openai-compatible",  # never called: no turn is sent
        "GENAI101_BASE_URL": "http://127.0.0.1:9/v1",
        "GENAI101_MODEL": "x",
        "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
        "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
    }
    app = AppProcess(tmp_path / "app", tmp_path / "data", env).start()
    try:
        with urllib.request.urlopen(  # noqa: S310 - loopback
            urllib.request.Request(f"{app.url}/auth/header", method="POST"), timeout=30
        ) as r:
            cookie = r.headers["set-cookie"].split(";")[0]
        with pg.connect(database_url) as con:
            (learner,) = con.execute("SELECT id FROM users WHERE identifier = 'learner'").fetchone()
            thread_id = str(uuid.uuid4())
            con.execute(
                'INSERT INTO threads ("id", "createdAt", "name", "userId", "userIdentifier") '
                "VALUES (%s, '2026-12-01T14:00:00Z', 'Tides', %s, 'learner')",
                (thread_id, learner),
            )
        request = urllib.request.Request(
            f"{app.url}/project/threads",
            data=json.dumps({"pagination": {"first": 10}, "filter": {}}).encode(),
            headers={"Content-Type": "application/json", "Cookie": cookie},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - loopback
            listed = json.load(r)
        assert [(t["id"], t["name"]) for t in listed["data"]] == [(thread_id, "Tides")]
        assert not (tmp_path / "data" / "chat" / "threads.sqlite").exists()
    finally:
        app.stop()
