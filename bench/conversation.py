"""Whole conversations, as a learner meets them: many turns in one thread, through the
app's own runner (`Assistant.run_turn`), with the real tools and the local LLM.

    python -m bench.conversation [--only c1,c3] [--turns N] [--set FILE] [--save NAME]

The set is `bench/data/conversations.jsonl`, written by a helper who saw neither the
prompts, the router's examples nor the routing sets: one conversation a line, `{"id",
"turns": [{"user", "tool", "expect"}]}`, where `tool` is the tool that should answer (or
"none") and `expect` lists strings a right answer contains.

Per turn it checks, programmatically:
- route: the tool that ran is the expected one (or none ran);
- facts: the answer states what the tool reported and does not contradict it (the tool's
  `facts`, through `agent.answer_check`: a verdict, its probability, the rows' names, a
  cited passage), and contains the set's `expect` strings, which the writer chose
  independently of the tools;
- cites: a document answer cites only passages it was given, and at least one;
- copy: the answer is not a copy (word similarity > 0.6) of an earlier answer of the thread.
A turn is right when all four hold. Since the agent itself regenerates or replaces an answer
that fails the same fact check, the table also counts answers that were written from the
tool's result instead of by the model: those are right but are the fallback.

Also per turn: seconds, prompt tokens evaluated and reused from llama.cpp's cache, LLM calls,
seconds to the first visible result (the tool's artifact, or the first answer word).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.answer_check import (
    COPY_SIMILARITY,
    FROM_RESULT,
    check_answer,
    mentions,
    similarity,
)
from bench.report import markdown_table, spread

if TYPE_CHECKING:
    from agent.runner import Assistant

CONVERSATIONS = Path(__file__).resolve().parent / "data" / "conversations.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "conversation.json"
RAG_TOOL = "search_documents"
GOALS = {
    "answers right": 0.95,
    "routing": 0.95,
    "median tool turn s": 10.0,
    "median first visible result s (tool turns)": 4.0,
    "last three / first three tool turns": 1.3,
}


def load_conversations(path: Path = CONVERSATIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def judge(turn: dict[str, Any], finished: dict[str, Any], earlier: Sequence[str]) -> dict:
    """The four checks of one turn (see the module docstring)."""
    answer = finished["answer"]
    ran = finished["tool_calls"][0]["name"] if finished["tool_calls"] else "none"
    result = finished["tool_results"][0] if finished["tool_results"] else None
    artifact = (result or {}).get("artifact") or {}
    facts = artifact.get("facts") if isinstance(artifact, dict) else None
    problems = check_answer(answer, facts, []).problems if result else []
    fact_problems = [p for p in problems if "cites" not in p]
    cite_problems = [p for p in problems if "cites" in p]
    missing = [e for e in turn.get("expect", []) if not mentions(answer, [e])]
    copied = max((similarity(answer, e) for e in earlier if e), default=0.0)
    checks = {
        "route": ran == turn["tool"],
        "facts": not fact_problems and not missing and not finished["error"],
        "cites": not cite_problems if ran == RAG_TOOL else True,
        "copy": copied <= COPY_SIMILARITY,
    }
    return {
        "checks": checks,
        "right": all(checks.values()),
        "ran": ran,
        "problems": fact_problems + cite_problems + [f"missing {m!r}" for m in missing],
        "copy_similarity": round(copied, 2),
    }


async def run_conversation(
    assistant: Assistant, conversation: dict[str, Any], max_turns: int | None = None
) -> list[dict[str, Any]]:
    from agent.events import Finished

    thread = f"bench-conversation-{conversation['id']}-{uuid.uuid4().hex[:8]}"
    rows: list[dict[str, Any]] = []
    earlier: list[str] = []
    for number, turn in enumerate(conversation["turns"][:max_turns], 1):
        finished: dict[str, Any] = {}
        async for event in assistant.run_turn(turn["user"], thread, "bench"):
            if isinstance(event, Finished):
                finished = event.as_dict()
        verdict = judge(turn, finished, earlier)
        calls = finished["llm_calls"]
        rows.append(
            {
                "conversation": conversation["id"],
                "turn": number,
                "user": turn["user"],
                "expected": turn["tool"],
                **verdict,
                "answer": finished["answer"],
                "source": (finished.get("check") or {}).get("source", ""),
                # What the answer check sent back before the final answer, if anything.
                "check_first": (finished.get("check") or {}).get("first", []),
                "corrected": (finished.get("check") or {}).get("corrected", []),
                "route_note": finished["route_note"],
                "tool_args": [c["args"] for c in finished.get("tool_calls", [])],
                "seconds": round(finished["seconds"], 2),
                "first_result_seconds": _round(finished["first_result_seconds"]),
                "llm_calls": len(calls),
                "tokens_evaluated": sum(c["prompt_tokens"] - c["cached_tokens"] for c in calls),
                "tokens_reused": sum(c["cached_tokens"] for c in calls),
            }
        )
        earlier.append(finished["answer"])
    await assistant.delete_thread(thread)
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def growth(rows: Sequence[dict[str, Any]]) -> float | None:
    """Median of a conversation's last three tool turns over its first three: whether turns
    slow down as the history grows (None with fewer than six tool turns)."""
    tools = [r["seconds"] for r in rows if r["ran"] != "none"]
    if len(tools) < 6:
        return None
    return statistics.median(tools[-3:]) / statistics.median(tools[:3])


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    tool_rows = [r for r in rows if r["ran"] != "none"]
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_conversation.setdefault(r["conversation"], []).append(r)
    ratios = {c: growth(rs) for c, rs in by_conversation.items()}
    measured = [v for v in ratios.values() if v is not None]
    firsts = [r["first_result_seconds"] for r in tool_rows if r["first_result_seconds"]]
    n = len(rows)
    return {
        "turns": n,
        "answers_right": sum(r["right"] for r in rows) / n if n else None,
        "routing": sum(r["checks"]["route"] for r in rows) / n if n else None,
        "copies": sum(not r["checks"]["copy"] for r in rows),
        "written_from_result": sum(r["source"] == FROM_RESULT for r in rows),
        "second_try": sum(r["source"] == "model, second try" for r in rows),
        "tool_turn_seconds": spread([r["seconds"] for r in tool_rows]),
        "all_turn_seconds": spread([r["seconds"] for r in rows]),
        "first_result_seconds_tool_turns": spread(firsts),
        "llm_calls_per_turn": statistics.mean(r["llm_calls"] for r in rows) if n else None,
        "tokens_evaluated_median": statistics.median(r["tokens_evaluated"] for r in rows)
        if n
        else None,
        "tokens_reused_share": (
            sum(r["tokens_reused"] for r in rows)
            / max(1, sum(r["tokens_reused"] + r["tokens_evaluated"] for r in rows))
        ),
        "growth_by_conversation": ratios,
        "growth_median": statistics.median(measured) if measured else None,
    }


def goals(summary: dict[str, Any]) -> list[tuple[str, str, bool | None, str]]:
    """(goal, bar, met, measured) for each goal of the conversation issue."""

    def pct(v: float | None) -> str:
        return "not measured" if v is None else f"{100 * v:.1f}%"

    tool_median = summary["tool_turn_seconds"].get("median")
    first_median = summary["first_result_seconds_tool_turns"].get("median")
    growth_median = summary["growth_median"]
    rows = [
        ("answers right", ">= 95%", summary["answers_right"], pct(summary["answers_right"])),
        ("copies", "0", None, str(summary["copies"])),
        ("routing", ">= 95%", summary["routing"], pct(summary["routing"])),
        ("median tool turn", "<= 10 s", tool_median, f"{tool_median} s"),
        ("median first visible result (tool turns)", "<= 4 s", first_median, f"{first_median} s"),
        ("last three / first three tool turns", "<= 1.3x", growth_median, f"{growth_median}"),
    ]
    bars = [0.95, None, 0.95, 10.0, 4.0, 1.3]
    out = []
    for (name, bar, value, shown), limit in zip(rows, bars, strict=True):
        if name == "copies":
            out.append((name, bar, summary["copies"] == 0, shown))
        elif value is None:
            out.append((name, bar, None, shown))
        elif name in ("answers right", "routing"):
            out.append((name, bar, value >= limit, shown))
        else:
            out.append((name, bar, value <= limit, shown))
    return out


def turns_table(rows: Sequence[dict[str, Any]]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    return markdown_table(
        ["conv", "turn", "s", "first s", "eval tok", "reused tok", "LLM calls", "route",
         "route ok", "facts", "cites", "copy", "source"],
        [
            [r["conversation"], r["turn"], r["seconds"], r["first_result_seconds"] or "",
             r["tokens_evaluated"], r["tokens_reused"], r["llm_calls"],
             r["ran"] if r["checks"]["route"] else f"{r['ran']} (want {r['expected']})",
             mark(r["checks"]["route"]), mark(r["checks"]["facts"]), mark(r["checks"]["cites"]),
             mark(r["checks"]["copy"]), r["source"]]
            for r in rows
        ],
    )  # fmt: skip


def goals_table(summary: dict[str, Any]) -> str:
    status = {True: "met", False: "NOT MET", None: "not measured"}
    return markdown_table(
        ["goal", "bar", "status", "measured"],
        [[name, bar, status[met], shown] for name, bar, met, shown in goals(summary)],
    )


async def measure_conversations(
    assistant: Assistant,
    conversations: Sequence[dict[str, Any]],
    max_turns: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for conversation in conversations:
        started = time.perf_counter()
        done = await run_conversation(assistant, conversation, max_turns)
        rows += done
        if progress:
            print(f"\nconversation {conversation['id']}: {time.perf_counter() - started:.0f} s\n"
                  + turns_table(done), flush=True)  # fmt: skip
    return {"set": CONVERSATIONS.name, "rows": rows, "summary": summarize(rows)}


def report(result: dict[str, Any]) -> str:
    summary = result["summary"]
    misses = [
        f"- {r['conversation']}.{r['turn']} {r['user']!r}: "
        + "; ".join([*(f"{k} failed" for k, ok in r["checks"].items() if not ok), *r["problems"]])
        + f"\n  answer: {r['answer'][:300]!r}"
        for r in result["rows"]
        if not r["right"]
    ]
    return "\n".join(
        [
            turns_table(result["rows"]),
            "",
            goals_table(summary),
            "",
            f"LLM calls per turn {summary['llm_calls_per_turn']:.2f}; prompt tokens reused "
            f"{100 * summary['tokens_reused_share']:.0f}%; answers written from the tool's "
            f"result {summary['written_from_result']}, on a second try "
            f"{summary['second_try']}",
            *(["", "Wrong turns:", *misses] if misses else []),
        ]
    )


async def main(
    only: Sequence[str], max_turns: int | None, out: Path = RESULTS, path: Path = CONVERSATIONS
) -> int:
    import tempfile

    from agent.llm_server import LocalLLMServer, free_port
    from agent.runner import Assistant, open_checkpointer
    from bench.concurrency import PROMPTS, SHARED_DATA
    from bench.report import save
    from core.settings import Settings

    conversations = [c for c in load_conversations(path) if not only or c["id"] in only]
    settings = Settings.from_env({"llm_port": free_port()})
    with tempfile.TemporaryDirectory() as tmp, LocalLLMServer(settings):
        local = settings.with_(data_dir=Path(tmp), graph_bolt_port=free_port(),
                               graph_http_port=free_port())  # fmt: skip
        for name in SHARED_DATA:  # model files, not state: shared with ./data
            if (Path(settings.data_dir) / name).exists():
                (Path(tmp) / name).symlink_to((Path(settings.data_dir) / name).resolve())
        async with open_checkpointer(local) as cp:
            assistant = Assistant(local, cp)
            await assistant.warm_up()
            # Each tool's first use loads its model or builds its index: not a turn's cost.
            for text in PROMPTS:
                await assistant.ainvoke(text, f"warm-{uuid.uuid4().hex[:6]}", "bench")
            result = await measure_conversations(assistant, conversations, max_turns)
    result["set"] = path.name
    print(report(result))
    save(result, out)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated conversation ids")
    ap.add_argument("--turns", type=int, default=None, help="first N turns of each")
    ap.add_argument("--save", default="conversation", help="results file name, no .json")
    ap.add_argument("--set", type=Path, default=CONVERSATIONS, help="a conversation set (.jsonl)")
    args = ap.parse_args()
    out = RESULTS.with_name(f"{args.save}.json")
    only = [c for c in args.only.split(",") if c]
    raise SystemExit(asyncio.run(main(only, args.turns, out, args.set)))
