"""The semantic router with the real MiniLM embeddings and the shipped examples."""

from __future__ import annotations

import json

import pytest

from agent.semantic_router import EXAMPLES, semantic_route
from agent.settings import Settings
from tools import ToolContext, load_tools


def test_examples_name_only_real_tools_and_none():
    tools = {t.name for t in load_tools(ToolContext(Settings(), lambda: None))}
    assert set(json.loads(EXAMPLES.read_text())) == tools | {"none"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("According to the course notes, what is a vector store?", "search_documents"),
        ("Which researchers co-authored the most articles in the graph?", "query_knowledge_graph"),
        ("Are 'The cat sleeps' and 'The cat is sleeping' paraphrases?", "check_paraphrase"),
        ("Generate a picture of a dragon.", "none"),
    ],
)
def test_nearest_example_names_the_right_tool(message, expected):
    assert semantic_route(message)[0] == expected


def test_close_paraphrase_of_an_example_is_decided_without_the_llm():
    tool, score = semantic_route("Which researchers co-authored the most articles in the graph?")
    assert tool == "query_knowledge_graph" and score >= Settings().route_threshold


def test_unrelated_follow_up_is_left_to_the_llm():
    _, score = semantic_route("And the other one?")
    assert score < Settings().route_threshold
