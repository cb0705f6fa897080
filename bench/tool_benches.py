"""The per-tool benchmark scripts of bench/, run as subprocesses.

Each tool helper's script is a `main()` that prints its own tables; running it as a
subprocess keeps its heavy imports and thread settings out of the harness and needs no
change to the script. The harness keeps the printed output, the Markdown tables in it and
any goal the script reports as missed. Scripts that land later are found by their
`if __name__ == "__main__":` line and run without arguments under their own name.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
TIMEOUT_S = 3600


@dataclass(frozen=True)
class Script:
    """A benchmark script, the part it belongs to, its arguments for `--limit N`, and
    whether it calls the LLM (only then does the harness start the local server for it)."""

    file: str
    part: str
    limited: Callable[[int], list[str]] = lambda n: []
    note: str = ""
    needs_llm: bool = False


KNOWN = (
    Script("rag_retrieval.py", "rag"),
    Script("rag_ingest.py", "rag", lambda n: ["--repeats", "1"]),
    Script("faiss_latency.py", "rag", lambda n: ["--queries", str(10 * n), "--sizes", "10000"]),
    Script("entities_bench.py", "entities", lambda n: ["--llm-sentences", str(n)], needs_llm=True),
    Script("attention_bench.py", "attention", lambda n: ["--repeats", str(max(1, n))]),
    Script(
        "paraphrase_bench.py",
        "paraphrase",
        lambda n: ["--runs", str(10 * n)],
        note="rewrites knowledge/paraphrase/bench.json",
    ),
    Script("grounding.py", "grounding", note="the grounding check against hand labels"),
    Script(
        "graph_text2cypher.py",
        "graph",
        lambda n: ["--only", *graph_question_ids(n)],
        needs_llm=True,
    ),
)

MAIN_GUARD = re.compile(r'^if __name__ == "__main__":', re.MULTILINE)  # not in a docstring
NUMBER = r"(-?\d+(?:\.\d+)?)%?"
# "0.85 (goal >= 0.9)" and a table row "| accuracy (goal >= 90%) | 78% |".
GOAL_AFTER = re.compile(NUMBER + r"\s*\(goal\s*(>=|<=)\s*" + NUMBER + r"\)")
GOAL_BEFORE = re.compile(r"\(goal\s*(>=|<=)\s*" + NUMBER + r"\)\s*\|\s*" + NUMBER)


def graph_question_ids(n: int) -> list[str]:
    """The first n question ids of the text-to-Cypher benchmark (it selects by id)."""
    from bench.graph_text2cypher import questions
    from knowledge.graph_load import DATASET, parse_articles

    return [q.id for q in questions(parse_articles(DATASET))[:n]]


def scripts() -> list[Script]:
    """The known scripts that exist, then any other runnable script of bench/."""
    known = {s.file for s in KNOWN}
    found = [s for s in KNOWN if (BENCH_DIR / s.file).exists()]
    for path in sorted(BENCH_DIR.glob("*.py")):
        if path.name not in known and MAIN_GUARD.search(path.read_text()):
            found.append(Script(path.name, path.stem, needs_llm=True))  # unknown: assume so
    return found


def missed_goals(output: str) -> list[str]:
    """Goals a script reports as missed: lines marked MISSED / NOT MET, and measured values
    on the wrong side of a printed "(goal >= Y)", before it or in the next table cell."""
    missed = [
        line.strip()
        for line in output.splitlines()
        if "MISSED" in line or "NOT MET" in line.upper()
    ]
    for line in output.splitlines():
        checks = GOAL_AFTER.findall(line) + [(v, op, b) for op, b, v in GOAL_BEFORE.findall(line)]
        for value, op, bound in checks:
            ok = float(value) >= float(bound) if op == ">=" else float(value) <= float(bound)
            if not ok:
                missed.append(line.strip())
    return missed


def tables(output: str) -> list[str]:
    """The Markdown tables a script printed, each as one block of text."""
    blocks, current = [], []
    for line in output.splitlines():
        if line.lstrip().startswith("|"):
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def run_script(script: Script, settings: Settings, limit: int | None) -> dict[str, Any]:
    """Run one script with the harness's LLM port, so it shares the harness's server."""
    cmd = [sys.executable, str(BENCH_DIR / script.file)]
    if limit is not None:
        cmd += script.limited(limit)
    env = {
        **os.environ,
        "GENAI101_LLM_PORT": str(settings.llm_port),
        "GENAI101_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "PYTHONPATH": str(REPO),
    }
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        output, returncode, stderr = proc.stdout, proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        output, returncode, stderr = str(exc.stdout or ""), None, f"timed out after {TIMEOUT_S} s"
    return {
        "script": f"bench/{script.file}",
        "args": cmd[2:],
        "part": script.part,
        "note": script.note,
        "returncode": returncode,
        "seconds": time.perf_counter() - started,
        "output": output,
        "stderr_tail": stderr[-2000:] if returncode != 0 else "",
        "tables": tables(output),
        "missed": missed_goals(output),
    }
