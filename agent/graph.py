"""The agent: a LangGraph `StateGraph` with a router, a model node, a `ToolNode` and a
conditional edge.

    START -> route -> model --(tool calls?)--> tools -> model -> ... -> END

The router first classifies the message with a classifier trained on example messages of
each tool (see `agent.semantic_router`; a follow-up such as "and Chen Wei?" goes to the
tool used last); when it is unsure, it asks the model one narrow question,
"which tool, or none?", answered as JSON constrained by a schema. A 1.5B model offered five tools at once invents calls for
requests no tool serves (a weather question became a graph query); asked to choose, with
"none" as a named option, it routes far better. The model node then sees only the chosen
tool (or none) and fills in its arguments. If routing fails, the model gets every tool.

Small local models can also call tools forever, so each user message gets at most
`settings.max_tool_rounds` tool rounds; after that the model is called without tools and
told to answer from what it has. The graph's recursion limit sits just above that, and
hitting it anyway ends the turn with an honest message (see `agent.runner`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.messages.utils import count_tokens_approximately
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from agent.prompts import CALL_TOOL_NOTE, FINAL_ANSWER_NOTE, ROUTER_PROMPT, SYSTEM_PROMPT
from agent.semantic_router import FOLLOW_UP, asks_for_no_tools
from agent.state import State
from tools.errors import ToolInputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from agent.settings import Settings

MODEL_ERROR_PREFIX = "⚠️ "
ANY_TOOL = "*"  # routing failed: let the model choose among all tools
ROUTER_HISTORY = 6  # messages of conversation the router sees, for follow-ups


def router_prompt(tools: Sequence[BaseTool], messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The tool names with the first sentence of each description, the choosing rules, and
    the latest conversation text without tool traffic: a short prompt, so the small model
    weighs the rules rather than five paragraphs of tool documentation."""
    lines = "Tools:\n" + "\n".join(f"- {t.name}: {t.description.split('. ')[0]}." for t in tools)
    convo = [
        m
        for m in messages
        if isinstance(m, HumanMessage)
        or (isinstance(m, AIMessage) and m.content and not m.tool_calls)
    ]
    return [SystemMessage(ROUTER_PROMPT.format(tools=lines)), *convo[-ROUTER_HISTORY:]]


def route_format(names: Sequence[str]) -> dict:
    """A JSON schema response format: llama.cpp turns it into a grammar, so the reply can
    only be one of the names."""
    schema = {
        "type": "object",
        "properties": {"tool": {"type": "string", "enum": [*names, "none"]}},
        "required": ["tool"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "route", "schema": schema}}


def parse_route(content: str, names: Sequence[str]) -> str:
    try:
        choice = json.loads(content).get("tool")
    except (ValueError, AttributeError):
        return ANY_TOOL
    return choice if choice in (*names, "none") else ANY_TOOL


def last_tool_used(messages: Sequence[AnyMessage]) -> str | None:
    """The tool of the latest tool call in the conversation: what a follow-up continues."""
    for m in reversed(messages):
        if isinstance(m, AIMessage) and m.tool_calls:
            return m.tool_calls[-1]["name"]
    return None


def tool_rounds_this_turn(messages: Sequence[AnyMessage]) -> int:
    return sum(1 for m in current_turn(messages) if isinstance(m, AIMessage) and m.tool_calls)


def recursion_limit(settings: Settings) -> int:
    # route, model + tools per round, a final model call, and one step of slack.
    return 2 * settings.max_tool_rounds + 4


