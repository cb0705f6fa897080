"""Tool arguments read from the message (no model call), and None where a model must read."""

from __future__ import annotations

import pytest

from agent.arguments import read_arguments


@pytest.mark.parametrize(
    ("tool", "text", "expected"),
    [
        (
            "find_entities",
            "Find the entities in: Ada Lovelace lived in London.",
            {"text": "Ada Lovelace lived in London."},
        ),
        (
            "find_entities",
            'Which places are in "Rome and Paris are old."?',
            {"text": "Rome and Paris are old."},
        ),
        (
            "show_attention",
            "Show me the attention of BERT on: The cat sat on the mat.",
            {"sentence": "The cat sat on the mat."},
        ),
        ("show_attention", "Attention on: 'The dog barked.'", {"sentence": "The dog barked."}),
        (
            "check_paraphrase",
            'Same meaning? "He left early." and "He departed early."',
            {"sentence1": "He left early.", "sentence2": "He departed early."},
        ),
        (
            "check_paraphrase",
            "Compare: The cat sleeps. vs The cat is asleep.",
            {"sentence1": "The cat sleeps.", "sentence2": "The cat is asleep."},
        ),
        ("query_knowledge_graph", "Who wrote about RAG?", {"question": "Who wrote about RAG?"}),
        ("search_documents", "What is chunk overlap?", {"query": "What is chunk overlap?"}),
    ],
)
def test_plain_arguments_are_read(tool, text, expected):
    assert read_arguments(tool, text) == expected


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("find_entities", "and in the second one?"),
        ("check_paraphrase", "Do these two mean the same? He left. He went away."),
        ("show_attention", "now show layer 3"),
        ("unknown_tool", "anything"),
    ],
)
def test_what_is_not_plain_goes_to_the_model(tool, text):
    assert read_arguments(tool, text) is None


def test_an_apostrophe_is_not_a_quote():
    assert read_arguments("find_entities", "Entities in: Don't tell Ada's friend Bob.") == {
        "text": "Don't tell Ada's friend Bob."
    }
