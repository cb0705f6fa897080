"""genai101's Chainlit UI: thin by design. The agent lives in `agent/`, the tools in `tools/`,
artifact rendering in `ui/render.py`; this file wires Chainlit's events to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import chainlit as cl
import chainlit.server
from chainlit.data import get_data_layer
from chainlit.input_widget import Select, Switch
from chainlit.server import app as server
from fastapi import HTTPException
from fastapi.responses import FileResponse
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langgraph.errors import GraphRecursionError

from agent.providers import local_server, provider_problem
from agent.runner import RECURSION_MESSAGE, Assistant, open_checkpointer, validate_message
from agent.settings import PROVIDERS, Settings, SettingsError
from tools import warm_up_tools
from tools.errors import ToolInputError
from ui import render
from ui.data_layer import FILES_ROUTE, LocalStorageClient, SQLiteDataLayer
from ui.uploads import ingest_files

log = logging.getLogger("genai101")
SETTINGS = Settings.from_env()
STORE = LocalStorageClient(SETTINGS.path("chat", "files"))


class Runtime:
    """Process-wide state opened at startup: the checkpointer and the assistant."""

    assistant: Assistant | None = None
    exit_stack: Any = None
    warm_up: asyncio.Task | None = None


@server.get(FILES_ROUTE + "/{key:path}")
async def element_file(key: str) -> FileResponse:
    try:
        path = STORE.file_path(key)
    except ValueError as exc:
        raise HTTPException(404) from exc
    if not path.is_file():
        raise HTTPException(404)
    return FileResponse(path)


# Chainlit registers a catch-all route for its SPA at import; ours must come first.
server.router.routes.insert(0, server.router.routes.pop())

# The page links KaTeX's CSS from a CDN even with LaTeX off; offline that is a failed fetch
# on every load, so the link is left out of the served page.
_page = chainlit.server.get_html_template
chainlit.server.get_html_template = lambda root: re.sub(r"<link[^>]*katex[^>]*>", "", _page(root))


@cl.data_layer
def data_layer() -> SQLiteDataLayer:
    return SQLiteDataLayer(SETTINGS.path("chat", "threads.sqlite"), STORE.root)


if SETTINGS.user_passwords():

    @cl.password_auth_callback
    def password_login(username: str, password: str) -> cl.User | None:
        if SETTINGS.user_passwords().get(username) == password:
            return cl.User(identifier=username, metadata={"provider": "credentials"})
        return None

else:

    @cl.header_auth_callback
    def local_login(headers: Any) -> cl.User:
        """No users configured: this machine's one learner, so history still works."""
        return cl.User(identifier="learner", metadata={"provider": "local"})


@cl.on_app_startup
async def startup() -> None:
    problem = provider_problem(SETTINGS)
    if problem:
        raise SettingsError(problem)
    if SETTINGS.provider == "local":
        await asyncio.to_thread(local_server(SETTINGS).start)
    Runtime.exit_stack = contextlib.AsyncExitStack()
    checkpointer = await Runtime.exit_stack.enter_async_context(open_checkpointer(SETTINGS))
    Runtime.assistant = Assistant(SETTINGS, checkpointer)
    await asyncio.to_thread(Runtime.assistant.graph)  # load the tools before the first user
    Runtime.warm_up = asyncio.create_task(_warm_up(Runtime.assistant))


