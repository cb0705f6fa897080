"""Running turns, in one place: `Assistant.run_turn` runs a turn and yields its events
(`agent.events`); the Chainlit app, `genai101 chat` (through `ainvoke`) and the benchmarks
all consume it, so they cannot drift apart in how a turn is run, stopped or measured.

One `Assistant` per process holds the checkpointer, the chat models (one per provider and
llama.cpp slot), the tools and one compiled graph; a chat's choices (provider, recognizer,
paraphrase model, online linking) go with each turn as its `agent.context.Context`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.errors import GraphRecursionError

from agent import events
from agent.context import Context, current
from agent.graph import RECURSION_LIMIT, build_graph, current_turn
from agent.llm_server import TOOL_SLOT
from agent.providers import ChatModels, local_server
from agent.semantic_router import classifier, semantic_route
from agent.threads import ThreadOwners
from core.errors import ToolInputError
from core.settings import Settings
from tools import ToolContext, lessons_text, load_tools, warm_up_tools

log = logging.getLogger("genai101")

STOPPED_MESSAGE = "(This turn was stopped before it finished.)"
FAILED_MESSAGE = (
    "⚠️ Something went wrong while answering; your conversation is kept. Please try again."
)
RECURSION_MESSAGE = (
    "I could not finish this within {n} steps, so I stopped instead of guessing. "
    "Try asking for one thing at a time."
)
# UTF-8 bytes bound the model's tokens from above (its tokenizer works on bytes), so a
# message of 4,000 emoji cannot pass as "4,000 characters".
BYTES_PER_CHAR_LIMIT = 2


def validate_message(text: str, settings: Settings) -> str:
    text = (text or "").strip()
    if not text:
        raise ToolInputError("Your message is empty: type a question or pick a starter.")
    limit = settings.max_message_chars
    if len(text) > limit or len(text.encode("utf-8")) > BYTES_PER_CHAR_LIMIT * limit:
        raise ToolInputError(
            f"Your message is too long for the model ({len(text):,} characters, "
            f"{len(text.encode('utf-8')):,} bytes); the limit is {limit:,} characters "
            f"({BYTES_PER_CHAR_LIMIT * limit:,} bytes for text outside plain English). "
            "Shorten it, or upload long text as a file."
        )
    return text


# Connections the LangGraph history may hold open in one app process: a turn takes one for
# each checkpoint read or write (milliseconds), so a few serve a class of learners.
CHECKPOINT_CONNECTIONS = 4


@contextlib.asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver]:
    """The conversation history: a SQLite file under the data folder, or with
    `database_url` the shared Postgres, where every app process sees every thread."""
    if not settings.database_url:
        async with AsyncSqliteSaver.from_conn_string(
            str(settings.path("chat", "history.sqlite"))
        ) as cp:
            yield cp
        return
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from knowledge import pg

    url = settings.database_url
    # The settings AsyncPostgresSaver needs on its connections (its from_conn_string uses
    # these); a pool, unlike its one connection, also replaces connections that broke.
    pool = AsyncConnectionPool(
        pg.driver_url(url),
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        max_size=CHECKPOINT_CONNECTIONS,
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    async with pool:
        async with pg.schema_lock(url):  # connects first: a bad URL fails here, readably
            cp = AsyncPostgresSaver(pool)
            await cp.setup()
        yield cp


class CallMeter(BaseCallbackHandler):
    """Every chat-model call of a turn, with its prompt tokens and how many of them the
    server took from its cache (the OpenAI `cached_tokens` field, which llama.cpp fills
    from its `cache_n`)."""

    run_inline = True

    def __init__(self) -> None:
        self.open: dict[Any, tuple[float, bool]] = {}
        self.calls: list[events.LLMCall] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, **kw: Any):
        self.open[run_id] = (
            time.perf_counter(),
            (kw.get("metadata") or {}).get("langgraph_node") == "act"
            and "arguments" not in (kw.get("tags") or []),
        )

    def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any):
        start, in_tool = self.open.pop(run_id, (time.perf_counter(), False))
        usage: dict[str, Any] = {}
        for generation in (response.generations or [[]])[0]:
            message = getattr(generation, "message", None)
            usage = getattr(message, "usage_metadata", None) or usage
        details = usage.get("input_token_details") or {}
        self.calls.append(
            events.LLMCall(
                seconds=time.perf_counter() - start,
                prompt_tokens=int(usage.get("input_tokens") or 0),
                cached_tokens=int(details.get("cache_read") or 0),
                in_tool=in_tool,
            )
        )

    def on_llm_error(self, error: BaseException, *, run_id: Any, **kw: Any):
        self.open.pop(run_id, None)


def tool_context(settings: Settings, models: ChatModels, default: Context) -> ToolContext:
    """What the tools get: the process's settings, and the run's choices read when a tool is
    called (the provider of the model a tool generates with, the recognizer, the paraphrase
    model, online linking); outside a run, `default`'s."""
    return ToolContext(
        settings,
        lambda: models(current(default).provider, TOOL_SLOT),
        lambda: current(default).applied_to(settings),
    )


