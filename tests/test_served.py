"""The graph `langgraph.json` names, loaded the way LangGraph's server (langgraph-api) loads
it: the module imported in a worker thread, then the graph used on the event loop, where
the server's blockbuster refuses blocking calls (`langgraph dev` without
`--allow-blocking`). The entry used to be a factory that read the settings and built every
tool on the loop, for each run: `BlockingError: Blocking call to os.getcwd`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel

import agent.providers
from agent.context import Context
from tests.fakes import STAND_IN_REPLY, ScriptedChatModel, stand_in_chat_server

ROOT = Path(__file__).resolve().parents[1]


class BlockingCall(AssertionError):
    pass


@contextmanager
def no_blocking_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Calls that block (the ones blockbuster names first: the working folder, files,
    sleeping, connecting) raise when made on a thread that runs an event loop; threads the
    loop hands work to (`asyncio.to_thread`, executors) may make them."""

    def guarded(name: str, blocking: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop runs on this thread
                return blocking(*args, **kwargs)
            raise BlockingCall(f"Blocking call to {name} on the event loop")

        return call

    with monkeypatch.context() as patch:
        for owner, name in [
            (os, "getcwd"), (os, "stat"), (os, "listdir"), (os, "scandir"),
            (time, "sleep"), (socket.socket, "connect"),
        ]:  # fmt: skip
            patch.setattr(owner, name, guarded(f"{owner.__name__}.{name}", getattr(owner, name)))
        patch.setattr("builtins.open", guarded("open", open))
        yield


def load_entry() -> Any:
    """What langgraph-api's `_graph_from_spec` does with `./path.py:variable`."""
    path, variable = json.loads((ROOT / "langgraph.json").read_text())["graphs"]["genai101"].split(
        ":"
    )
    spec = importlib.util.spec_from_file_location("genai101_served", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module.__dict__[variable]


@pytest.fixture
def served_env(tmp_path, monkeypatch) -> list[ScriptedChatModel]:
    """A provider that needs no server, and models that answer from a script."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, value in {
        "GENAI101_DATA_DIR": str(tmp_path),
        "GENAI101_PROVIDER": "openai-compatible",
        "GENAI101_BASE_URL": "http://127.0.0.1:9/v1",
        "GENAI101_MODEL": "m",
    }.items():
        monkeypatch.setenv(name, value)
    made: list[ScriptedChatModel] = []

    def make_chat_model(settings, slot=None):
        made.append(ScriptedChatModel(script=["Hello! Ask me about generative AI."], calls=[]))
        return made[-1]

    monkeypatch.setattr(agent.providers, "make_chat_model", make_chat_model)
    return made


async def test_the_entry_is_a_graph_compiled_at_import_with_the_context_schema(served_env):
    graph = await asyncio.to_thread(load_entry)
    assert isinstance(graph, Pregel)  # not a factory the server would call on its loop
    assert graph.context_schema is Context
    assert served_env == []  # no model is made before a run needs one


async def test_a_two_turn_thread_makes_no_blocking_call_on_the_event_loop(served_env, monkeypatch):
    value = await asyncio.to_thread(load_entry)  # the server imports in a worker thread
    config = {"configurable": {"thread_id": "t"}}
    with no_blocking_on_the_loop(monkeypatch):
        # A factory is called on the loop for every run; a compiled graph is used as it is.
        graph = value() if callable(value) else value
        graph = graph.copy(update={"checkpointer": InMemorySaver()})
        context = {"provider": "openai-compatible", "ner_mode": "spacy"}  # JSON, as sent
        first = await graph.ainvoke(
            {"messages": [("user", "What can you teach me?")]}, config, context=context
        )
        second = await graph.ainvoke({"messages": [("user", "Hello!")]}, config, context=context)
    assert first["route"] == "about" and "lessons" in first["messages"][-1].content
    assert second["messages"][-1].content == "Hello! Ask me about generative AI."
    assert len(second["messages"]) == 4  # one thread: both turns


@contextmanager
def langgraph_dev(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """`langgraph dev` on a free port over the project's langgraph.json (its paths made
    absolute: the server reads them from its working folder, and writes its in-memory store
    there, .langgraph_api/); yields the server's URL."""
    from agent.llm_server import free_port

    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str(ROOT / d) for d in config["dependencies"]]
    config["graphs"] = {k: str(ROOT / v) for k, v in config["graphs"].items()}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    port = free_port()
    cli = Path(sys.executable).with_name("langgraph")  # the script langgraph-cli installs
    with (tmp_path / "dev.log").open("wb") as log:
        server = subprocess.Popen(
            [str(cli), "dev", "--no-browser", "--no-reload", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


@pytest.mark.slow
async def test_langgraph_dev_runs_a_two_turn_thread_without_allow_blocking(tmp_path):
    """`langgraph dev` (langgraph-cli[inmem], not a project dependency: the test skips
    without it) driven with langgraph-sdk; the run's context reaches the tool (the
    paraphrase model chosen)."""
    pytest.importorskip("langgraph_api")
    from langgraph_sdk import get_client

    with stand_in_chat_server() as chat_url:
        env = {
            "GENAI101_DATA_DIR": str(tmp_path / "data"),
            "GENAI101_PROVIDER": "openai-compatible",
            "GENAI101_BASE_URL": chat_url,
            "GENAI101_MODEL": "m",
        }
        with langgraph_dev(tmp_path, env) as url:
            client = get_client(url=url)
            for _ in range(240):  # until the server answers (it imports the tools first)
                try:
                    await client.assistants.search(graph_id="genai101")
                    break
                except Exception:
                    await asyncio.sleep(0.5)
            thread = await client.threads.create()

            async def turn(text: str, **context: Any) -> dict[str, Any]:
                message = {"role": "human", "content": text}
                return await client.runs.wait(
                    thread["thread_id"], "genai101", input={"messages": [message]}, context=context
                )

            first = await turn("Hello!", provider="openai-compatible")
            pair = 'Do "The cat sat." and "A cat sat." mean the same?'
            second = await turn(pair, provider="openai-compatible", paraphrase_model="fp32")
    logged = (tmp_path / "dev.log").read_text()
    assert "BlockingError" not in logged
    assert first["messages"][-1]["content"] == STAND_IN_REPLY, logged[-2000:]
    tool = next(m for m in second["messages"][2:] if m["type"] == "tool")
    assert second["route"] == "check_paraphrase"
    assert "The fp32 model is not on this machine" in tool["content"]  # the context's choice
    assert len(second["messages"]) == 6  # one thread: both turns
