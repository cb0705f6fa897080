"""`genai101 bench`: every benchmark with the local LLM, one summary, one JSON file.

Parts: the agent-level measures (routing, latency, grounding, concurrency; see their
modules) and the per-tool scripts of bench/ grouped by tool (rag, entities, attention,
paraphrase, graph, ...). `--only` picks parts; `--limit N` shrinks each part (N cases per
tool for latency, N questions per tool for grounding, the first N routing turns, fewer
repeats in the scripts). Agent-level parts use a throwaway data folder (model files linked
in) and checkpointer, so a benchmark never touches a learner's history or indexes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.llm_server import free_port
from bench import report
from bench.concurrency import SHARED_DATA
from bench.tool_benches import Script, run_script, scripts
from core.settings import Settings

AGENT_PARTS = ("routing", "conversation", "latency", "grounding", "concurrency")
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
LATENCY_PER_TOOL = 3
GROUNDING_PER_TOOL = 8


class PartError(ValueError):
    """An unknown name in --only; the message lists the known ones."""


def select(only: Sequence[str] | None) -> tuple[list[str], list[Script]]:
    """The agent parts and the scripts that `--only` names (everything when empty)."""
    available = scripts()
    names = set(only or [])
    known = set(AGENT_PARTS) | {s.part for s in available}
    unknown = names - known
    if unknown:
        raise PartError(
            f"Unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(sorted(known))}."
        )
    agent = [p for p in AGENT_PARTS if not names or p in names]
    return agent, [s for s in available if not names or s.part in names]


def bench_settings(settings: Settings) -> Settings:
    """Settings for the agent-level parts: a fresh data folder (removed at exit, after the
    graph server that may live in it) with the model files linked in, and free graph ports."""
    tmp = Path(tempfile.mkdtemp(prefix="genai101-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    source = Path(settings.data_dir).resolve()
    for name in SHARED_DATA:
        if (source / name).exists():
            (tmp / name).symlink_to(source / name)
    return settings.with_(data_dir=tmp, graph_bolt_port=free_port(), graph_http_port=free_port())


async def run_agent_parts(
    settings: Settings, parts: Sequence[str], limit: int | None, progress: bool
) -> dict[str, Any]:
    from tqdm import tqdm

    from agent.runner import Assistant, open_checkpointer
    from bench import concurrency, conversation, routing, turns

    results: dict[str, Any] = {}
    if not parts:
        return results
    cases = routing.load_cases()
    local = bench_settings(settings)
    async with open_checkpointer(local) as checkpointer:
        assistant = Assistant(local, checkpointer)
        if "routing" in parts:
            for name, path in routing.SETS.items():
                chosen = routing.load_cases(path)[:limit] if limit else routing.load_cases(path)
                results[name] = await routing.measure_routing(assistant, chosen, progress)
                print(f"\n{path.name}: " + routing.report(results[name]), flush=True)
        if {"conversation", "latency", "grounding"} & set(parts):
            # First use of each tool loads its model and builds its index: not a turn's cost.
            for text in tqdm(concurrency.PROMPTS, desc="warm-up", disable=not progress):
                await turns.run_turn(assistant, text)
        if "conversation" in parts:
            chosen = conversation.load_conversations()
            results["conversation"] = await conversation.measure_conversations(
                assistant, chosen[:limit] if limit else chosen, progress=progress
            )
            print("\nConversations\n" + conversation.report(results["conversation"]), flush=True)
        if "latency" in parts:
            per_tool = limit or LATENCY_PER_TOOL
            results["latency"] = await turns.measure_latency(assistant, cases, per_tool, progress)
            print("\nLatency (tools loaded)\n" + turns.latency_table(results["latency"]["summary"]))
        if "grounding" in parts:
            per_tool = limit or GROUNDING_PER_TOOL
            results["grounding"] = await turns.measure_grounding(
                assistant, cases, per_tool, progress
            )
            print("\nGrounding\n" + turns.grounding_table(results["grounding"]), flush=True)
    if "concurrency" in parts:
        levels = (
            concurrency.LEVELS if not limit else tuple(n for n in concurrency.LEVELS if n <= limit)
        )
        results["concurrency"] = await concurrency.measure_concurrency(
            settings, levels or (1,), progress
        )
        print("\nConcurrency\n" + concurrency.concurrency_table(results["concurrency"]))
    return results


def run_scripts(settings: Settings, chosen: Sequence[Script], limit: int | None) -> dict:
    from tqdm import tqdm

    results = {}
    for script in tqdm(chosen, desc="tool benchmarks", unit="script"):
        result = run_script(script, settings, limit)
        results[script.file.removesuffix(".py")] = result
        status = "ok" if result["returncode"] == 0 else f"FAILED ({result['returncode']})"
        print(
            f"\n## {result['script']} {' '.join(result['args'])}: {status}, "
            f"{result['seconds']:.0f} s\n{result['output'].rstrip()}",
            flush=True,
        )
        if result["returncode"] != 0:
            print(result["stderr_tail"])
    return results


def summary(results: dict[str, Any]) -> str:
    """The one table at the end: every goal and whether it was met."""
    lines = ["", "# Summary", ""]
    timings = [[name, f"{seconds:.0f}"] for name, seconds in results["part_seconds"].items()]
    lines += [report.markdown_table(["part", "seconds"], timings), ""]
    found = report.goals(results)
    lines.append(report.goals_table(found))
    failed = [g for g in found if g.met is False]
    lines.append(
        f"\n{len(failed)} goal(s) NOT MET: " + "; ".join(f"{g.part}: {g.name}" for g in failed)
        if failed
        else "\nall measured goals met"
    )
    return "\n".join(lines)


def run(
    settings: Settings,
    only: Sequence[str] | None = None,
    limit: int | None = None,
    json_out: Path = RESULTS,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the chosen parts, print their tables and the summary, save everything as JSON."""
    from agent.llm_server import LocalLLMServer

    parts, chosen = select(only)
    results: dict[str, Any] = {
        "machine": report.machine(),
        "settings": {"provider": settings.provider, "llm_threads": settings.llm_threads,
                     "llm_batch_threads": settings.llm_batch_threads,
                     "torch_threads": settings.torch_threads, "limit": limit},
        "part_seconds": {},
        "tools": {},
    }  # fmt: skip
    needs_llm = bool(parts) or any(s.needs_llm for s in chosen)
    local = settings.provider == "local" and needs_llm
    with LocalLLMServer(settings) if local else contextlib.nullcontext():
        started = time.perf_counter()
        results |= asyncio.run(run_agent_parts(settings, parts, limit, progress))
        if parts:
            results["part_seconds"]["agent (" + ", ".join(parts) + ")"] = (
                time.perf_counter() - started
            )
        results["tools"] = run_scripts(settings, chosen, limit)
        for name, run_result in results["tools"].items():
            results["part_seconds"][name] = run_result["seconds"]
    print(summary(results))
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(f"\nsaved {json_out}")
    return results
