"""The per-run choices of a chat: LangGraph's runtime context (`context_schema`).

The graph is compiled once per process; what a learner may change in the chat settings
panel (provider, recognizer, paraphrase model, online linking) travels with each run as a
`Context` (`graph.astream(..., context=Context(...))`) instead of being baked into a graph
per combination. Nodes read it from their `Runtime`; the tools the `act` node runs read it
with `current`, since LangGraph hands the node's run to everything it calls.
Everything else (paths, ports, keys, limits) stays in the process's `Settings`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from langgraph.runtime import get_runtime

from core.settings import Settings

_DEFAULTS = Settings()


@dataclass(frozen=True)
class Context:
    """One run's chat choices; the defaults are `Settings`' own, so a run started without a
    context (LangGraph's server, a bare `graph.ainvoke`) behaves like an unconfigured app."""

    provider: str = _DEFAULTS.provider
    ner_mode: str = _DEFAULTS.ner_mode
    paraphrase_model: str = _DEFAULTS.paraphrase_model
    wiki_online: bool = _DEFAULTS.wiki_online

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """The process's configured choices: where every chat session starts."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def applied_to(self, settings: Settings) -> Settings:
        """`settings` with these choices: what a tool that reads them from `Settings` gets."""
        return settings.with_(**asdict(self))


def current(default: Context) -> Context:
    """The context of the graph run this is called from (a node, or a tool the `act` node
    runs), or `default` outside a run (the warm-up, a CLI command) or in a run given none."""
    try:
        runtime = get_runtime(Context)
    except (RuntimeError, KeyError):  # not inside a run
        return default
    context = getattr(runtime, "context", None)
    return context if isinstance(context, Context) else default