def drop_unanswered_tool_calls(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """A turn stopped mid-tool (the stop button, a crash) leaves a tool call without its
    result, which chat APIs reject; keep such a message's text and forget the call."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    out: list[AnyMessage] = []
    for m in messages:
        if isinstance(m, AIMessage) and any(c["id"] not in answered for c in m.tool_calls):
            if m.content:
                out.append(AIMessage(m.content))
            continue
        out.append(m)
    return out


def trim_history(messages: Sequence[AnyMessage], max_tokens: int) -> list[AnyMessage]:
    """Keep the latest messages that fit, starting at a user message so a tool result is
    never separated from the call that asked for it."""
    return trim_messages(
        drop_unanswered_tool_calls(messages),
        max_tokens=max_tokens,
        strategy="last",
        token_counter=count_tokens_approximately,
        start_on="human",
        allow_partial=False,
    )


def describe_tool_error(exc: Exception) -> str:
    """A tool's exception becomes text the model relays and the user can read."""
    if isinstance(exc, ToolInputError):
        return str(exc)
    return f"The tool failed ({type(exc).__name__}: {exc}). Tell the user and suggest another way."


def model_error_message(exc: Exception) -> str:
    return (
        f"{MODEL_ERROR_PREFIX}The language model could not answer ({type(exc).__name__}). "
        "It is being restarted; please send your message again in a moment. "
        "Your conversation is kept."
    )


def build_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    settings: Settings,
    checkpointer: BaseCheckpointSaver | None = None,
    stop: list[str] | None = None,
    semantic_router: Callable[[str], tuple[str, float]] | None = None,
):
    def with_tools(chosen: Sequence[BaseTool]):
        bound = model.bind_tools(list(chosen))
        return bound.bind(stop=stop) if stop else bound

    names = [t.name for t in tools]
    one_tool = {t.name: with_tools([t]) for t in tools}
    all_tools = with_tools(tools) if tools else model
    router = model.bind(response_format=route_format(names))

    async def route(state: State) -> dict:
        if not tools:
            return {"route": "none", "route_note": "no tools are loaded"}
        note, text = "", str(state["messages"][-1].content)
        if asks_for_no_tools(text):
            return {"route": "none", "route_note": "you asked for an answer without tools"}
        if semantic_router is not None:
            label, score = await asyncio.to_thread(semantic_router, text)
            choice = last_tool_used(state["messages"]) if label == FOLLOW_UP else label
            guess = f"{label} → {choice}" if label == FOLLOW_UP else label
            note = f"classifier: {guess}, p = {score:.2f}"
            if score >= settings.route_threshold and choice in (*names, "none"):
                note += f" ≥ {settings.route_threshold:.2f}, so the LLM router was not asked"
                return {"route": choice, "route_note": note}
            note += f" (not confident, threshold {settings.route_threshold:.2f}); "
        try:
            reply = await router.ainvoke(router_prompt(tools, state["messages"]))
        except Exception:  # the model node will meet the same fault and report it
            return {"route": ANY_TOOL, "route_note": note + "the LLM router failed: all tools"}
        choice = parse_route(str(reply.content), names)
        decided = "all tools offered" if choice == ANY_TOOL else choice
        return {"route": choice, "route_note": note + f"the LLM router chose {decided}"}

    async def call_model(state: State) -> dict:
        history = trim_history(state["messages"], settings.history_tokens)
        prompt: list[AnyMessage] = [SystemMessage(SYSTEM_PROMPT), *history]
        chosen = state.get("route", ANY_TOOL)
        rounds = tool_rounds_this_turn(state["messages"])
        if rounds >= settings.max_tool_rounds or chosen == "none":
            runnable = model
            if rounds:
                prompt.append(SystemMessage(FINAL_ANSWER_NOTE))
        elif chosen in one_tool:
            runnable = one_tool[chosen]
            if not rounds:
                prompt.append(SystemMessage(CALL_TOOL_NOTE.format(tool=chosen)))
        else:
            runnable = all_tools
        try:
            response = await runnable.ainvoke(prompt)
        except Exception as exc:  # the server died or timed out: keep the history usable
            response = AIMessage(model_error_message(exc), response_metadata={"error": True})
        return {"messages": [response]}

    builder = StateGraph(State)
    builder.add_node("route", route)
    builder.add_node("model", call_model)
    builder.add_node("tools", ToolNode(list(tools), handle_tool_errors=describe_tool_error))
    builder.add_edge(START, "route")
    builder.add_edge("route", "model")
    builder.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    builder.add_edge("tools", "model")
    return builder.compile(checkpointer=checkpointer, name="genai101")


def current_turn(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The messages after the latest user message: this turn's tool calls, results, answer."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)


def make_graph():
    """Entry point for LangGraph's own tooling (`langgraph.json`): the default settings and
    tools, with the platform's checkpointer."""
    from agent.providers import make_chat_model, tool_call_stop
    from agent.semantic_router import semantic_route
    from agent.settings import Settings
    from tools import ToolContext, load_tools

    settings = Settings.from_env()
    model = make_chat_model(settings)
    tools = load_tools(ToolContext(settings, lambda: model))
    return build_graph(
        model, tools, settings, stop=tool_call_stop(settings), semantic_router=semantic_route
    )