async def _warm_up(assistant: Assistant) -> None:
    """In the background: the LLM's prompt cache and the tools' indexes and servers. A
    failure here is logged; the first turn that needs the part reports it to the user."""
    results = await asyncio.gather(
        assistant.warm_up(), asyncio.to_thread(warm_up_tools, SETTINGS), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            log.warning("warm-up failed: %s", result)


@cl.on_app_shutdown
async def shutdown() -> None:
    """Close every SQLite connection: aiosqlite's worker threads are not daemons, and one
    left open keeps the process alive after Ctrl-C (and the LLM server with it)."""
    if Runtime.warm_up is not None:
        Runtime.warm_up.cancel()
    if Runtime.exit_stack is not None:
        await Runtime.exit_stack.aclose()
    layer = get_data_layer()
    if layer is not None:
        await layer.close()
    local_server(SETTINGS).stop()


@cl.set_starters
async def starters(user: cl.User | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(
            label="Link entities to Wikipedia",
            message="Find the entities in: Marie Curie won the Nobel Prize in Paris in 1911.",
        ),
        cl.Starter(
            label="Ask the course documents",
            message="Using the course documents, what is the difference between static and dynamic quantization?",
        ),
        cl.Starter(
            label="Query the research graph",
            message="In the article graph, which researchers have published the most articles?",
        ),
        cl.Starter(
            label="See attention inside BERT",
            message="Show me the attention of BERT on: The cat sat on the mat because it was tired.",
        ),
        cl.Starter(
            label="Paraphrase or not?",
            message='Do these mean the same? "The company hired Anna." and "Anna was hired by the company."',
        ),
    ]


def _settings_widgets(s: Settings) -> list[Any]:
    return [
        Select(
            id="provider", label="LLM provider", values=list(PROVIDERS), initial_value=s.provider
        ),
        Select(
            id="ner_mode",
            label="Entity recognizer",
            values=["spacy", "llm"],
            initial_value=s.ner_mode,
        ),
        Select(
            id="paraphrase_model",
            label="Paraphrase model",
            values=["int8", "fp32"],
            initial_value=s.paraphrase_model,
        ),
        Switch(
            id="wiki_online", label="Link entities with online Wikipedia", initial=s.wiki_online
        ),
    ]


async def _start_session() -> None:
    cl.user_session.set("settings", SETTINGS)
    await cl.ChatSettings(_settings_widgets(SETTINGS)).send()


@cl.on_chat_start
async def chat_start() -> None:
    await _start_session()


@cl.on_chat_resume
async def chat_resume(thread: dict) -> None:
    # The conversation itself lives in the LangGraph checkpointer under this thread id.
    await _start_session()


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    chosen = {k: values[k] for k in ("provider", "ner_mode", "paraphrase_model", "wiki_online")}
    problem = provider_problem(SETTINGS.with_(**chosen))
    if problem:
        await cl.Message(f"⚠️ {problem} Keeping {cl.user_session.get('settings').provider}.").send()
        chosen.pop("provider")
    cl.user_session.set("settings", cl.user_session.get("settings").with_(**chosen))


@cl.on_message
async def on_message(message: cl.Message) -> None:
    settings: Settings = cl.user_session.get("settings") or SETTINGS
    user = cl.user_session.get("user")
    user_id = user.identifier if user else "default"
    files = [e for e in message.elements if getattr(e, "path", None)]
    if files:
        await cl.Message(await asyncio.to_thread(ingest_files, settings, user_id, files)).send()
        if not message.content.strip():
            return
    try:
        text = validate_message(message.content, settings)
    except ToolInputError as exc:
        await cl.Message(f"⚠️ {exc}").send()
        return
    await run_turn(text, settings, user_id, cl.context.session.thread_id)


async def run_turn(text: str, settings: Settings, user_id: str, thread_id: str) -> None:
    """Stream one turn: the model's words as they come, each tool call as a step, then each
    tool's artifact. Text the model writes before calling a tool stays its own message, so
    the final answer always follows the steps it used."""
    assistant = Runtime.assistant
    await assistant.prepare(settings)
    graph = await asyncio.to_thread(assistant.graph, settings)
    config = assistant.config(thread_id, user_id, settings)
    answer: cl.Message | None = None
    steps: dict[str, cl.Step] = {}
    artifacts: list[dict[str, Any]] = []

    async def write(token: str) -> None:
        nonlocal answer
        answer = answer or cl.Message(content="")
        await answer.stream_token(token)

    async with assistant.turn_lock(thread_id):
        await assistant.settle(graph, config)
        try:
            async for mode, chunk in graph.astream(
                {"messages": [HumanMessage(text)]}, config, stream_mode=["messages", "updates"]
            ):
                if mode == "messages":
                    msg, meta = chunk
                    node = meta.get("langgraph_node")
                    if isinstance(msg, AIMessageChunk) and node == "model" and msg.content:
                        await write(msg.content)
                    continue
                for node, update in chunk.items():
                    if node == "route" and (update or {}).get("route_note"):
                        await _router_step(update["route_note"])
                    for m in (update or {}).get("messages", []):
                        if node == "model" and getattr(m, "tool_calls", None):
                            if answer is not None:
                                await answer.send()
                                answer = None
                            for call in m.tool_calls:
                                steps[call["id"]] = await _open_step(call)
                        elif isinstance(m, ToolMessage):
                            await _close_step(steps.pop(m.tool_call_id, None), m)
                            if isinstance(m.artifact, dict):
                                artifacts.append(m.artifact)
        except GraphRecursionError:
            await write(RECURSION_MESSAGE.format(n=config["recursion_limit"]))
        except Exception:
            log.exception("turn failed")
            await write(
                "⚠️ Something went wrong while answering; your conversation is kept. "
                "Please try again."
            )
    final = answer.content if answer else ""
    if answer is not None:
        await answer.send()
    for artifact in artifacts:
        content, elements = render.render(artifact, final)
        if content or elements:
            await cl.Message(
                content=content, elements=elements, author=artifact.get("tool", "tool")
            ).send()


async def _router_step(note: str) -> None:
    """How this turn's tool was chosen (classifier or LLM router): part of the lesson."""
    parent = cl.context.current_step
    step = cl.Step(name="router", type="undefined", parent_id=parent.id if parent else None)
    step.output = note
    await step.send()


async def _open_step(call: dict[str, Any]) -> cl.Step:
    parent = cl.context.current_step
    step = cl.Step(name=call["name"], type="tool", parent_id=parent.id if parent else None)
    step.input = call["args"]
    await step.send()
    return step


async def _close_step(step: cl.Step | None, result: ToolMessage) -> None:
    if step is None:
        return
    step.output = result.content
    step.is_error = result.status == "error"
    await step.update()
