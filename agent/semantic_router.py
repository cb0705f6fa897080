"""A learned router: logistic regression over MiniLM embeddings of example messages for
each tool (the same embedding model as document search), trained at first use.

It runs before the LLM router and decides alone when its probability for the best label is
at least `settings.route_threshold`: a few milliseconds instead of a 2-3 s LLM call, and far
more accurate than the 1.5B model, which sends "what does the lesson say about attention?"
to the attention tool and "what's the weather?" to document search. Below the threshold the
LLM router decides, with the conversation in view.

Besides the tools and "none", the examples have a `follow_up` label for messages that only
make sense as a continuation ("and Chen Wei?", "now layer 5 head 2"): the graph resolves it
to the tool used last. Measured in `bench/routing.py` (see README, "Measured results"):
nearest-example matching was the previous design; the classifier generalises better from
the same examples because it weighs the words that separate the labels.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

EXAMPLES = Path(__file__).with_name("route_examples.json")
FOLLOW_UP = "follow_up"
# Inverse regularisation strength: the best 5-fold cross-validation score on the examples
# among 1-100 is at 3 (0.90 on the 517 examples).
REGULARISATION_C = 3.0


# "Without tools", "don't search the course", "from your own knowledge": an explicit
# instruction the classifier cannot be trusted with, because the topic words dominate its
# embedding ("without the course docs: what is quantization?" scored 0.99 for documents).
NO_TOOLS = re.compile(
    r"\bwithout\s+(?:using\s+|searching\s+|checking\s+|looking\s+(?:at|in)\s+)?"
    r"(?:any\s+|the\s+)?(?:tools?|search(?:ing)?|documents?|docs|course|notes|lessons?)\b"
    r"|\b(?:don'?t|do\s+not|never)\s+(?:use|search|check|look\s+(?:at|in))\s+"
    r"(?:any\s+|the\s+|your\s+)?(?:tools?|documents?|docs|course|notes|lessons?)\b"
    r"|\b(?:don'?t|do\s+not)\s+look\s+(?:it|this|that)\s+up\b|\bno\s+tools?\b"
    r"|\b(?:from|with|using)\s+your\s+own\s+knowledge\b|\bfrom\s+what\s+you\s+know\b",
    re.IGNORECASE,
)


# "What did we just do?", "summarise our chat": about the conversation itself, which the
# model has in view; the classifier follows the topic words ("we looked at attention").
ABOUT_CONVERSATION = re.compile(
    r"\bwhat\s+(?:did|have)\s+we\s+(?:just\s+)?(?:do|done|look(?:ed)?\s+at|see|seen|"
    r"cover(?:ed)?|talk(?:ed)?\s+about|learn(?:ed|t)?)\b"
    r"|\b(?:summari[sz]e|recap)\b.{0,40}\b(?:so\s+far|conversation|chat|we\s+(?:did|looked|saw|covered)|"
    r"this\s+session|everything)\b|\bwhat\s+was\s+(?:that|the\s+last\s+(?:one|result|answer))\b",
    re.IGNORECASE,
)


# Greetings, thanks and goodbyes: a message of these words alone asks for no tool. The
# classifier, trained on requests, sent "cool, thanks for the help" back to the graph as a
# follow-up (p = 0.36).
SOCIAL = (
    "hi hello hey hiya yo good morning evening afternoon thanks thank thx ty you so much "
    "very a lot lots for the help your all that's that it is was ok okay k cool great nice "
    "awesome perfect super brilliant neat got gotcha understood i see makes sense bye goodbye "
    "cya later cheers lol haha wow oh ah alright right sure yes yeah yep no nope fine "
    "again and well done amazing love this"
)
SOCIAL_WORDS = frozenset(SOCIAL.replace("'", "").split())


def only_social(text: str) -> bool:
    """Apostrophes are dropped on both sides: learners type "thats" as often as "that's"."""
    words = re.findall(r"[a-z]+", text.lower().replace("'", "").replace("’", ""))
    return bool(words) and all(w in SOCIAL_WORDS for w in words)


def asks_for_no_tools(text: str) -> bool:
    """An explicit request for no tools, a question about the conversation itself, or
    nothing but a greeting or thanks."""
    return bool(NO_TOOLS.search(text) or ABOUT_CONVERSATION.search(text) or only_social(text))


# "What can you teach me?": answered from the tool registry, never from the model's idea of
# what an assistant does (it offered to write poems, with a citation).
ABOUT_LESSONS = re.compile(
    r"\bwhat\s+(?:(?:kind|kinds|sort|sorts|type|types)\s+of\s+\w+\s+)?"
    r"(?:can|could|do|will)\s+you\s+(?:do|teach|show|offer|help)"
    r"|\bwhat\s+(?:are|is)\s+(?:you|your)\s+(?:able|for|lessons?|tools?|skills?)\b"
    r"|\bwhat\s+(?:lessons|tools|topics)\s+(?:do\s+you|are\s+there|can\s+i)"
    r"|\bhow\s+can\s+you\s+help\b|\bwho\s+are\s+you\b|\bwhat\s+are\s+you\b",
    re.IGNORECASE,
)


# Texting shorthand a learner writes for a word the rules above spell out ("what can u
# do?" went to the documents as a question about the course).
SHORTHAND = {"u": "you", "ya": "you", "ur": "your", "r": "are", "wat": "what", "wht": "what"}


def spelled_out(text: str) -> str:
    return re.sub(r"\b[a-z]+\b", lambda m: SHORTHAND.get(m.group(), m.group()), text.lower())


# The learner names the course notes as where the answer is: "according to the
# quantization notes", "in the tool use doc", "what does the self attention note say".
# The classifier read such questions by their topic words instead (the attention view for
# "how many heads does BERT have, says the attention lesson?", the graph for a question
# about a model's size), and the documents tool is the one that reads the notes.
NAMES_THE_DOCUMENTS = re.compile(
    r"\b(?:according\s+to|in|from|using|per|by|check)\s+(?:the\s+|my\s+|our\s+|your\s+)?"
    r"(?:[\w-]+\s+){0,3}(?:notes?|docs?|documents?|documentation|lessons?|materials?|"
    r"readings?|course)\b"
    r"|\b(?:notes?|docs?|documents?|lessons?|course|materials?)\s+(?:say|says|said|mention|"
    r"mentions|explain|explains|cover|covers|describe|describes|recommend|recommends)\b",
    re.IGNORECASE,
)


def names_the_documents(text: str) -> bool:
    """Whether the message asks what the course notes (or the learner's documents) say."""
    return bool(NAMES_THE_DOCUMENTS.search(spelled_out(text)))


def asks_about_lessons(text: str) -> bool:
    """Only a short question about the assistant itself: "what can you show me in: 'The
    cat sat'" is a request for a tool, not for the list of lessons. Short is the clause
    that asks, so a greeting before it ("hi! first day on this course, what kind of stuff
    can you help me with?") does not make it long."""
    if re.search(r"[:\"“'‘]", text):
        return False
    clauses = re.split(r"[.!?;,]+", spelled_out(text))
    return any(len(c.split()) <= 12 and ABOUT_LESSONS.search(c) for c in clauses)


def load_examples() -> dict[str, list[str]]:
    return json.loads(EXAMPLES.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def classifier() -> LogisticRegression:
    """Trained once per process on the shipped examples (about 2 s on one core)."""
    from sklearn.linear_model import LogisticRegression

    from knowledge.embeddings import embed

    by_label = load_examples()
    texts = [text for examples in by_label.values() for text in examples]
    labels = [label for label, examples in by_label.items() for _ in examples]
    return LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit(embed(texts), labels)


def route_probabilities(text: str) -> dict[str, float]:
    """Every label's probability for this message, highest first."""
    from knowledge.embeddings import embed

    model = classifier()
    probs = model.predict_proba(embed([text]))[0]
    order = np.argsort(probs)[::-1]
    return {str(model.classes_[i]): float(probs[i]) for i in order}


def semantic_route(text: str) -> tuple[str, float]:
    """The most likely label (a tool, "none" or `FOLLOW_UP`) and its probability."""
    label, probability = next(iter(route_probabilities(text).items()))
    return label, probability
