"""genai101's Chainlit UI: thin by design. The agent lives in `agent/`, the tools in `tools/`,
artifact rendering in `ui/render.py`; this file wires Chainlit's events to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import replace
from typing import Any

import chainlit as cl
import chainlit.server
from chainlit.data import get_data_layer
from chainlit.input_widget import Select, Switch
from chainlit.server import app as server

from agent import events
from agent.context import Context
from agent.providers import local_server, provider_problem
from agent.runner import Assistant, open_checkpointer
from core.errors import ToolInputError
from core.settings import PROVIDERS, Settings, SettingsError, chat_choices
from knowledge.pg import DatabaseError
from tools import lessons
from ui import render
from ui.data_layer import LocalStorageClient, SQLiteDataLayer, add_files_route
from ui.logins import LoginGuard
from ui.pg_data_layer import PostgresDataLayer, prepare_database
from ui.uploads import ingest_files

log = logging.getLogger("genai101")
SETTINGS = Settings.from_env()
STORE = LocalStorageClient(SETTINGS.path("chat", "files"))


class Runtime:
    """Process-wide state opened at startup: the checkpointer and the assistant."""

    assistant: Assistant | None = None
    exit_stack: Any = None
    warm_up: asyncio.Task | None = None


add_files_route(server, get_data_layer)  # element files, to their owner only

# Chainlit registers a catch-all route for its SPA at import; ours must come first.
server.router.routes.insert(0, server.router.routes.pop())

# The page links KaTeX's CSS from a CDN even with LaTeX off; offline that is a failed fetch
# on every load, so the link is left out of the served page.
_page = chainlit.server.get_html_template
chainlit.server.get_html_template = lambda root: re.sub(r"<link[^>]*katex[^>]*>", "", _page(root))


async def _thread_deleted(thread_id: str) -> None:
    """A thread deleted in the sidebar takes the agent's copy of the conversation (the
    LangGraph checkpoint) and its owner record with it, not just what Chainlit shows."""
    await Runtime.assistant.delete_thread(thread_id)


if SETTINGS.database_url:  # checked now: a bad URL stops the start with one line
    try:
        prepare_database(SETTINGS.database_url)
    except DatabaseError as exc:
        raise SystemExit(f"genai101: {exc}") from None


@cl.data_layer
def data_layer() -> SQLiteDataLayer:
    if SETTINGS.database_url:
        return PostgresDataLayer(
            SETTINGS.database_url, STORE.root, on_delete_thread=_thread_deleted
        )
    return SQLiteDataLayer(
        SETTINGS.path("chat", "threads.sqlite"), STORE.root, on_delete_thread=_thread_deleted
    )


if SETTINGS.user_passwords():
    LOGINS = LoginGuard(SETTINGS.user_passwords())

    @cl.password_auth_callback
    def password_login(username: str, password: str) -> cl.User | None:
        """Constant-time check; a name with repeated failures is refused for a while."""
        if LOGINS.check(username, password):
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
    await asyncio.to_thread(Runtime.assistant.load)  # before the first user, not beside them
    Runtime.warm_up = asyncio.create_task(_warm_up(Runtime.assistant))


async def _warm_up(assistant: Assistant) -> None:
    """In the background: the LLM's prompt cache and the tools' indexes and servers. A
    failure here is logged; the first turn that needs the part reports it to the user."""
    try:
        await assistant.warm_up()
    except Exception as exc:
        log.warning("warm-up failed: %s", exc)


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
    return [cl.Starter(label=lesson["title"], message=lesson["example"]) for lesson in lessons()]


def _settings_widgets(s: Context) -> list[Any]:
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
    """The session's chat choices start as the configured ones; each turn runs with them
    (one compiled graph serves every session, `agent.context`)."""
    context = Context.from_settings(SETTINGS)
    cl.user_session.set("context", context)
    await cl.ChatSettings(_settings_widgets(context)).send()


@cl.on_chat_start
async def chat_start() -> None:
    await _start_session()


@cl.on_chat_resume
async def chat_resume(thread: dict) -> None:
    # The conversation itself lives in the LangGraph checkpointer under this thread id.
    await _start_session()


@cl.on_settings_update
async def settings_update(values: dict[str, Any]) -> None:
    current: Context = cl.user_session.get("context")
    chosen, problems = chat_choices(values)
    for problem in problems:
        await cl.Message(f"⚠️ {problem}").send()
    problem = provider_problem(SETTINGS.with_(**chosen))
    if problem and "provider" in chosen:
        await cl.Message(f"⚠️ {problem} Keeping {current.provider}.").send()
        chosen.pop("provider")
    cl.user_session.set("context", replace(current, **chosen))


@cl.on_message
async def on_message(message: cl.Message) -> None:
    context: Context = cl.user_session.get("context") or Context.from_settings(SETTINGS)
    user = cl.user_session.get("user")
    user_id = user.identifier if user else "default"
    files = [e for e in message.elements if getattr(e, "path", None)]
    if files:
        await cl.Message(await asyncio.to_thread(ingest_files, SETTINGS, user_id, files)).send()
        if not message.content.strip():
            return
    await run_turn(message.content, context, user_id, cl.context.session.thread_id)


async def run_turn(text: str, context: Context, user_id: str, thread_id: str) -> None:
    """Show one turn as its events come: the router's decision and the tool as steps, the
    tool's artifact as soon as the tool returns, then the answer streamed under it. A
    checked-and-rewritten answer replaces the streamed one; the check is a step too."""
    answer: cl.Message | None = None
    steps: dict[str, cl.Step] = {}
    shown: list[tuple[cl.Message, dict[str, Any]]] = []
    try:
        async for event in Runtime.assistant.run_turn(text, thread_id, user_id, context):
            if isinstance(event, events.Routed):
                await _note_step("router", event.note)
            elif isinstance(event, events.ToolStarted):
                steps[event.call["id"]] = await _open_step(event)
            elif isinstance(event, events.ToolFinished):
                await _close_step(steps.pop(event.call["id"], None), event)
                if event.artifact:
                    shown.append((await _show_artifact(event.artifact), event.artifact))
            elif isinstance(event, events.Token):
                answer = answer or cl.Message(content="")
                await answer.stream_token(event.text)
            elif isinstance(event, events.Retry) and answer is not None:
                answer.content = ""  # the second try replaces the first as it streams
                await answer.update()
            elif isinstance(event, events.Checked):
                await _note_step("answer check", _check_note(event))
            elif isinstance(event, events.Finished):
                answer = answer or cl.Message(content="")
                answer.content = event.answer
                await answer.send()
    except ToolInputError as exc:
        await cl.Message(f"⚠️ {exc}").send()
        return
    for message, artifact in shown:
        if artifact.get("passages") and answer is not None:
            message.content = render.render(artifact, answer.content)[0]
            await message.update()


def _check_note(event: events.Checked) -> str:
    """The answer check in words: what was checked, what failed, what was done about it."""
    if event.source == "tool registry":
        return "answered from the list of lessons (the tool registry), not by the model"
    lines = []
    if event.corrected:
        lines.append("corrected: " + "; ".join(event.corrected))
    if event.first:
        lines.append("first answer sent back: " + "; ".join(event.first))
    lines.append(
        f"final answer ({event.source}): "
        + ("passed the check" if event.ok else "still fails: " + "; ".join(event.problems))
    )
    return "\n".join(lines)


async def _show_artifact(artifact: dict[str, Any]) -> cl.Message:
    content, elements = render.render(artifact)
    message = cl.Message(content=content, elements=elements, author=artifact.get("tool", "tool"))
    await message.send()
    return message


async def _note_step(name: str, note: str) -> None:
    """How this turn's tool was chosen, or how its answer was checked: part of the lesson."""
    parent = cl.context.current_step
    step = cl.Step(name=name, type="undefined", parent_id=parent.id if parent else None)
    step.output = note
    await step.send()


async def _open_step(event: events.ToolStarted) -> cl.Step:
    parent = cl.context.current_step
    step = cl.Step(name=event.call["name"], type="tool", parent_id=parent.id if parent else None)
    step.input = {**event.call["args"], "(arguments)": event.how}
    await step.send()
    return step


async def _close_step(step: cl.Step | None, event: events.ToolFinished) -> None:
    if step is None:
        return
    step.output = event.content
    step.is_error = event.error
    await step.update()
