"""Running turns: one `Assistant` per process holds the checkpointer and a compiled graph per
provider setting; the Chainlit app and the `genai101 chat` command both go through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.errors import GraphRecursionError

from agent.graph import build_graph, current_turn, recursion_limit
from agent.providers import local_server, make_chat_model, tool_call_stop
from agent.semantic_router import semantic_route
from agent.settings import Settings
from tools import ToolContext, load_tools
from tools.errors import ToolInputError

STOPPED_MESSAGE = "(This turn was stopped before it finished.)"
RECURSION_MESSAGE = (
    "I could not finish this within {n} steps, so I stopped instead of guessing. "
    "Try asking for one thing at a time."
)


def validate_message(text: str, settings: Settings) -> str:
    text = (text or "").strip()
    if not text:
        raise ToolInputError("Your message is empty: type a question or pick a starter.")
    if len(text) > settings.max_message_chars:
        raise ToolInputError(
            f"Your message has {len(text):,} characters; the limit is "
            f"{settings.max_message_chars:,}. Shorten it, or upload long text as a file."
        )
    return text


@contextlib.asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[AsyncSqliteSaver]:
    async with AsyncSqliteSaver.from_conn_string(
        str(settings.path("chat", "history.sqlite"))
    ) as cp:
        yield cp


class Assistant:
    def __init__(self, settings: Settings, checkpointer: AsyncSqliteSaver) -> None:
        self.settings = settings
        self.checkpointer = checkpointer
        self._graphs: dict[Settings, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def turn_lock(self, thread_id: str) -> asyncio.Lock:
        """One turn at a time per thread: two tabs on one conversation queue up instead of
        interleaving their messages in the history."""
        return self._locks.setdefault(thread_id, asyncio.Lock())

    def graph(self, settings: Settings | None = None):
        """The compiled graph for these settings (a provider switch in the chat settings
        panel gets its own model and tools; the checkpointer, so the history, is shared)."""
        settings = settings or self.settings
        if settings not in self._graphs:
            model = make_chat_model(settings)
            tools = load_tools(ToolContext(settings, lambda: model))
            self._graphs[settings] = build_graph(
                model,
                tools,
                settings,
                self.checkpointer,
                stop=tool_call_stop(settings),
                semantic_router=semantic_route,
            )
        return self._graphs[settings]

    async def prepare(self, settings: Settings) -> None:
        """Before a turn: bring the local LLM back if it died, so one crash costs one turn."""
        if settings.provider == "local":
            await asyncio.to_thread(local_server(settings).ensure_running)

    async def warm_up(self, settings: Settings | None = None) -> None:
        """One throwaway turn on a scratch thread, so llama.cpp caches the system prompt and
        tool schemas (~1,000 tokens) before the first learner waits for them."""
        settings = settings or self.settings
        graph = self.graph(settings)
        config = self.config("warm-up", "system", settings)
        try:
            await graph.ainvoke({"messages": [HumanMessage("Hi")]}, config)
        finally:
            await self.checkpointer.adelete_thread("warm-up")

    async def settle(self, graph, config: dict[str, Any]) -> None:
        """Close a turn that was stopped midway (the stop button, a crash, a restart): its
        checkpoint still has the tool step pending, and LangGraph would run that step on
        the next message instead of answering it."""
        state = await graph.aget_state(config)
        if state.next:
            await graph.aupdate_state(
                config, {"messages": [AIMessage(STOPPED_MESSAGE)]}, as_node="model"
            )

    @staticmethod
    def config(thread_id: str, user_id: str, settings: Settings) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": thread_id, "user_id": user_id},
            "recursion_limit": recursion_limit(settings),
        }

    async def messages(self, thread_id: str) -> list[AnyMessage]:
        """The thread's saved messages, straight from the checkpointer: reading history
        needs no graph, so no model or tools are built (or LLM server started) for it."""
        checkpoint = await self.checkpointer.aget({"configurable": {"thread_id": thread_id}})
        return list((checkpoint or {}).get("channel_values", {}).get("messages", []))

    async def ainvoke(
        self, text: str, thread_id: str, user_id: str = "default", settings: Settings | None = None
    ) -> dict[str, Any]:
        """One turn, no streaming: the CLI's path and the tests'."""
        settings = settings or self.settings
        text = validate_message(text, settings)
        await self.prepare(settings)
        graph = self.graph(settings)
        config = self.config(thread_id, user_id, settings)
        async with self.turn_lock(thread_id):
            await self.settle(graph, config)
            try:
                await graph.ainvoke({"messages": [HumanMessage(text)]}, config)
            except GraphRecursionError:
                answer = RECURSION_MESSAGE.format(n=config["recursion_limit"])
                await graph.aupdate_state(
                    config, {"messages": [AIMessage(answer)]}, as_node="model"
                )
            state = (await graph.aget_state(config)).values
        return {**turn_result(state["messages"]), "route_note": state.get("route_note", "")}


def turn_result(messages: list[AnyMessage]) -> dict[str, Any]:
    turn = current_turn(messages)
    final = messages[-1]
    return {
        "answer": final.content if isinstance(final, AIMessage) else "",
        "tool_calls": [
            {"name": c["name"], "args": c["args"]}
            for m in turn
            if isinstance(m, AIMessage)
            for c in m.tool_calls
        ],
        "tool_results": [
            {"name": m.name, "content": m.content, "artifact": m.artifact}
            for m in turn
            if isinstance(m, ToolMessage)
        ],
        "error": bool(isinstance(final, AIMessage) and final.response_metadata.get("error")),
    }


def chat_once(settings: Settings, text: str, thread_id: str = "cli") -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with open_checkpointer(settings) as cp:
            try:
                return await Assistant(settings, cp).ainvoke(text, thread_id, user_id="cli")
            except ToolInputError as exc:
                return {"answer": str(exc), "tool_calls": [], "tool_results": [], "error": True}

    return asyncio.run(run())