def compile_agent(
    settings: Settings,
    models: ChatModels,
    tools: ToolContext,
    checkpointer: BaseCheckpointSaver | None = None,
):
    """The agent's graph over every registered tool. Blocking (it imports every tool module
    and lists the lessons), so run it in a thread, or at import as `agent.served` does."""
    return build_graph(
        models,
        load_tools(tools),
        settings,
        checkpointer,
        semantic_router=semantic_route,
        lessons=lessons_text(),
    )


class Assistant:
    def __init__(
        self,
        settings: Settings,
        checkpointer: BaseCheckpointSaver,
        owners: ThreadOwners | None = None,
    ) -> None:
        self.settings = settings
        self.checkpointer = checkpointer
        # Who owns each thread id: checked before the agent reads or writes a thread, so a
        # user who knows another user's thread id (or sends it from the CLI) gets nothing.
        self.owners = owners or ThreadOwners(settings)
        self.context = Context.from_settings(settings)  # a turn given no context gets this
        self.models = ChatModels(settings)
        self.tool_context = tool_context(settings, self.models, self.context)
        self._graph: Any = None
        self._building = threading.Lock()
        self._locks: dict[str, asyncio.Lock] = {}

    def turn_lock(self, thread_id: str) -> asyncio.Lock:
        """One turn at a time per thread: two tabs on one conversation queue up instead of
        interleaving their messages in the history."""
        return self._locks.setdefault(thread_id, asyncio.Lock())

    def graph(self):
        """The compiled graph, built on first use (blocking: it imports every tool module,
        so call it from a thread). One for every chat: the checkpointer, so the history, is
        shared, and each turn's choices come in its context."""
        with self._building:
            if self._graph is None:
                self._graph = compile_agent(
                    self.settings, self.models, self.tool_context, self.checkpointer
                )
            return self._graph

    def load(self) -> None:
        """Before the app serves anyone, in one thread: the tools and the router's classifier
        (with them torch, scikit-learn and SciPy). Imported from two threads at once, as the
        first turn's router and the background warm-up did, SciPy looks up `torch.Tensor`
        on a half-imported torch and the turn fails (seen in CI)."""
        self.graph()
        classifier()

    async def prepare(self, context: Context) -> None:
        """Before a turn: bring the local LLM back if it died, so one crash costs one turn."""
        if context.provider == "local":
            await asyncio.to_thread(local_server(self.settings).ensure_running)

    async def warm_up(self) -> None:
        """Before the first learner waits: one throwaway turn on a scratch thread, so
        llama.cpp caches the system prompt, and each tool's own preparation (indexes, the
        graph server, its prompt's prefix in its slot), side by side."""
        await asyncio.to_thread(self.load)

        async def turn() -> None:
            try:
                await self.ainvoke("Hi", "warm-up", "system")
            finally:
                await self.delete_thread("warm-up")

        results = await asyncio.gather(
            turn(), asyncio.to_thread(warm_up_tools, self.tool_context), return_exceptions=True
        )
        for result in results:  # each part ran to its end; report the first that failed
            if isinstance(result, BaseException):
                raise result

    async def delete_thread(self, thread_id: str) -> None:
        """Forget a thread: its history in the checkpointer, who owned it, its LLM slot."""
        await self.checkpointer.adelete_thread(thread_id)
        await self.owners.forget(thread_id)
        if self.settings.provider == "local":
            local_server(self.settings).thread_slots.forget(thread_id)

    async def settle(self, graph, config: dict[str, Any]) -> None:
        """Close a turn that was stopped midway (the stop button, a crash, a restart): its
        checkpoint still has a step pending, and LangGraph would run that step on the next
        message instead of answering it."""
        state = await graph.aget_state(config)
        if state.next:
            await graph.aupdate_state(
                config, {"messages": [AIMessage(STOPPED_MESSAGE)]}, as_node="answer"
            )

    @staticmethod
    def config(thread_id: str, user_id: str) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": thread_id, "user_id": user_id},
            "recursion_limit": RECURSION_LIMIT,
        }

    async def messages(self, thread_id: str) -> list[AnyMessage]:
        """The thread's saved messages, straight from the checkpointer: reading history
        needs no graph, so no model or tools are built (or LLM server started) for it."""
        checkpoint = await self.checkpointer.aget({"configurable": {"thread_id": thread_id}})
        return list((checkpoint or {}).get("channel_values", {}).get("messages", []))

    async def run_turn(
        self,
        text: str,
        thread_id: str,
        user_id: str = "default",
        context: Context | None = None,
        callbacks: list[BaseCallbackHandler] | None = None,
    ) -> AsyncIterator[events.Event]:
        """One turn, as events, with the chat's choices in `context` (default: the
        settings'). Raises ToolInputError (a message for the chat) for a message that cannot
        be sent; every other failure ends in a `Finished` that says so."""
        context = context or self.context
        text = validate_message(text, self.settings)
        await self.owners.claim(thread_id, user_id)
        await self.prepare(context)
        graph = await asyncio.to_thread(self.graph)
        meter = CallMeter()
        config = {
            **self.config(thread_id, user_id),
            "callbacks": [meter, *(callbacks or [])],
        }
        started = time.perf_counter()
        first_result: float | None = None
        failure = ""
        async with self.turn_lock(thread_id):
            await self.settle(graph, config)
            try:
                async for mode, chunk in graph.astream(
                    {"messages": [HumanMessage(text)]},
                    config,
                    context=context,
                    stream_mode=["messages", "updates", "custom"],
                ):
                    event = _event(mode, chunk)
                    if event is None:
                        continue
                    if first_result is None and isinstance(
                        event, events.ToolFinished | events.Token
                    ):
                        first_result = time.perf_counter() - started
                    yield event
            except GraphRecursionError:
                failure = RECURSION_MESSAGE.format(n=RECURSION_LIMIT)
            except Exception:
                log.exception("turn failed")
                failure = FAILED_MESSAGE
            if failure:
                await graph.aupdate_state(
                    config,
                    {"messages": [AIMessage(failure, response_metadata={"error": True})]},
                    as_node="answer",
                )
            state = (await graph.aget_state(config)).values
        yield _finished(state, meter.calls, time.perf_counter() - started, first_result)

    async def ainvoke(
        self, text: str, thread_id: str, user_id: str = "default", context: Context | None = None
    ) -> dict[str, Any]:
        """One turn, no streaming: the CLI's path and the tests'."""
        final: events.Finished | None = None
        async for event in self.run_turn(text, thread_id, user_id, context):
            if isinstance(event, events.Finished):
                final = event
        assert final is not None  # run_turn always ends with Finished
        return final.as_dict()


