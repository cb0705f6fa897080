"""Tool arguments read from the learner's message, without a model call.

A model call whose only job is to copy the learner's words into a tool argument costs 3-5 s
on two cores. When the route is known and the message holds the argument plainly (a
question for the graph or the documents, a quoted sentence, a text after a colon), it is read
here; when it does not (a follow-up such as "and for computer vision?", two sentences not
marked apart), `read_arguments` returns None and the model fills the arguments in.

A question that points back ("what year was that published?", "what else has he written?",
"with who?") is not plain either, although it reads as a whole question: sent as it is, the
graph or the documents get a question about nobody. `knowledge.references.refers_back`
spots the words that point back, and the model writes the question out with the names they
stand for.
"""

from __future__ import annotations

import re
from typing import Any

from knowledge.references import refers_back

# Straight and curly double quotes, and single quotes that open and close a phrase: an
# apostrophe between letters ("didn't", "What's") is inside the phrase, not its end.
QUOTED = re.compile(
    r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'((?:[^'\n]|(?<=\w)'(?=\w))+?)'(?!\w)|‘([^’]+)’"
)
AFTER_COLON = re.compile(r":\s*(.+)$", re.DOTALL)
# "the sentence I never said she stole my money": the text after the word that names it.
NAMED_TEXT = re.compile(
    r"\b(?:the|this|a)\s+(?:sentence|phrase)\s+"
    r"(?!(?:is|was|are|says?|means?|about|of|in|on|does|do|for|with)\b)(.+)$",
    re.IGNORECASE | re.DOTALL,
)
TEXT_FOLLOWS = re.compile(
    r"\b(?:text|sentence|passage|paragraph)\s*[?.]\s+(\S.*)$", re.IGNORECASE | re.DOTALL
)
VERSUS = re.compile(r"\s+(?:vs\.?|versus)\s+|\s+/\s+|\s+and\s+(?=[\"“'‘])|\s+->\s+", re.IGNORECASE)
NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$", re.MULTILINE)
# A sentence to look at attention in: one word ("why would 'it' point...?") is a word being
# asked about, not a sentence given.
MIN_SENTENCE_WORDS = 2
QUESTION_TOOLS = ("query_knowledge_graph", "search_documents")


def quoted(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None).strip() for m in QUOTED.finditer(text)]


def after_colon(text: str) -> str:
    m = AFTER_COLON.search(text)
    return m.group(1).strip() if m else ""


def named_text(text: str) -> str:
    """The text after the words that name it: "the sentence I never said it", or "... in
    this text? Barack Obama visited Berlin."."""
    m = NAMED_TEXT.search(text) or TEXT_FOLLOWS.search(text)
    found = m.group(1).strip(" \"'“”‘’") if m else ""
    return found if len(found.split()) >= 3 else ""


def passage(text: str) -> str:
    """The text a request is about: what follows its colon, else the one quoted part
    (quoted words of one word aside: "does 'it' point at the trophy in '...'?"), else what
    follows "the sentence"."""
    found = after_colon(text)
    if found:
        parts = quoted(found)
        return parts[0] if len(parts) == 1 and len(parts[0]) > 0.8 * len(found) - 4 else found
    parts = quoted(text)
    if len(parts) == 1:
        return parts[0]
    longer = [p for p in parts if len(p.split()) >= MIN_SENTENCE_WORDS]
    if len(longer) == 1:
        return longer[0]
    return named_text(text) if not parts else ""


def sentence_pair(text: str) -> tuple[str, str] | None:
    """Two sentences: quoted, numbered or bulleted lines, or split by "vs", "/", "->" or
    "and" after a colon (or after the words that name them)."""
    for parts in (
        [p for p in quoted(text) if len(p.split()) >= 2],
        [p for p in NUMBERED.findall(text) if len(p.split()) >= 2],
    ):
        if len(parts) == 2:
            return parts[0], parts[1]
    body = after_colon(text) or named_text(text)
    halves = [h.strip(" \"'“”‘’") for h in VERSUS.split(body)] if body else []
    if len(halves) == 2 and all(len(h.split()) >= 2 for h in halves):
        return halves[0], halves[1]
    return None


def keeps_the_learners_words(written: str, message: str, tool: str) -> bool:
    """Whether a question the model wrote out from the learner's message is still that
    message: it keeps at least half of its longer words and does not name the tool. The
    1.5B model wrote "search_documents course notes user uploaded files" (the tool's own
    description) for "does it say what happens to the ones that get picked?" on 2 of 12
    document questions of a blind conversation set."""
    if tool.casefold() in written.casefold():
        return False
    words = set(re.findall(r"[a-z0-9]{4,}", message.casefold()))
    kept = words & set(re.findall(r"[a-z0-9]{4,}", written.casefold()))
    return len(kept) * 2 >= len(words)


def read_arguments(tool: str, text: str, earlier: bool = False) -> dict[str, Any] | None:
    """The arguments for `tool` read from the message, or None when a model must read it.
    `earlier`: the thread has turns before this one, which a question may point back to."""
    text = text.strip()
    if tool in QUESTION_TOOLS:
        if earlier and refers_back(text):
            return None
        key = "question" if tool == "query_knowledge_graph" else "query"
        return {key: text}
    if tool == "find_entities":
        found = passage(text)
        return {"text": found} if found else None
    if tool == "show_attention":
        found = passage(text)
        if not found and (pair := sentence_pair(text)):  # a pair: the view shows both
            return {"sentence": pair[0], "sentence_b": pair[1]}
        fits = MIN_SENTENCE_WORDS <= len(found.split()) <= 60
        return {"sentence": found} if fits else None
    if tool == "check_paraphrase":
        pair = sentence_pair(text)
        return {"sentence1": pair[0], "sentence2": pair[1]} if pair else None
    return None
