"""The per-run chat choices (`agent.context`): built from the settings, laid back over them,
and read from inside a run, by a node and by a tool the node calls, as LangGraph hands the
run's context down."""

from __future__ import annotations

from dataclasses import fields

from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from agent.context import Context, current
from core.settings import CHAT_CHOICES, Settings


def test_the_context_holds_exactly_the_chat_panels_choices():
    """Every choice the settings panel offers travels per run, and nothing else does."""
    assert {f.name for f in fields(Context)} == {*CHAT_CHOICES, "wiki_online"}


def test_built_from_the_settings_and_laid_back_over_them():
    settings = Settings(provider="groq", ner_mode="llm", paraphrase_model="fp32", llm_port=9)
    context = Context.from_settings(settings)
    assert context == Context("groq", "llm", "fp32", False)
    assert Context() == Context.from_settings(Settings())
    chosen = Context(provider="local", wiki_online=True).applied_to(settings)
    assert (chosen.provider, chosen.ner_mode, chosen.wiki_online) == ("local", "spacy", True)
    assert chosen.llm_port == 9  # the rest is the process's


class S(TypedDict, total=False):
    seen: list[str]


async def test_a_node_and_the_tool_it_calls_see_the_runs_context():
    default = Context()

    @tool
    def probe(text: str) -> str:
        """Report the recognizer of the run."""
        return current(default).ner_mode

    async def node(state: S) -> S:
        return {"seen": [current(default).ner_mode, await probe.ainvoke({"text": "x"})]}

    builder = StateGraph(S, context_schema=Context)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    graph = builder.compile()
    assert (await graph.ainvoke({}, context=Context(ner_mode="llm")))["seen"] == ["llm", "llm"]
    # LangGraph's server sends the context as JSON: the graph makes it a Context.
    assert (await graph.ainvoke({}, context={"ner_mode": "llm"}))["seen"] == ["llm", "llm"]
    assert (await graph.ainvoke({}))["seen"] == ["spacy", "spacy"]  # no context: the default


def test_outside_a_run_the_default():
    assert current(Context(ner_mode="llm")).ner_mode == "llm"
