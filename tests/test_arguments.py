"""Tool arguments read from the message (no model call), and None where a model must read."""

from __future__ import annotations

import pytest

from agent.arguments import read_arguments
from knowledge.references import refers_back


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


@pytest.mark.parametrize(
    "text",
    [
        "what year was that published",
        "what other articles has he written?",
        "with who?",
        "which one is the most recent?",
        "and what does that lesson say about it?",
    ],
)
def test_a_question_pointing_back_goes_to_the_model_after_the_first_turn(text):
    assert read_arguments("query_knowledge_graph", text, earlier=True) is None
    assert read_arguments("search_documents", text, earlier=True) is None
    # The first message of a thread has nothing to point back to: sent as written.
    assert read_arguments("query_knowledge_graph", text) == {"question": text}


@pytest.mark.parametrize(
    "text",
    [
        "Which researchers have published articles about machine learning?",
        "how many articles are in the Language Models topic?",
        "Which articles cite papers that mention transformers?",
    ],
)
def test_a_question_that_stands_alone_is_sent_as_written(text):
    assert not refers_back(text)
    assert read_arguments("query_knowledge_graph", text, earlier=True) == {"question": text}


def test_one_quoted_word_is_not_a_sentence_to_show_attention_on():
    assert read_arguments("show_attention", "why would 'it' point to different words?") is None


@pytest.mark.parametrize(
    ("tool", "text", "expected"),
    [
        (
            "show_attention",
            "Which tokens does 'it' attend to in 'The trophy didn't fit in the case'? Show me.",
            {"sentence": "The trophy didn't fit in the case"},
        ),
        (
            "show_attention",
            "open the attention viewer with the sentence I never said she stole it",
            {"sentence": "I never said she stole it"},
        ),
        (
            "find_entities",
            "Which people are mentioned in this text? Barack Obama visited Berlin in 2013.",
            {"text": "Barack Obama visited Berlin in 2013."},
        ),
        (
            "show_attention",
            "compare 'She gave him the book' versus 'He was given the book by her'",
            {"sentence": "She gave him the book", "sentence_b": "He was given the book by her"},
        ),
        (
            "check_paraphrase",
            "check paraphrase: the movie was boring / the film put me to sleep",
            {"sentence1": "the movie was boring", "sentence2": "the film put me to sleep"},
        ),
        (
            "check_paraphrase",
            "Same meaning or not?\n1) The dog chased the cat.\n2) The cat chased the dog.",
            {"sentence1": "The dog chased the cat.", "sentence2": "The cat chased the dog."},
        ),
        (
            "check_paraphrase",
            "compare 'How do I reset it?' vs 'What's the way to change it?'",
            {"sentence1": "How do I reset it?", "sentence2": "What's the way to change it?"},
        ),
    ],
)
def test_texts_given_in_the_ways_learners_give_them_are_read(tool, text, expected):
    """Apostrophes inside single quotes, a quoted word beside the quoted sentence, "the
    sentence ...", pairs split by a slash or numbered: read from the message, so the text
    tools' gate lets them through (each was refused in the routing sets)."""
    assert read_arguments(tool, text) == expected


def test_a_text_that_is_only_talked_about_is_not_read():
    assert read_arguments("find_entities", "what does the text say about entities?") is None
    assert read_arguments("show_attention", "what does the sentence about banks mean?") is None


def test_a_written_out_question_must_keep_the_learners_words():
    from agent.arguments import keeps_the_learners_words

    tool = "search_documents"
    assert keeps_the_learners_words(
        "What else has Amara Okafor written?", "what else has he written?", tool
    )
    assert keeps_the_learners_words(
        "How many articles are in the Computer Vision topic?", "and for computer vision?", tool
    )
    junk = "search_documents course notes user uploaded files"
    assert not keeps_the_learners_words(
        junk, "does it say what happens to the ones that get picked?", tool
    )
    assert not keeps_the_learners_words(
        "course notes RAG embedding dimensions",
        "what embedding model does the RAG lesson use, and how many dimensions do its vectors have?",
        tool,
    )