def _event(mode: str, chunk: Any) -> events.Event | None:
    """A LangGraph stream item as a turn event, or None for what no consumer needs."""
    if mode == "messages":
        message, meta = chunk
        if (
            isinstance(message, AIMessageChunk)
            and meta.get("langgraph_node") == "answer"
            and message.content
        ):
            return events.Token(str(message.content))
        return None
    if mode == "updates":
        update = (chunk or {}).get("route") or {}
        if update.get("route"):
            return events.Routed(update["route"], update.get("route_note", ""))
        return None
    kind = chunk.get("kind")
    if kind == "token":  # written by the answer node itself (an answer's lead)
        return events.Token(chunk["text"])
    if kind == "tool_start":
        return events.ToolStarted(chunk["call"], chunk["how"])
    if kind == "tool_end":
        result: ToolMessage = chunk["result"]
        artifact = result.artifact if isinstance(result.artifact, dict) else None
        return events.ToolFinished(
            chunk["call"], str(result.content), artifact, result.status == "error"
        )
    if kind == "retry":
        return events.Retry(chunk["problems"])
    if kind == "check":
        return events.Checked(
            chunk["ok"],
            chunk["problems"],
            chunk.get("first", []),
            chunk["source"],
            chunk.get("corrected", []),
        )
    return None


def _finished(
    state: dict[str, Any], calls: list[events.LLMCall], seconds: float, first: float | None
) -> events.Finished:
    messages = state.get("messages", [])
    turn = current_turn(messages)
    final = messages[-1] if messages else None
    is_answer = isinstance(final, AIMessage) and not final.tool_calls
    return events.Finished(
        answer=str(final.content) if is_answer else "",
        error=bool(is_answer and final.response_metadata.get("error")),
        route=state.get("route", "none"),
        route_note=state.get("route_note", ""),
        tool_calls=[
            {"name": c["name"], "args": c["args"]}
            for m in turn
            if isinstance(m, AIMessage)
            for c in m.tool_calls
        ],
        tool_results=[
            {"name": m.name, "content": m.content, "artifact": m.artifact}
            for m in turn
            if isinstance(m, ToolMessage)
        ],
        check=(final.response_metadata.get("check", {}) if is_answer else {}),
        llm_calls=calls,
        seconds=seconds,
        first_result_seconds=first,
    )


def chat_once(settings: Settings, text: str, thread_id: str = "cli") -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with open_checkpointer(settings) as cp:
            try:
                return await Assistant(settings, cp).ainvoke(text, thread_id, user_id="cli")
            except ToolInputError as exc:
                return {"answer": str(exc), "tool_calls": [], "tool_results": [], "error": True}

    return asyncio.run(run())
