"""Numbers to text: percentiles, Markdown tables, the goals and the machine description.

Kept free of models and servers so the summary logic is tested on hand-made results.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Packages whose versions decide the numbers: the agent stack, the server, the models.
VERSIONED_PACKAGES = (
    "langchain-core",
    "langchain-openai",
    "langgraph",
    "chainlit",
    "python-socketio",
    "xllamacpp",
    "torch",
    "transformers",
    "sentence-transformers",
    "faiss-cpu",
    "onnxruntime",
    "spacy",
)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1): with a handful of turns, interpolating between
    two samples would report a time no turn took."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and p90 of a list of seconds (NaN when empty, so a missing part shows as such)."""
    if not values:
        return {"n": 0, "median": float("nan"), "p90": float("nan")}
    return {"n": len(values), "median": statistics.median(values), "p90": percentile(values, 0.9)}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with columns padded to their widest cell, readable in a terminal."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.2f}"  # NaN: not measured
    return str(value)


@dataclass(frozen=True)
class Goal:
    """One target from the issues, checked against the saved results."""

    part: str
    name: str
    met: bool | None  # None: the part did not run or could not measure it
    detail: str


def goals(results: dict[str, Any]) -> list[Goal]:
    """Every goal the harness knows, from a results dict as saved to JSON.

    Goals: routing accuracy >= 95 % (issue 8); the conversation goals (see
    `bench.conversation.goals`); at least 90 % of RAG and graph answers
    grounded (the harness's own bar for its simple check); concurrency with no errors and
    nothing lost; each per-tool script exits 0 and prints no missed goal of its own.
    """
    out: list[Goal] = []
    for name in ("routing", "routing_heldout"):
        routing = results.get(name)
        if routing:
            acc = routing.get("accuracy")
            met = None if acc is None else acc >= 0.95
            out.append(Goal(name, "accuracy >= 95%", met, _pct(acc)))
    if results.get("conversation"):
        from bench.conversation import goals as conversation_goals

        for name, bar, met, shown in conversation_goals(results["conversation"]["summary"]):
            out.append(Goal("conversation", f"{name} {bar}", met, shown))
    grounding = results.get("grounding")
    if grounding:
        for tool, row in grounding.get("by_tool", {}).items():
            share = row.get("grounded_share")
            met = None if share is None else share >= 0.9
            out.append(Goal("grounding", f"{tool}: >= 90% answers grounded", met, _pct(share)))
    concurrency = results.get("concurrency")
    if concurrency:
        for level in concurrency.get("levels", []):
            ok = (
                level["errors"] == 0 and level["lost"] == 0 and level["completed"] == level["turns"]
            )
            detail = (
                f"{level['completed']}/{level['turns']} turns, {level['errors']} errors, "
                f"{level['lost']} lost"
            )
            out.append(Goal("concurrency", f"{level['sessions']} sessions: all kept", ok, detail))
    for name, run in results.get("tools", {}).items():
        if run.get("skipped"):
            out.append(Goal(name, "script ran", None, run["skipped"]))
            continue
        missed = run.get("missed", [])
        ok = run.get("returncode") == 0 and not missed
        detail = f"exit {run.get('returncode')}" + (
            f"; missed: {'; '.join(missed)}" if missed else ""
        )
        out.append(Goal(name, "script ran, its goals met", ok, detail))
    return out


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.1f}%"


def goals_table(found: Sequence[Goal]) -> str:
    status = {True: "met", False: "NOT MET", None: "not measured"}
    return markdown_table(
        ["part", "goal", "status", "measured"],
        [[g.part, g.name, status[g.met], g.detail] for g in found],
    )


def machine() -> dict[str, Any]:
    """What the numbers depend on: cores, platform, Python, the relevant package versions."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": versions,
    }


def save(result: dict[str, Any], out: Path) -> None:
    """Stamp a result with the machine it ran on and write it as JSON (`bench/results/`)."""
    result["machine"] = machine()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    print(f"\nsaved {out}")
