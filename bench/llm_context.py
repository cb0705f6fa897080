"""How the length of a conversation slows every later call of the local LLM.

The same ~460-token tail (a course passage and an instruction) is evaluated after a cached
prefix of 0, ~1,400 and ~4,700 tokens, and 40 tokens are generated; the prefix is sent once
before, so only the tail is read (the response's `timings.cache_n` says how much was
reused). On a CPU each new token attends over the whole context, so prompt and generation
speed both fall as the history grows: the reason the agent keeps earlier tool results in
brief (`agent.graph.rendered`) rather than in full.

    python -m bench.llm_context [--reps 3] [--out bench/results/llm_context.json]

Ratios are against the empty prefix, measured in the same server process. ~2 min here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from agent.llm_server import LocalLLMServer
from bench.report import markdown_table, save
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "knowledge" / "corpus"
OUT = REPO / "bench" / "results" / "llm_context.json"
PREFIX_CHARS = (0, 6000, 20000)  # ~0, ~1,400 and ~4,700 tokens of this corpus
GENERATED = 40


def _post(url: str, messages: list[dict[str, str]]) -> tuple[dict[str, Any], float]:
    body = {"model": "local", "messages": messages, "max_tokens": GENERATED, "temperature": 0,
            "id_slot": 0, "cache_prompt": True}  # fmt: skip
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        reply = json.load(response)
    return reply["timings"], time.perf_counter() - start


def measure(url: str, reps: int) -> list[dict[str, Any]]:
    history = "".join(
        (CORPUS / name).read_text(encoding="utf-8")
        for name in ("retrieval-augmented-generation.md", "quantization.md", "fine-tuning-bert.md")
    )
    tail = (CORPUS / "self-attention-and-transformers.md").read_text(encoding="utf-8")[:2000]
    rows = []
    for chars in PREFIX_CHARS:
        prefix = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": history[:chars] or "hi"},
            {"role": "assistant", "content": "ok"},
        ]
        runs = []
        for rep in range(reps):
            # A different first word each time, so the tail is never already cached.
            ask = {"role": "user", "content": f"({rep}) {tail}\nSummarize it in one sentence."}
            _post(url, [*prefix, {"role": "user", "content": "x"}])  # the prefix, cached
            runs.append(_post(url, [*prefix, ask]))
        rows.append(
            {
                "prefix_tokens": statistics.median(t["cache_n"] for t, _ in runs),
                "tail_tokens": statistics.median(t["prompt_n"] for t, _ in runs),
                "prompt_tok_s": statistics.median(t["prompt_per_second"] for t, _ in runs),
                "gen_tok_s": statistics.median(t["predicted_per_second"] for t, _ in runs),
                "seconds": statistics.median(s for _, s in runs),
            }
        )
    base = rows[0]
    for row in rows:
        row["seconds_ratio"] = row["seconds"] / base["seconds"]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with LocalLLMServer(Settings.from_env()) as server:
        rows = measure(server.base_url + "/chat/completions", args.reps)
    print(
        markdown_table(
            ["cached prefix (tokens)", "tail", "prompt tok/s", "gen tok/s", "seconds", "x empty"],
            [
                [
                    r["prefix_tokens"],
                    r["tail_tokens"],
                    round(r["prompt_tok_s"], 1),
                    round(r["gen_tok_s"], 1),
                    round(r["seconds"], 1),
                    round(r["seconds_ratio"], 2),
                ]
                for r in rows
            ],
        )
    )
    save({"reps": args.reps, "generated": GENERATED, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
