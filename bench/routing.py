"""Routing accuracy: does the agent pick the right tool (or none) for a chat turn?

The sets are `bench/data/routing.jsonl` (82 turns, the one the router was tuned on) and
`bench/data/routing_heldout.jsonl` (70 turns, held out): one turn a line, `{"id", "prompt", "expected",
"history"?, "note"?}` where `expected` is a tool name or "none", and `history` holds earlier
turns `{"user", "assistant", "tool"?: {"name", "args", "output"}}` for follow-ups that only
make sense with them.

Method: the real compiled agent graph (`Assistant.graph()`: same router node, system prompt,
history trimming and bound tools as a chat), invoked with `interrupt_before=["tools"]`, so
it stops before any tool runs. The routed tool is the model node's first tool call ("none"
for a plain answer, "error" when the model call failed): what would run, whatever the
router node chose; the router's choice is saved beside each miss. The reply is capped at
`ROUTING_MAX_TOKENS`: decoding is greedy, so the capped reply starts exactly like the full
one, and a plain answer cut short is still a plain answer; this saves up to a minute a turn
on two busy cores. A reply the cap cut inside a tool-call block (llama.cpp then fails to
parse it: an error, or "cut") is routed again with the app's own token limit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import markdown_table, spread

if TYPE_CHECKING:
    from langchain_core.messages import AnyMessage

    from agent.runner import Assistant
    from agent.settings import Settings

ROUTING_SET = Path(__file__).resolve().parent / "data" / "routing.jsonl"
# Written by a helper that saw neither the router's examples nor its prompt, after the
# router was tuned on ROUTING_SET: the honest estimate of accuracy on new wording.
HELDOUT_SET = ROUTING_SET.with_name("routing_heldout.jsonl")
SETS = {"routing": ROUTING_SET, "routing_heldout": HELDOUT_SET}
NONE = "none"
ERROR = "error"
CUT = "cut"
ROUTING_MAX_TOKENS = 200
METHOD = (
    "first model call of the real agent graph (interrupt before the tool node), reply capped "
    f"at {ROUTING_MAX_TOKENS} tokens (re-run with the app's limit when the cap cut a tool "
    "call); history turns replayed as messages"
)


def load_cases(path: Path = ROUTING_SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def history_messages(history: Sequence[dict[str, Any]]) -> list[AnyMessage]:
    """Earlier turns as the checkpointer would hold them: the user's message, the model's
    tool call and the tool's answer when a tool ran, then the final answer."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    messages: list[AnyMessage] = []
    for i, turn in enumerate(history):
        messages.append(HumanMessage(turn["user"]))
        tool = turn.get("tool")
        if tool:
            call_id = f"call_{i}"
            call = {"name": tool["name"], "args": tool["args"], "id": call_id}
            messages.append(AIMessage("", tool_calls=[call]))
            messages.append(ToolMessage(tool["output"], tool_call_id=call_id, name=tool["name"]))
        messages.append(AIMessage(turn["assistant"]))
    return messages


def routing_settings(settings: Settings) -> Settings:
    return settings.with_(llm_max_tokens=ROUTING_MAX_TOKENS)


def routed_tool(message: Any) -> str:
    """The first tool the model asked for, "none" for a plain answer, "error" on failure,
    "cut" for a tool-call block the token cap stopped before it could be parsed."""
    metadata = getattr(message, "response_metadata", {}) or {}
    if metadata.get("error"):
        return ERROR
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        return calls[0]["name"]
    text = message.content if isinstance(message.content, str) else ""
    if metadata.get("finish_reason") == "length" and text.lstrip().startswith("```json"):
        return CUT
    return NONE


def confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """expected -> called -> count, for every (expected, called) pair."""
    table: dict[str, Counter[str]] = {}
    for expected, called in pairs:
        table.setdefault(expected, Counter())[called] += 1
    return {expected: dict(counts) for expected, counts in table.items()}


