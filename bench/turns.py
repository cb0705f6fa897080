"""Whole agent turns with the real tools: latency per tool and per turn, and grounding.

A turn runs through the assistant's compiled graph with a callback handler that records
when each chat-model call and each tool starts and ends. Tools that call the LLM themselves
(text-to-Cypher, query rewriting) inherit the callbacks through LangChain's run context, so
"LLM time" is every model call of the turn and "LLM in tool" the part spent inside tools.
The model may ask for several tools at once and LangGraph runs them in parallel, so times
are unions of intervals (wall time with something running), never sums.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler

from bench import grounding
from bench.report import markdown_table, spread
from bench.routing import NONE

if TYPE_CHECKING:
    from agent.runner import Assistant

RAG_QUESTIONS = Path(__file__).resolve().parent / "data" / "rag_questions.jsonl"
RAG_TOOL = "search_documents"
GRAPH_TOOL = "query_knowledge_graph"
RAG_PREFIX = "Using the course documents: "


class TurnTimer(BaseCallbackHandler):
    """Start/end times of model calls and tools within one turn (inline, so the times are
    not shifted by a thread-pool hop)."""

    run_inline = True

    def __init__(self) -> None:
        self.open: dict[Any, tuple[str, float]] = {}
        self.llm: list[tuple[float, float]] = []
        self.tools: list[tuple[str, float, float]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, **kw: Any):
        self.open[run_id] = ("llm", time.perf_counter())

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: Any, **kw: Any):
        name = kw.get("name") or (serialized or {}).get("name", "tool")
        self.open[run_id] = (name, time.perf_counter())

    def _close(self, run_id: Any, kind: str) -> None:
        name, start = self.open.pop(run_id, ("", 0.0))
        if not name:
            return
        if kind == "llm":
            self.llm.append((start, time.perf_counter()))
        else:
            self.tools.append((name, start, time.perf_counter()))

    def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any):
        self._close(run_id, "llm")

    def on_llm_error(self, error: BaseException, *, run_id: Any, **kw: Any):
        self._close(run_id, "llm")

    def on_tool_end(self, output: Any, *, run_id: Any, **kw: Any):
        self._close(run_id, "tool")

    def on_tool_error(self, error: BaseException, *, run_id: Any, **kw: Any):
        self._close(run_id, "tool")

    def llm_seconds(self) -> float:
        """Wall time with at least one model call running (parallel tool calls overlap)."""
        return covered(self.llm)

    def tool_seconds(self) -> float:
        return covered([(start, end) for _, start, end in self.tools])

    def llm_in_tools(self) -> float:
        """Wall time with a model call running while a tool runs (text-to-Cypher, rewrites)."""
        tools = merged([(start, end) for _, start, end in self.tools])
        return sum(
            max(0.0, min(end, t_end) - max(start, t_start))
            for start, end in merged(self.llm)
            for t_start, t_end in tools
        )


def merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping (start, end) spans joined, in time order."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered(spans: Sequence[tuple[float, float]]) -> float:
    return sum(end - start for start, end in merged(spans))


async def run_turn(assistant: Assistant, text: str) -> dict[str, Any]:
    """One turn in a fresh thread through the app's own runner, with its timings and what
    the tools returned."""
    from agent.events import Finished

    timer = TurnTimer()
    final: Finished | None = None
    thread = f"bench-turn-{uuid.uuid4()}"
    async for event in assistant.run_turn(text, thread, "bench", callbacks=[timer]):
        if isinstance(event, Finished):
            final = event
    assert final is not None  # the runner always ends a turn with Finished
    return {
        "prompt": text,
        "tool": final.tool_calls[0]["name"] if final.tool_calls else NONE,
        "seconds": final.seconds,
        "llm_seconds": timer.llm_seconds(),
        "llm_calls": len(timer.llm),
        "tool_calls": len(timer.tools),
        "tool_seconds": timer.tool_seconds(),
        "llm_in_tools": timer.llm_in_tools(),
        "error": final.error,
        "answer": final.answer,
        "tool_results": [
            {"name": r["name"], "content": r["content"], "artifact": r["artifact"]}
            for r in final.tool_results
        ],
    }


def latency_prompts(cases: Sequence[dict[str, Any]], per_tool: int) -> list[dict[str, Any]]:
    """The first `per_tool` single-turn cases of each expected tool (and of plain chat)."""
    picked: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        if case.get("history"):
            continue
        bucket = picked.setdefault(case["expected"], [])
        if len(bucket) < per_tool:
            bucket.append(case)
    return [case for bucket in picked.values() for case in bucket]


def latency_summary(turns: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per routed tool and over all turns: turn and tool seconds, and the LLM's share."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for turn in turns:
        groups.setdefault(turn["tool"], []).append(turn)
    groups["all turns"] = list(turns)
    out = {}
    for name, group in groups.items():
        total = sum(t["seconds"] for t in group)
        tool_total = sum(t["tool_seconds"] for t in group)
        out[name] = {
            "turn_seconds": spread([t["seconds"] for t in group]),
            "tool_seconds": spread([t["tool_seconds"] for t in group if t["tool"] != NONE]),
            "llm_share": sum(t["llm_seconds"] for t in group) / total if total else None,
            "llm_share_in_tool": (
                sum(t["llm_in_tools"] for t in group) / tool_total if tool_total else None
            ),
            "llm_calls_mean": sum(t["llm_calls"] for t in group) / len(group),
            "tool_calls_mean": sum(t["tool_calls"] for t in group) / len(group),
        }
    return out


def latency_table(summary: dict[str, Any]) -> str:
    rows = [
        [
            name,
            row["turn_seconds"]["n"],
            row["turn_seconds"]["median"],
            row["turn_seconds"]["p90"],
            row["tool_seconds"]["median"],
            row["tool_seconds"]["p90"],
            _share(row["llm_share"]),
            _share(row["llm_share_in_tool"]),
            f"{row['llm_calls_mean']:.1f}",
            f"{row['tool_calls_mean']:.1f}",
        ]
        for name, row in summary.items()
    ]
    headers = ["routed to", "turns", "turn med s", "turn p90 s", "tool med s", "tool p90 s"]
    headers += ["LLM share", "LLM share in tool", "LLM calls", "tool calls"]
    return markdown_table(headers, rows)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def evidence(turn: dict[str, Any], tool: str) -> tuple[str, bool]:
    """What the answer may draw on, and whether it cited passages. RAG: see
    `rag_evidence`; graph: the tool's text (Cypher and rows). Both plus the question."""
    results = [r for r in turn["tool_results"] if r["name"] == tool]
    if tool != RAG_TOOL:
        return "\n".join([turn["prompt"], *(r["content"] for r in results)]), False
    passages = [p for r in results for p in (r["artifact"] or {}).get("passages", [])]
    text, cited = rag_evidence(turn["answer"], passages)
    return "\n".join([turn["prompt"], text]), cited


