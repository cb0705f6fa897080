"""Does a question point back to the conversation?

"What year was that published?", "what else has he written?", "with who?": each reads as a
whole question, but sent as it is, the graph or the documents get a question about nobody.
The agent gives such a question to the graph or document tool together with that tool's
previous question (`agent.graph`, the artifacts' `follow_up`), or has the model write it
out when the tool keeps no such context (`agent.arguments`): a question that stands alone
is sent as the learner wrote it.

A word list, not a parser: it errs towards "points back" ("who wrote it?" about a paper
named in the same message), which costs one rewrite call that returns the question as it
was; the other error sends a question about nobody.
"""

from __future__ import annotations

import re

# Words that stand for something said earlier: personal pronouns, "the one", "those",
# "else", "that paper", "was that". "That" alone is left out: it is mostly a relative
# pronoun ("articles that cite X").
POINTS_BACK = re.compile(
    r"\b(?:he|she|him|his|her|hers|they|them|their|theirs|it|its|these|those|else|other|"
    r"others|another|former|latter)\b"
    r"|\b(?:the|that|this|which)\s+(?:[\w-]+\s+){0,2}ones?\b"
    r"|^\W*(?:and|also|then|what\s+about|how\s+about)\b"
    r"|\b(?:that|this)\s+(?:paper|article|author|researcher|topic|person|work|study|passage|"
    r"document|lesson|one|book|result|list)s?\b"
    r"|\b(?:was|is|were|did|does|has)\s+(?:that|this)\b"
    r"|\b(?:about|of|for|in|on|with|from|by)\s+(?:that|this)\s*[?.!]?$",
    re.IGNORECASE,
)
FRAGMENT_WORDS = 3  # "with who?", "and Chen Wei?": too short to stand alone


def refers_back(text: str) -> bool:
    """Whether the message needs the conversation to be understood."""
    return len(re.findall(r"\w+", text)) <= FRAGMENT_WORDS or bool(POINTS_BACK.search(text))


# "he", "she" and their forms: a person. Written out, a question names that person; a
# capitalised word after the first is the name (or a title) they stand for.
PERSON = re.compile(r"\b(?:he|she|him|his|her|hers)\b", re.IGNORECASE)
NAME_LIKE = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'-]+")


def unnamed_person(question: str) -> str:
    """The pronoun a question uses for a person it never names ("what else did she
    write?"), or "". Sent on, such a question makes text-to-Cypher pick somebody; asking
    the learner is the true answer."""
    found = PERSON.search(question)
    if not found or NAME_LIKE.search(question.strip()):
        return ""
    return found.group(0)
