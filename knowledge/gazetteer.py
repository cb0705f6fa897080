"""The offline article names as a gazetteer: find, in a tokenized text, the names the
knowledge base knows, so recognition does not depend on the statistical model alone.

A small NER model misses or mislabels famous names ("The Beatles", "Ludwig van Beethoven" as
an organisation); the knowledge base knows them and what kind of thing each is. But many
titles are common words ("Music", "May", "Bell"), so a name counts only when it is written
like a name and its article is about a nameable thing. The rules, none of them about any
one name:

- the article has an entity kind (`Article.kinds`): concepts ("Apple" the fruit, "Music")
  are not entities;
- every content word of the span is capitalised, as names are in English prose (function
  words such as "of", "the", "van" may stay lowercase);
- the span is a whole name: no capitalised content word right before or after it ("Sun" in
  "Sun Microsystems", "Paris" in "Paris Hilton"), apart from a sentence's first word;
- a one-word name is not a stop word, and at the start of a sentence, where every word is
  capitalised, not a word the articles themselves mostly write in lowercase ("Bell", "Young").

Matching is on `normalize`d keys, so case, accents, a leading "the" and a possessive "'s"
do not matter; the longest name starting at a token wins.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from knowledge.wiki_offline import Candidate, WikiIndex, normalize, offline_index

# The longest name tried, in tokens ("Washington, D.C." is four).
MAX_TOKENS = 12
SENTENCE_ENDS = frozenset({".", "!", "?", ":", ";", '"', "“", "”", "(", "\n"})
POSSESSIVES = frozenset({"'s", "’s", "'", "’"})
# Lowercase words allowed inside a name ("Statue of Liberty", "Ludwig van Beethoven").
NAME_PARTICLES = frozenset(
    {"of", "the", "and", "de", "da", "del", "di", "van", "von", "der", "la", "le", "du", "y"}
    | {"on", "in", "for", "at", "a", "an", "&", "-", ",", "'s", "’s", "'", "’"}
)
# Particles that join two names into one ("Bank of England", "Ludwig van Beethoven").
JOINING = frozenset({"of", "de", "da", "del", "di", "van", "von", "der", "du"})
_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Za-z]+)\b")


@dataclass(frozen=True)
class Token:
    """A token's character offsets in the text; the gazetteer needs nothing more."""

    start: int
    end: int


@dataclass(frozen=True)
class Match:
    """A known name in the text (character offsets, end exclusive) and its candidates."""

    start: int
    end: int
    text: str
    candidates: tuple[Candidate, ...]

    @property
    def kinds(self) -> frozenset[str]:
        """Every label some candidate article can carry."""
        return frozenset().union(*(c.article.kinds for c in self.candidates))

    @property
    def label(self) -> str:
        """The label of the strongest candidate's main kind."""
        return self.candidates[0].article.primary_kind


