"""The tool registry the agent reads.

Every module in this package that defines `make_tools(ctx) -> list[BaseTool]` is a tool
module; the agent gets the tools of all of them, in module-name order. Modules keep heavy
imports (torch, spaCy, FAISS, the graph driver) inside functions so that listing the tools
and starting the CLI stay fast.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from core.settings import Settings


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the process's settings; the agent's own chat model for tools
    that generate (text-to-Cypher, in-context NER, query rewriting); and `run_settings`,
    the settings with the chat's choices of the call being run. The tools are built once
    per process, and a learner switches the recognizer, the paraphrase model or online
    linking per chat, so the tools that depend on those read them per call
    (`call_settings`), never from a Settings captured when they were built."""

    settings: Settings
    chat_model: Callable[[], BaseChatModel]
    run_settings: Callable[[], Settings] | None = None

    def call_settings(self) -> Settings:
        """The settings for this call: the agent's per-run choices laid over `settings`,
        or `settings` itself where no agent runs the tool (tests, a direct call)."""
        return self.run_settings() if self.run_settings is not None else self.settings


def tool_modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "make_tools"):
            mods.append(mod)
    return mods


def warm_up_tools(ctx: ToolContext) -> None:
    """Let each tool module prepare what its first call would otherwise wait for (the corpus
    index, the graph server, its prompt's prefix in the LLM's cache): a module may define
    `warm_up(ctx)`. `Assistant.warm_up` runs this at startup."""
    for mod in tool_modules():
        if hasattr(mod, "warm_up"):
            mod.warm_up(ctx)


def lessons() -> list[dict[str, str]]:
    """Each tool module's `LESSON`: its title, what it shows and an example prompt. The
    answer to "what can you teach me?" and the chat's starters are made from these, so
    they name exactly the tools there are."""
    return [mod.LESSON for mod in tool_modules() if hasattr(mod, "LESSON")]


def lessons_text() -> str:
    items = "\n".join(
        f"- **{lesson['title']}**: {lesson['shows']}. Try: _{lesson['example']}_"
        for lesson in lessons()
    )
    return (
        "I teach generative AI with live lessons, each one a real tool you can try:\n"
        f"{items}\n\nYou can also ask me about any concept (tokens, embeddings, fine-tuning...) "
        "and I answer from what I know, or upload your own documents and ask about them."
    )


def load_tools(ctx: ToolContext) -> list[BaseTool]:
    tools = [t for mod in tool_modules() for t in mod.make_tools(ctx)]
    for t in tools:
        # Docstring indentation is noise in every prompt the small model reads.
        t.description = " ".join(t.description.split())
    return tools