def confusion_table(matrix: dict[str, dict[str, int]]) -> str:
    """Rows: expected; columns: what was called (every label seen on either side)."""
    labels = sorted({*matrix, *(c for row in matrix.values() for c in row)})
    rows = []
    for expected in sorted(matrix):
        counts = matrix[expected]
        total = sum(counts.values())
        right = counts.get(expected, 0)
        rows.append([expected, *(counts.get(c, 0) or "." for c in labels), f"{right}/{total}"])
    return markdown_table(["expected \\ called", *labels, "right"], rows)


def summarize(
    cases: Sequence[dict[str, Any]],
    called: Sequence[str],
    seconds: Sequence[float],
    routes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The routing result as saved: accuracy, confusion, every miss with its prompt and
    the router node's choice when the graph has one."""
    routes = routes or [""] * len(cases)
    pairs = [(c["expected"], got) for c, got in zip(cases, called, strict=True)]
    correct = sum(1 for expected, got in pairs if expected == got)
    misses = [
        {
            "id": c["id"],
            "prompt": c["prompt"],
            "history_turns": len(c.get("history", [])),
            "expected": c["expected"],
            "called": got,
            "router": router,
        }
        for c, got, router in zip(cases, called, routes, strict=True)
        if c["expected"] != got
    ]
    return {
        "method": METHOD,
        "cases": len(pairs),
        "correct": correct,
        "accuracy": correct / len(pairs) if pairs else None,
        "confusion": confusion(pairs),
        "misses": misses,
        "seconds": spread(seconds),
    }


async def route(assistant: Assistant, case: dict[str, Any]) -> tuple[str, str]:
    """The tool the assistant's model node calls first for this case (in a fresh thread),
    and what the graph's router node chose before it ("" for a graph without a router)."""
    from langchain_core.messages import HumanMessage

    config = assistant.config(f"bench-routing-{uuid.uuid4()}", "bench", assistant.settings)
    messages = [*history_messages(case.get("history", [])), HumanMessage(case["prompt"])]
    await assistant.prepare(assistant.settings)
    state = await assistant.graph().ainvoke(
        {"messages": messages}, config, interrupt_before=["tools"]
    )
    return routed_tool(state["messages"][-1]), str(state.get("route", ""))


async def measure_routing(
    capped: Assistant, full: Assistant, cases: Sequence[dict[str, Any]], progress: bool = True
) -> dict[str, Any]:
    """Route every case with the capped reply; a case whose capped call failed or was cut
    (a tool-call block llama.cpp cannot parse once cut) is routed again as the app would,
    so the cap saves time without changing an outcome."""
    from tqdm import tqdm

    called, routes, seconds, retried = [], [], [], 0
    for case in tqdm(cases, desc="routing", unit="turn", disable=not progress):
        started = time.perf_counter()
        tool, router = await route(capped, case)
        if tool in (ERROR, CUT):
            tool, router = await route(full, case)
            retried += 1
        seconds.append(time.perf_counter() - started)
        called.append(tool)
        routes.append(router)
    return {**summarize(cases, called, seconds, routes), "rerun_uncapped": retried}


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Routing: {result['correct']}/{result['cases']} right "
        f"({100 * result['accuracy']:.1f}%), routing call median "
        f"{result['seconds']['median']:.1f} s, p90 {result['seconds']['p90']:.1f} s",
        f"method: {result['method']}",
        "",
        confusion_table(result["confusion"]),
    ]
    if result["misses"]:
        lines += ["", "misses:"]
        lines += [
            f"- {m['id']}: {m['prompt']!r}"
            + (f" (after {m['history_turns']} turn(s))" if m["history_turns"] else "")
            + f" -> expected {m['expected']}, called {m['called']}"
            + (f" (router: {m['router']})" if m.get("router") else "")
            for m in result["misses"]
        ]
    return "\n".join(lines)
