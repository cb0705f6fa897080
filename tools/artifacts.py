"""The artifact contract between tools and the UI.

A tool returns `(text_for_the_model, artifact)`; the artifact is a plain, JSON-serialisable
dict so it survives the LangGraph checkpointer and can be rendered again on resume. The UI
(`app.py` through `agent/render.py`) knows these part kinds and nothing about the tools.

    {"tool": "search_documents", "summary": "...", "parts": [part, ...]}

Part kinds:
    markdown  {"content": str}
    table     {"columns": [str], "rows": [[Any]], "name": str}
    image     {"path": str, "name": str}             # a PNG/JPEG file on disk
    plotly    {"figure": dict, "name": str}          # plotly.io.to_json(fig) parsed back
    code      {"content": str, "language": str, "name": str}
    custom    {"component": str, "props": dict, "name": str}   # public/elements/<component>.jsx
    html      {"path": str, "name": str}             # a self-contained HTML file, offered as download

An artifact may also carry `facts` (see `facts()`): what an answer about the result must
state, which the agent checks before a turn ends.
"""

from __future__ import annotations

from typing import Any

Artifact = dict[str, Any]


def artifact(tool: str, parts: list[dict[str, Any]], summary: str = "") -> Artifact:
    return {"tool": tool, "summary": summary, "parts": parts}


def markdown(content: str) -> dict[str, Any]:
    return {"kind": "markdown", "content": content}


def table(columns: list[str], rows: list[list[Any]], name: str = "table") -> dict[str, Any]:
    return {
        "kind": "table",
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "name": name,
    }


def image(path: str, name: str = "image") -> dict[str, Any]:
    return {"kind": "image", "path": str(path), "name": name}


def plotly(figure: dict[str, Any], name: str = "plot") -> dict[str, Any]:
    return {"kind": "plotly", "figure": figure, "name": name}


def code(content: str, language: str = "text", name: str = "code") -> dict[str, Any]:
    return {"kind": "code", "content": content, "language": language, "name": name}


def custom(component: str, props: dict[str, Any], name: str = "view") -> dict[str, Any]:
    return {"kind": "custom", "component": component, "props": props, "name": name}


def html(path: str, name: str = "view.html") -> dict[str, Any]:
    return {"kind": "html", "path": str(path), "name": name}


def facts(
    must: list[list[str]] | None = None,
    need: int | None = None,
    stance: bool | None = None,
    passages: list[int] | None = None,
    statement: str = "",
) -> dict[str, Any]:
    """What an answer about this result has to state, for the agent's answer check.

    `must` lists the facts, each as the ways it may be written ("0.55", "55%"); at least
    `need` of them (default: all) must appear. `stance` is a yes/no verdict (True: the two
    sentences mean the same) the answer must not contradict. `passages` are the numbers an
    answer may cite, and it must cite one. `statement` is the result in one plain sentence:
    the answer written from the result when the model's answer fails the check twice.
    """
    must = [list(alternatives) for alternatives in (must or []) if alternatives]
    return {
        "must": must,
        "need": len(must) if need is None else min(need, len(must)),
        "stance": stance,
        "passages": list(passages or []),
        "statement": statement,
    }
