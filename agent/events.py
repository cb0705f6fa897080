"""What a turn reports as it runs: the one vocabulary between `Assistant.run_turn` and the
things that show a turn (the Chainlit app, `genai101 chat`, the benchmarks).

In order: `Routed`, then for a tool turn `ToolStarted` and `ToolFinished` (the artifact is
there as soon as the tool returns, before the answer is written), the answer's `Token`s,
`Retry` if the answer check sent the first answer back, `Checked`, and always `Finished`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Routed:
    route: str  # a tool name, "none" or "about"
    note: str  # how the router decided, for the learner


@dataclass(frozen=True)
class ToolStarted:
    call: dict[str, Any]  # {"name", "args", "id"}
    how: str  # how the arguments were found ("read from your message", ...)


@dataclass(frozen=True)
class ToolFinished:
    call: dict[str, Any]
    content: str  # the text the model read
    artifact: dict[str, Any] | None  # what the UI shows
    error: bool


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Retry:
    problems: list[str]  # why the first answer was sent back; the next tokens replace it


@dataclass(frozen=True)
class Checked:
    ok: bool
    problems: list[str]  # what is still wrong with the final answer (empty when ok)
    first: list[str]  # what was wrong with the first answer, if it was sent back
    source: str  # "model", "model, second try", "written from the tool's result", ...
    corrected: list[str] = field(default_factory=list)  # what was taken out of the answer


@dataclass(frozen=True)
class LLMCall:
    seconds: float
    prompt_tokens: int  # tokens in the prompt
    cached_tokens: int  # of those, reused from llama.cpp's cache (not evaluated)
    in_tool: bool  # made by a tool (text-to-Cypher, in-context NER), not the conversation


@dataclass(frozen=True)
class Finished:
    answer: str
    error: bool
    route: str = "none"
    route_note: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)
    llm_calls: list[LLMCall] = field(default_factory=list)
    seconds: float = 0.0
    first_result_seconds: float | None = None  # tool result, or first answer word

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "error": self.error,
            "route": self.route,
            "route_note": self.route_note,
            "tool_calls": self.tool_calls,
            "tool_results": self.tool_results,
            "check": self.check,
            "llm_calls": [call.__dict__ for call in self.llm_calls],
            "seconds": self.seconds,
            "first_result_seconds": self.first_result_seconds,
        }


Event = Routed | ToolStarted | ToolFinished | Token | Retry | Checked | Finished
