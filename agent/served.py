"""The graph LangGraph's own server runs (`langgraph.json`: `langgraph dev`, LangGraph
Studio): compiled here, at import, with the default settings and every registered tool.

langgraph-api imports this module in a worker thread, so the blocking setup (reading the
settings and `.env`, importing the tool modules) happens off its event loop; a factory
function would instead be called on the loop for every run, and rebuild everything each
time. The server adds its own checkpointer. A run's chat choices come in its `context`
(`agent.context.Context`: provider, ner_mode, paraphrase_model, wiki_online); without one,
the settings' defaults. Chat models are made on first use, in a thread.

Nothing else imports this module: importing it is what builds the graph.
"""

from __future__ import annotations

from agent.context import Context
from agent.providers import ChatModels
from agent.runner import compile_agent, tool_context
from core.settings import Settings

settings = Settings.from_env()
models = ChatModels(settings)
graph = compile_agent(
    settings, models, tool_context(settings, models, Context.from_settings(settings))
)
