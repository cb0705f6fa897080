"""Files dropped in the chat: a CSV of research articles goes into the knowledge graph,
any other document into the user's own RAG collection. Each file gets its own line in the
reply, so one bad file neither hides nor undoes the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.settings import Settings
from tools.errors import ToolInputError


def ingest_one(settings: Settings, user_id: str, path: Path, name: str) -> str:
    if name.lower().endswith(".csv"):
        from knowledge.graph_load import load_csv_upload

        result = load_csv_upload(settings, path)
        return (
            f"✅ **{name}**: {result['rows']} articles loaded into the article graph "
            f"(now {_counts(result['graph'])}). Ask me about them!"
        )
    from tools.rag import ingest_upload

    result = ingest_upload(settings, user_id, path, name)
    return (
        f"✅ **{name}**: {result['chunks']} chunks added to your documents "
        "(only you can search them). Ask me about it!"
    )


def ingest_files(settings: Settings, user_id: str, files: list[Any]) -> str:
    lines = []
    for f in files:
        try:
            lines.append(ingest_one(settings, user_id, Path(f.path), f.name))
        except ToolInputError as exc:
            lines.append(f"⚠️ **{f.name}**: {exc} Nothing already indexed was changed.")
    return "\n".join(lines)


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items())
