"""Files dropped in the chat: a CSV of research articles goes into the knowledge graph,
any other document into the user's own RAG collection. Each file gets its own line in the
reply, so one bad file neither hides nor undoes the others."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import ToolInputError
from core.settings import Settings

log = logging.getLogger("genai101.uploads")
# Titles named in a reply about articles kept as they were; the rest are counted.
MAX_KEPT_SHOWN = 5


def ingest_one(settings: Settings, user_id: str, path: Path, name: str) -> str:
    if name.lower().endswith(".csv"):
        from knowledge.graph_load import load_csv_upload

        return _graph_line(name, load_csv_upload(settings, path))
    from knowledge.ingest import ingest_upload

    result = ingest_upload(settings, user_id, path, name)
    return (
        f"✅ **{name}**: {result['chunks']} chunks added to your documents "
        "(only you can search them). Ask me about it!"
    )


def ingest_files(settings: Settings, user_id: str, files: list[Any]) -> str:
    """One line per file, in order: ✅ and what was added, or ⚠️ and why not.

    Any error is caught per file, so a broken CSV or a graph outage cannot cost the other
    files of the message their turn or their answer. An unexpected error shows only its
    type: the traceback, which may name server paths, goes to the log. Either way nothing
    already indexed changed, since both stores write a file's data in one atomic step.
    """
    lines = []
    for f in files:
        try:
            lines.append(ingest_one(settings, user_id, Path(f.path), f.name))
        except ToolInputError as exc:
            lines.append(f"⚠️ **{f.name}**: {exc} Nothing already indexed was changed.")
        except Exception as exc:  # one broken file must not stop the others
            log.exception("upload %s failed", f.name)
            lines.append(
                f"⚠️ **{f.name}** could not be added because of an internal error "
                f"({type(exc).__name__}). Nothing already indexed was changed; the server "
                "log has the details."
            )
    return "\n".join(lines)


def _graph_line(name: str, result: dict[str, Any]) -> str:
    """What a CSV added, and which of its articles were kept because the graph, shared by
    all users, already had them (an upload never changes an existing article)."""
    added = result["added"]
    line = (
        f"✅ **{name}**: {added} new article{'s' if added != 1 else ''} added to the article "
        f"graph (now {_counts(result['graph'])})"
    )
    kept = result["kept"]
    if kept:
        shown = ", ".join(f"“{t}”" for t in kept[:MAX_KEPT_SHOWN])
        more = f" and {len(kept) - MAX_KEPT_SHOWN} more" if len(kept) > MAX_KEPT_SHOWN else ""
        line += f"; {len(kept)} kept, already in the graph and left unchanged: {shown}{more}"
    return line + (". Ask me about them!" if added else ".")


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items())
