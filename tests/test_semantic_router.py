"""The router classifier with the real MiniLM embeddings and the shipped examples."""

from __future__ import annotations

import pytest

from agent.arguments import read_arguments
from agent.semantic_router import (
    FOLLOW_UP,
    asks_for_no_tools,
    load_examples,
    route_probabilities,
    semantic_route,
)
from core.settings import Settings
from tools import ToolContext, load_tools


def test_examples_name_only_real_tools_none_and_follow_up():
    tools = {t.name for t in load_tools(ToolContext(Settings(), lambda: None))}
    assert set(load_examples()) == tools | {"none", FOLLOW_UP}


def test_no_example_is_given_two_labels():
    seen: dict[str, str] = {}
    for label, texts in load_examples().items():
        for text in texts:
            key = text.casefold().strip()
            assert seen.setdefault(key, label) == label, text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("According to the course notes, what is a vector store?", "search_documents"),
        ("What does the attention lesson say about softmax?", "search_documents"),
        ("Which researchers co-authored the most articles in the graph?", "query_knowledge_graph"),
        ("Are 'The cat sleeps' and 'The cat is sleeping' paraphrases?", "check_paraphrase"),
        ("Show the attention of 'The girl fed her dog' at layer 2.", "show_attention"),
        ("Tag the people in: Ada met Charles in London.", "find_entities"),
        ("Generate a picture of a dragon.", "none"),
        ("And for Amara Okafor?", FOLLOW_UP),
    ],
)
def test_classifier_names_the_right_label(message, expected):
    assert semantic_route(message)[0] == expected


def test_probabilities_cover_every_label_and_sum_to_one():
    probs = route_probabilities("Which researchers co-authored the most articles in the graph?")
    assert set(probs) == set(load_examples())
    assert sum(probs.values()) == pytest.approx(1.0)
    assert list(probs.values()) == sorted(probs.values(), reverse=True)


def test_a_clear_request_is_decided_without_the_llm():
    tool, p = semantic_route("Which researchers co-authored the most articles in the graph?")
    assert tool == "query_knowledge_graph" and p >= Settings().route_threshold


def test_a_vague_message_is_not_sent_to_a_tool_by_the_classifier():
    """Either the classifier is unsure (the LLM router decides) or its text tool finds no
    text given in the message (see `agent.graph`'s route)."""
    message = "Compare the words of Marie Curie and Paris with the course."
    label, p = semantic_route(message)
    assert p < Settings().route_threshold or read_arguments(label, message) is None


@pytest.mark.parametrize(
    ("message", "no_tools"),
    [
        ("Without using any tools or the course docs: what is quantization?", True),
        ("What is a knowledge graph? Answer from your own knowledge.", True),
        ("Don't search the documents, just tell me what RAG is.", True),
        ("No tools please: what is int8?", True),
        ("I do not understand the lesson on RAG, what does it say about chunking?", False),
        ("No, I meant the course notes: what is RAG?", False),
        ("Search the notes for how FAISS indexes work.", False),
    ],
)
def test_an_explicit_request_for_no_tools_is_recognised(message, no_tools):
    assert asks_for_no_tools(message) is no_tools


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("Hi! What can you teach me?", True),
        ("what can you do", True),
        ("Who are you?", True),
        ("hey there! new to this course, what can u do?", True),  # texting shorthand
        ("wat r ur lessons", True),
        ("hi! first day on this course, what kind of stuff can you help me with?", True),
        (
            "what can you do with attention when a sentence is long and the model has many "
            "layers and heads?",
            False,
        ),  # fmt: skip
        ("what sort of things could you teach me", True),
        ("What can you show me in: 'The cat sat on the mat'?", False),
        ("What can you tell me about attention in transformers and why it matters so much?", False),
    ],
)
def test_questions_about_the_lessons(text, about):
    from agent.semantic_router import asks_about_lessons

    assert asks_about_lessons(text) is about


@pytest.mark.parametrize(
    "text",
    ["What did we just look at?", "summarise what we looked at so far", "recap the conversation"],
)
def test_questions_about_the_conversation_need_no_tool(text):
    assert asks_for_no_tools(text)


def test_a_tool_request_is_not_a_question_about_the_conversation():
    assert not asks_for_no_tools("Can you summarize the RAG lesson?")


@pytest.mark.parametrize(
    ("message", "social"),
    [
        ("cool, thanks for the help", True),
        ("thx, bye!", True),
        ("ok thats great, thanks", True),  # no apostrophe
        ("Good morning!", True),
        ("And for Amara Okafor?", False),
        ("great, can you put those in a table?", False),
        ("thanks! now show attention on 'The cat sat.'", False),
    ],
)
def test_a_greeting_or_thanks_alone_asks_for_no_tool(message, social):
    assert asks_for_no_tools(message) is social
