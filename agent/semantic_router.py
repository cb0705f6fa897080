"""A semantic router: the learner's message against example messages for each tool, by
MiniLM embedding similarity (the same model as document search).

It runs before the LLM router and decides alone when the nearest example is close enough
(`settings.route_threshold`, 0.45: the best of 0.40-0.70 on that set): a millisecond lookup that, measured on the routing set in
bench/data/routing.jsonl, fixes much of what the 1.5B model gets wrong, such as "what does
the lesson say..." sent to the graph, or "transcribe this audio" sent to a tool. Below the
threshold, and for follow-ups that need the conversation, the LLM router decides.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).with_name("route_examples.json")


@lru_cache(maxsize=1)
def _examples() -> tuple[tuple[str, ...], np.ndarray]:
    from knowledge.embeddings import embed

    by_tool: dict[str, list[str]] = json.loads(EXAMPLES.read_text())
    labels = tuple(tool for tool, texts in by_tool.items() for _ in texts)
    return labels, embed([t for texts in by_tool.values() for t in texts])


def semantic_route(text: str) -> tuple[str, float]:
    """The tool (or "none") of the nearest example message, and its cosine similarity."""
    from knowledge.embeddings import embed

    labels, matrix = _examples()
    scores = matrix @ embed([text])[0]
    best = int(np.argmax(scores))
    return labels[best], float(scores[best])