@dataclass(frozen=True)
class Gazetteer:
    """Normalized names of nameable articles, with what the filters need."""

    keys: dict[str, tuple[Candidate, ...]]
    first_words: frozenset[str]
    common_words: frozenset[str]
    stop_words: frozenset[str]

    def find(self, text: str, tokens: Sequence[Token]) -> list[Match]:
        """Known names in the text, left to right, longest first at each token, no overlaps."""
        matches: list[Match] = []
        i = 0
        while i < len(tokens):
            found = self._longest_at(text, tokens, i)
            if found is None:
                i += 1
                continue
            match, i = found
            matches.append(match)
        return matches

    def _longest_at(self, text: str, tokens: Sequence[Token], i: int) -> tuple[Match, int] | None:
        """The longest acceptable name starting at token i, and the token after it."""
        first = text[tokens[i].start : tokens[i].end]
        if not _capitalised(first):
            return None
        skip_the = first in ("The", "THE") and i + 1 < len(tokens)
        head = normalize(text[tokens[i + skip_the].start : tokens[i + skip_the].end])
        if head not in self.first_words and normalize(first) not in self.first_words:
            return None
        for j in range(min(len(tokens), i + MAX_TOKENS), i, -1):
            last = text[tokens[j - 1].start : tokens[j - 1].end]
            if last in POSSESSIVES or last in NAME_PARTICLES:
                continue
            candidates = self.keys.get(normalize(text[tokens[i].start : tokens[j - 1].end]))
            if candidates and self._acceptable(text, tokens, i, j):
                return self._trimmed(text, tokens, i, j, candidates), j
        return None

    def _acceptable(self, text: str, tokens: Sequence[Token], i: int, j: int) -> bool:
        words = [text[t.start : t.end] for t in tokens[i:j]]
        if not all(_capitalised(w) or w.lower() in NAME_PARTICLES for w in words):
            return False
        initial = sentence_initial(text, tokens, i)
        if i > 0 and not initial and self._name_word(text, tokens[i - 1]):
            before_initial = sentence_initial(text, tokens, i - 1)
            lower_before = text[tokens[i - 1].start : tokens[i - 1].end].lower()
            if not (before_initial and lower_before in self.common_words):
                return False
        if j < len(tokens) and self._name_word(text, tokens[j]):
            return False
        if self._joined(text, tokens, j, j + 1) or self._joined(text, tokens, i - 1, i - 2):
            return False
        if len(words) == 1:
            word = words[0].lower()
            if word in self.stop_words or (initial and word in self.common_words):
                return False
        return True

    def _joined(self, text: str, tokens: Sequence[Token], link: int, word: int) -> bool:
        """Whether a particle and a capitalised word make the name part of a longer one:
        "Battle" in "Battle of Waterloo", "Paris" in "University of Paris"."""
        if not (0 <= link < len(tokens) and 0 <= word < len(tokens)):
            return False
        particle = text[tokens[link].start : tokens[link].end]
        return particle in JOINING and self._name_word(text, tokens[word])

    def _name_word(self, text: str, token: Token) -> bool:
        word = text[token.start : token.end]
        return _capitalised(word) and word.lower() not in self.stop_words and word.isalpha()

    @staticmethod
    def _trimmed(
        text: str, tokens: Sequence[Token], i: int, j: int, candidates: tuple[Candidate, ...]
    ) -> Match:
        """The span without a leading "The" that is not part of the best title."""
        start = tokens[i].start
        if (
            text[start : tokens[i].end] in ("The", "THE")
            and j - i > 1
            and not candidates[0].article.title.startswith("The ")
        ):
            start = tokens[i + 1].start
        end = tokens[j - 1].end
        return Match(start, end, text[start:end], candidates)


def _capitalised(word: str) -> bool:
    """A name-like token: starts with a capital or a digit, or has one inside ("iPhone")."""
    return bool(word) and (word[0].isupper() or word[0].isdigit() or any(c.isupper() for c in word))


def sentence_initial(text: str, tokens: Sequence[Token], i: int) -> bool:
    """Whether token i starts a sentence (or a quotation), where capitals say nothing."""
    if i == 0:
        return True
    previous = text[tokens[i - 1].start : tokens[i - 1].end]
    return previous in SENTENCE_ENDS or previous.endswith((".", "!", "?"))


def common_words(index: WikiIndex) -> frozenset[str]:
    """Words the articles write in lowercase more often than capitalised mid-sentence: the
    knowledge base's own evidence that a word is common, not a name."""
    lower: Counter[str] = Counter()
    upper: Counter[str] = Counter()
    for article in index.articles.values():
        for m in _WORD.finditer(article.extract):
            word = m.group(1)
            if word[0].isupper():
                upper[word.lower()] += 1
            else:
                lower[word] += 1
    return frozenset(w for w, n in lower.items() if n > upper[w])


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The gazetteer over the offline index; built once per process (~1 s)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    index = offline_index()
    keys = {}
    for key, candidates in index.by_key.items():
        nameable = tuple(c for c in candidates if c.article.kinds)
        if nameable:
            keys[key] = nameable
    return Gazetteer(
        keys=keys,
        first_words=frozenset(re.split(r"[\s,]+", key)[0] for key in keys),
        common_words=common_words(index),
        stop_words=frozenset(STOP_WORDS),
    )
