"""Artifacts (see `tools/artifacts.py`) to Chainlit elements: the only place that knows both.

A tool's artifact becomes markdown text plus elements; parts marked with a passage number
(`"cite": n`) are shown only when the final answer used passage n (cited it, or, when it
cites nothing, copied from it), so the learner sees the passages the answer rested on.
"""

from __future__ import annotations

import json
from typing import Any

import chainlit as cl

from tools.artifacts import cited_passages

MAX_INLINE_ROWS = 25


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render(artifact: dict[str, Any], answer: str | None = None) -> tuple[str, list[cl.Element]]:
    """The artifact as text and elements. Without an answer (the result shown as soon as the
    tool returns) every passage is shown; with one, only those it rested on."""
    passages = artifact.get("passages", [])
    if answer is None:
        cited = {p["n"] for p in passages}
    else:
        cited = {p["n"] for p in cited_passages(answer, passages)}
    texts: list[str] = []
    elements: list[cl.Element] = []
    for i, part in enumerate(artifact.get("parts", [])):
        if "cite" in part and part["cite"] not in cited:
            continue
        kind = part.get("kind")
        name = part.get("name") or f"{kind}-{i}"
        if kind == "markdown":
            texts.append(part["content"])
        elif kind == "code":
            texts.append(f"```{part.get('language', '')}\n{part['content']}\n```")
        elif kind == "table" and len(part["rows"]) <= MAX_INLINE_ROWS:
            texts.append(markdown_table(part["columns"], part["rows"]))
        elif kind == "table":
            import pandas as pd

            elements.append(
                cl.Dataframe(
                    name=name,
                    data=pd.DataFrame(part["rows"], columns=part["columns"]),
                    display="inline",
                )
            )
        elif kind == "image":
            elements.append(cl.Image(name=name, path=part["path"], display="inline", size="large"))
        elif kind == "plotly":
            import plotly.io as pio

            figure = pio.from_json(json.dumps(part["figure"]))
            elements.append(cl.Plotly(name=name, figure=figure, display="inline", size="large"))
        elif kind == "custom":
            elements.append(
                cl.CustomElement(name=part["component"], props=part["props"], display="inline")
            )
        elif kind == "html":
            elements.append(cl.File(name=name, path=part["path"], display="inline"))
    return "\n\n".join(texts), elements
