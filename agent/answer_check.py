"""The answer check: before a turn ends, the model's answer is held against what the tool
found (the `facts` of its artifact, see `tools.artifacts.facts`) and against the thread's
earlier answers.

A 1.5B model, given a long history, answers an earlier question again, contradicts the tool
it just called ("not paraphrases" after P = 0.55), or cites a passage it was never given.
Each of those is a plain string test here, cheap enough to run on every turn; the agent
regenerates once with the problems named, and falls back to a sentence written from the
result itself. The checks look for stated facts, not for every invented claim: an invented
sentence with no name or number in it passes (see README, "The answer check").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from tools import artifacts

COPY_SIMILARITY = 0.6  # above this, an answer repeats an earlier one of the thread
COPY_QUOTE_WORDS = 8  # of the repeated answer, quoted in the problem
FALLBACK_NOTE = "_(Written from the tool's result, because the model's answers failed the check.)_"
FROM_RESULT = "written from the tool's result"  # the source a fallback answer is recorded with
REQUEST_CHARS = 160  # of the learner's message, quoted at the head of a fallback answer

# A reply that is a tool call written out as text (the template's fenced JSON block).
TOOL_CALL_TEXT = re.compile(r"```(?:json)?\s*\{\s*\"name\"\s*:", re.IGNORECASE)
SAME = re.compile(
    r"same meaning|means? the same|mean much the same|are paraphrases|is a paraphrase"
    r"|paraphrases? of each other|\bparaphrases?\b|equivalent|say the same",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"\bnot\b|n't\b|\bno\b|\bnever\b|\bdifferent\b|\bdiffer\b|\bunrelated\b", re.IGNORECASE
)
# "paraphrase" naming the probability or the model, not a verdict: "removing 'loan' moves
# P(paraphrase) the most" was read as "they are paraphrases" and sent a right answer back.
NOT_A_VERDICT = re.compile(
    r"P\s*\(\s*paraphrase\s*\)|\bparaphrase[\s_-]+(?:model|checker|check|tool|classifier|"
    r"detector|probability|score|lesson)s?\b|\bcheck_paraphrase\b",
    re.IGNORECASE,
)
NEGATION_REACH = 24  # characters before a "same meaning" phrase where a negation applies
DIFFERENT = re.compile(r"different meanings?|differ in meaning|mean different", re.IGNORECASE)


@dataclass
class Check:
    """The verdict on one answer: `problems` in words the model (and the learner) can read."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).lower().split())


def mentions(answer: str, alternatives: Sequence[str]) -> bool:
    """Whether the answer states a fact in one of its spellings (case, markdown and
    whitespace aside; a number must stand alone, so "0.5" is not found in "0.55")."""
    text = normalise(answer)
    for alt in alternatives:
        alt = normalise(str(alt))
        if not alt:
            continue
        if re.fullmatch(r"[\d.,%]+", alt):
            if re.search(rf"(?<![\d.]){re.escape(alt)}(?![\d]|\.\d)", text):
                return True
        elif alt in text:
            return True
    return False


def stances(answer: str) -> set[bool]:
    """The yes/no verdicts the answer states about "do these mean the same". A negation
    counts only just before the phrase ("do not mean the same", "are not paraphrases"), so
    "they are paraphrases, though the model is not certain" still says yes."""
    found: set[bool] = set()
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", NOT_A_VERDICT.sub("the score", answer)):
        if DIFFERENT.search(sentence):
            found.add(False)
            continue
        for match in SAME.finditer(sentence):
            before = sentence[max(0, match.start() - NEGATION_REACH) : match.start()]
            found.add(not NEGATION.search(before))
    return found


def similarity(a: str, b: str) -> float:
    """How much of two answers is the same words in the same order (0..1). Over words, not
    characters: two short answers built on one pattern ("It found X and Y.") share most of
    their letters but few of their words; a repeated answer shares nearly all."""
    a, b = a.replace(FALLBACK_NOTE, ""), b.replace(FALLBACK_NOTE, "")  # a mark, not content
    words_a, words_b = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    return SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def without_lead(text: str, lead: str) -> str:
    """The part of an answer after its lead (written from the result), or all of it."""
    return text[len(lead) :] if lead and text.startswith(lead) else text


def check_answer(
    answer: str, facts: dict[str, Any] | None, earlier_answers: Sequence[str] = (), lead: str = ""
) -> Check:
    """Everything wrong with this answer, or nothing. `facts` is None for a turn without a
    tool: then only the copy and tool-call-text checks apply. `lead` is the answer's opening
    written from the result (`facts(lead=…)`), left out of the copy check: two leads of one
    tool share their form ("“A” and “B”: the int8 model gives P(paraphrase) = 0.05"), the
    model cannot change them, and they failed the model's own, new words twice over."""
    check = Check()
    if not answer.strip():
        check.problems.append("the answer is empty")
        return check
    if TOOL_CALL_TEXT.search(answer):
        check.problems.append("the answer is a tool call written as text, not an answer")
    own = without_lead(answer, lead)
    for earlier in earlier_answers if own.strip() else ():
        if earlier and similarity(own, earlier) > COPY_SIMILARITY:
            # Named, so the second try knows what not to repeat (two verdicts of one tool
            # came back in the same words when told only "it repeats an earlier answer").
            start = " ".join(earlier.split()[:COPY_QUOTE_WORDS])
            check.problems.append(
                f"the answer repeats an earlier answer of this conversation (“{start} …”) "
                "instead of answering the latest message: say what is new in this result, "
                "in other words"
            )
            break
    given = set((facts or {}).get("passages") or [])
    cited = artifacts.cited_numbers(answer)
    if not given and cited:
        check.problems.append("the answer cites a passage, but this turn found none")
    if not facts:
        return check
    stance = facts.get("stance")
    if stance is not None and (not stance) in stances(answer):
        verdict = "mean the same" if stance else "do not mean the same"
        check.problems.append(f"the answer contradicts the tool, which found that they {verdict}")
    must = facts.get("must") or []
    missing = [alts[0] for alts in must if not mentions(answer, alts)]
    if len(must) - len(missing) < facts.get("need", len(must)):
        check.problems.append(
            "the answer leaves out what the tool found: " + ", ".join(map(str, missing[:5]))
        )
    known = facts.get("numbers")
    if known is not None:
        made_up = [n for n in artifacts.numbers_in(answer) if len(n) > 1 and n not in known]
        if made_up:
            check.problems.append(
                f"the answer states {', '.join(dict.fromkeys(made_up))}, which the result "
                "does not say: take every number from the result"
            )
    if given:
        if cited - given:
            bad = ", ".join(f"[{n}]" for n in sorted(cited - given))
            check.problems.append(f"the answer cites {bad}, which no passage has")
        elif not cited:
            check.problems.append("the answer cites none of the numbered passages")
    return check


def answer_from_result(facts: dict[str, Any] | None, tool_text: str, request: str = "") -> str:
    """The fallback when the model's answer failed twice: the result in its own words,
    marked so the learner knows the model did not write it. It names the request it
    answers: two verdicts of one tool read alike, and the model copies a pattern it sees
    twice in the history."""
    statement = (facts or {}).get("statement") or tool_text
    asked = artifacts.shorten(" ".join(request.split()), REQUEST_CHARS)
    head = f"For “{asked}”: " if asked else ""
    return f"{head}{statement}\n\n{FALLBACK_NOTE}"