def rag_evidence(answer: str, passages: list[dict[str, Any]]) -> tuple[str, bool]:
    """The passages the answer cites by number, or all it was given when it cites none,
    each with its source and heading as the model read them (an answer naming a section
    names something it was shown). Passages it only copied from do not narrow the evidence:
    that would count the rest of what it was shown as invented."""
    from tools.rag import cited_passages, label

    cited = [p for p in cited_passages(answer, passages) if p["cited"] == "explicit"]
    chosen = cited or passages
    return "\n".join(f"({label(p)}) {p['text']}" for p in chosen), bool(cited)


def grounding_prompts(cases: Sequence[dict[str, Any]], limit: int) -> list[tuple[str, str]]:
    """(tool, prompt): `limit` RAG questions spread over the question set, and the graph
    questions of the routing set (single turns), up to `limit`."""
    questions = [json.loads(line)["question"] for line in RAG_QUESTIONS.read_text().splitlines()]
    step = max(1, len(questions) // limit)
    rag = [(RAG_TOOL, RAG_PREFIX + q) for q in questions[::step][:limit]]
    graph = [
        (GRAPH_TOOL, c["prompt"])
        for c in cases
        if c["expected"] == GRAPH_TOOL and not c.get("history")
    ][:limit]
    return rag + graph


def grounding_summary(turns: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per tool: answers checked (the tool ran), grounded share, fact support, misses."""
    by_tool: dict[str, Any] = {}
    for turn in turns:
        row = by_tool.setdefault(
            turn["expected"],
            {"asked": 0, "checked": 0, "grounded": 0, "facts": 0, "supported": 0, "cited": 0},
        )
        row["asked"] += 1
        if turn["tool"] != turn["expected"] or turn["error"]:
            continue
        text, cited = evidence(turn, turn["expected"])
        verdict = grounding.check(turn["answer"], text)
        turn["grounding"] = verdict
        turn["evidence"] = text  # kept in the JSON, so answers can be hand-labelled later
        row["checked"] += 1
        row["grounded"] += verdict["grounded"]
        row["facts"] += len(verdict["facts"])
        row["supported"] += len(verdict["facts"]) - len(verdict["unsupported"])
        row["cited"] += cited
        if not verdict["grounded"]:
            row.setdefault("ungrounded", []).append(
                {"prompt": turn["prompt"], "unsupported": verdict["unsupported"]}
            )
    for row in by_tool.values():
        row["grounded_share"] = row["grounded"] / row["checked"] if row["checked"] else None
    return {"by_tool": by_tool, "agreement": grounding.agreement(grounding.load_labels())}


def grounding_table(summary: dict[str, Any]) -> str:
    rows = [
        [
            tool,
            row["asked"],
            row["checked"],
            f"{row['grounded']}/{row['checked']}",
            _share(row["grounded_share"]),
            f"{row['supported']}/{row['facts']}",
            row["cited"] if tool == RAG_TOOL else "-",
        ]
        for tool, row in summary["by_tool"].items()
    ]
    headers = ["tool", "asked", "tool ran", "grounded", "share", "facts supported", "cited"]
    table = markdown_table(headers, rows)
    if "agreement" in summary:
        table += "\n\n" + grounding.agreement_text(summary["agreement"])
    return table


async def measure_latency(
    assistant: Assistant, cases: Sequence[dict[str, Any]], per_tool: int, progress: bool = True
) -> dict[str, Any]:
    from tqdm import tqdm

    turns = []
    for case in tqdm(
        latency_prompts(cases, per_tool), desc="latency", unit="turn", disable=not progress
    ):
        turns.append({**await run_turn(assistant, case["prompt"]), "expected": case["expected"]})
    return {"summary": latency_summary(turns), "turns": [_slim(t) for t in turns]}


async def measure_grounding(
    assistant: Assistant, cases: Sequence[dict[str, Any]], limit: int, progress: bool = True
) -> dict[str, Any]:
    from tqdm import tqdm

    turns = []
    for tool, prompt in tqdm(
        grounding_prompts(cases, limit), desc="grounding", unit="turn", disable=not progress
    ):
        turns.append({**await run_turn(assistant, prompt), "expected": tool})
    return {**grounding_summary(turns), "turns": [_slim(t) for t in turns]}


def _slim(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn for the JSON file: tool texts kept, artifacts (figures, views) dropped."""
    results = [{"name": r["name"], "content": r["content"]} for r in turn["tool_results"]]
    return {**turn, "tool_results": results}
