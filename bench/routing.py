"""Routing accuracy: does the agent pick the right tool (or none) for a chat turn?

The sets are `bench/data/routing.jsonl` (82 turns, the one the router was tuned on) and
`bench/data/routing_heldout.jsonl` (70 turns, held out): one turn a line, `{"id", "prompt", "expected",
"history"?, "note"?}` where `expected` is a tool name or "none", and `history` holds earlier
turns `{"user", "assistant", "tool"?: {"name", "args", "output"}}` for follow-ups that only
make sense with them.

Method: the real compiled agent graph (`Assistant.graph()`: the same route node as a chat:
classifier, no-tool and lesson rules, the LLM router when the classifier is unsure), invoked
with `interrupt_before=["act", "answer"]`, so it stops once the route is chosen and before
any tool runs. The graph runs at most one tool, the routed one, so the route is what would
run. "What can you teach me?" (the lesson list) counts as "none".
"""

from __future__ import annotations

import asyncio
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

ROUTING_SET = Path(__file__).resolve().parent / "data" / "routing.jsonl"
# Written by a helper that saw neither the router's examples nor its prompt, after the
# router was tuned on ROUTING_SET: the honest estimate of accuracy on new wording.
HELDOUT_SET = ROUTING_SET.with_name("routing_heldout.jsonl")
SETS = {"routing": ROUTING_SET, "routing_heldout": HELDOUT_SET}
NONE = "none"
METHOD = (
    "route node of the real agent graph (interrupt before the tool runs); history turns "
    "replayed as messages"
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
    """The tool the graph routes this case to (in a fresh thread), and how it decided."""
    from langchain_core.messages import HumanMessage

    from agent.graph import ABOUT

    config = assistant.config(f"bench-routing-{uuid.uuid4()}", "bench")
    messages = [*history_messages(case.get("history", [])), HumanMessage(case["prompt"])]
    await assistant.prepare(assistant.context)
    graph = await asyncio.to_thread(assistant.graph)
    state = await graph.ainvoke(
        {"messages": messages},
        config,
        context=assistant.context,
        interrupt_before=["act", "answer"],
    )
    chosen = state.get("route", NONE)
    return (NONE if chosen == ABOUT else chosen), str(state.get("route_note", ""))


async def measure_routing(
    assistant: Assistant, cases: Sequence[dict[str, Any]], progress: bool = True
) -> dict[str, Any]:
    from tqdm import tqdm

    called, routes, seconds = [], [], []
    for case in tqdm(cases, desc="routing", unit="turn", disable=not progress):
        started = time.perf_counter()
        tool, router = await route(assistant, case)
        seconds.append(time.perf_counter() - started)
        called.append(tool)
        routes.append(router)
    return summarize(cases, called, seconds, routes)


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
