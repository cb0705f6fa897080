"""Chat latency with the local LLM: the agent against the same prompt sent straight to the
llama.cpp server, in one process, so the ratio is fair whatever the machine is doing.

    python -m bench.chat_latency [--runs 5]

Prints: first start (model assembly, server start, peak server memory), then for a no-tool
turn and a one-tool turn the median time to first token and full-turn time, through the
agent and straight to the server, and the agent's overhead as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm_server import LocalLLMServer, assemble_model, free_port
from agent.prompts import SYSTEM_PROMPT
from agent.providers import make_chat_model
from agent.runner import Assistant, open_checkpointer
from core.settings import Settings

PROMPTS = {
    "no tool": "Hi! In one sentence, what is a token?",
    "one tool": 'Do "The cat chased the dog." and "The dog chased the cat." mean the same?',
}
GOALS = {"no tool": ("first token", 3.0), "one tool": ("full turn", 12.0)}


async def agent_turn(assistant: Assistant, text: str, thread: str):
    """A turn through the app's runner: seconds to the first visible result (the tool's
    artifact or the answer's first token) and to the end of the turn."""
    from agent.events import Finished

    async for event in assistant.run_turn(text, thread, "bench"):
        if isinstance(event, Finished):
            return event.first_result_seconds or event.seconds, event.seconds
    raise AssertionError("the runner ended a turn without Finished")


async def direct_turn(settings: Settings, text: str):
    """The bare server: one streamed chat call with the same system prompt, no tools."""
    model = make_chat_model(settings)
    start, first = time.perf_counter(), None
    async for chunk in model.astream([SystemMessage(SYSTEM_PROMPT), HumanMessage(text)]):
        if first is None and chunk.content:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    return first or total, total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        assemble_model(Settings.from_env({"data_dir": tmp}), progress=False)
        assembly = time.perf_counter() - t
    settings = Settings.from_env({"llm_port": free_port()})
    server = LocalLLMServer(settings)
    t = time.perf_counter()
    server.start()
    startup = time.perf_counter() - t
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with open_checkpointer(settings.with_(data_dir=Path(tmp))) as cp:
                assistant = Assistant(settings, cp)
                await assistant.warm_up()
                for name, text in PROMPTS.items():
                    agent = [await agent_turn(assistant, text, f"{name}-{i}") for i in range(runs)]
                    direct = [await direct_turn(settings, text) for _ in range(runs)]
                    rows.append((name, agent, direct))
        peak = peak_rss_mb(server.proc.pid)
    finally:
        server.stop()

    print(f"first start: model assembly {assembly:.1f} s, server ready {startup:.1f} s, "
          f"server peak memory {peak:.0f} MB")  # fmt: skip
    print(
        f"\n{'turn':10} {'path':7} {'first token s':>14} {'full turn s':>12}   (median of {runs})"
    )
    for name, agent, direct in rows:
        for path, samples in (("agent", agent), ("direct", direct)):
            ttft = statistics.median(s[0] for s in samples)
            total = statistics.median(s[1] for s in samples)
            print(f"{name:10} {path:7} {ttft:14.2f} {total:12.2f}")
        ratio_first = statistics.median(s[0] for s in agent) / statistics.median(
            s[0] for s in direct
        )
        ratio_total = statistics.median(s[1] for s in agent) / statistics.median(
            s[1] for s in direct
        )
        measure, goal = GOALS[name]
        value = statistics.median(s[0 if measure == "first token" else 1] for s in agent)
        flag = "met" if value <= goal else "NOT met"
        print(f"{name:10} overhead x{ratio_first:.2f} first token, x{ratio_total:.2f} full turn; "
              f"goal {measure} <= {goal:.0f} s: {flag}")  # fmt: skip


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    asyncio.run(main(ap.parse_args().runs))
