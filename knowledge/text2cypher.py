"""Text-to-Cypher: a question in English, answered by Cypher the LLM writes.

The question goes to the agent's LLM with a schema read from the live database, the
examples every prompt holds and the few of the example bank nearest in meaning to it
(dynamic few-shot). The Cypher it writes is checked against the schema and the question,
passes the read-only guard, runs with READ routing, a timeout and a row limit, and goes
back to the model once with the error if the database or a check rejects it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.errors import ToolInputError
from knowledge.cypher_checks import (
    GraphSchema,
    Names,
    alias_with_items,
    bind_anonymous,
    copied_terms,
    distinct_counts,
    fix_order_by,
    fix_relationships,
    graph_names,
    literals,
    mask_names,
    match_unbound,
    named_kinds,
    question_problems,
    read_schema,
    schema_problems,
    split_impossible_pairs,
)
from knowledge.cypher_examples import Example, example_bank
from knowledge.cypher_guard import WriteRefused, cap_vector_k, check_read_only

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from core.settings import Settings
    from knowledge.graph_store import GraphStore, ReadResult

WRITE_REQUEST = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(?:delete|remove|drop|create|add|insert|update|rename|set|merge|wipe|erase|change|modify"
    r"|replace|clear)\b",
    re.IGNORECASE,
)
SIMILARITY_REQUEST = re.compile(
    r"\b(?:articles?|papers?|publications?|work|research)\b[^?]*?\b"
    r"(?:about|on|deal(?:s|ing)?\s+with|related\s+to|similar\s+to|concerning"
    r"|discuss(?:es|ing)?|cover(?:s|ing)?|address(?:es|ing)?)\s+(?P<theme>[^?]{3,})",
    re.IGNORECASE,
)
EMBEDDING_PARAM = "embedding"
VECTOR_QUERY = (
    "CALL db.index.vector.queryNodes('{index}', 5, $embedding) YIELD node, score\n"
    "RETURN node.title AS title, node.date AS date, score ORDER BY score DESC"
)
# "Which researchers published articles about X?" asks for people: the authors of the
# nearest articles, not the articles (the answer listed five titles as researchers).
VECTOR_AUTHORS_QUERY = (
    "CALL db.index.vector.queryNodes('{index}', 5, $embedding) YIELD node, score\n"
    "MATCH (r:Researcher)-[:PUBLISHED]->(node)\n"
    "RETURN r.name AS researcher, node.title AS title, score ORDER BY score DESC, researcher"
)
ASKS_FOR_PEOPLE = re.compile(
    r"\b(?:who|whom|which|what)\b[^?]{0,20}?\b(?:researchers?|authors?|scientists?|people|"
    r"writers?)\b|^\s*who\b|\bwho\s+(?:wrote|writes|authored|co-?authored|published)\b",
    re.IGNORECASE,
)


FEW_SHOT_K = 3
MAX_QUERIES = 3  # the first query and up to two repairs
EARLIER_ROWS = 5  # rows of the previous answer a follow-up sees


def nearest(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest scores, the highest LAST: that example then sits right before
    the question, and a small model copies the example it read most recently."""
    best = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))[:k]
    return best[::-1]


NAME_PENALTY = 0.15  # cosine taken off an example per kind of name the question lacks


def _similarity_bank() -> tuple[Example, ...]:
    return tuple(e for e in example_bank() if not e.always)


@lru_cache(maxsize=2)
def _bank_vectors(bank: tuple[Example, ...], names: Names, settings: Settings) -> np.ndarray:
    from knowledge.embeddings import embed

    return embed([mask_names(e.question, names) for e in bank], settings)


@lru_cache(maxsize=2)
def _bank_kinds(bank: tuple[Example, ...], names: Names) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(named_kinds(e.question, names)) for e in bank)


def embed_example_bank(store: GraphStore) -> None:
    """Embed the example bank with this graph's names masked, before the first question."""
    names = graph_names(store)
    _bank_vectors(_similarity_bank(), names, store.settings)
    _bank_kinds(_similarity_bank(), names)


def choose_examples(
    question: str,
    settings: Settings,
    names: Names = (),
    k: int = FEW_SHOT_K,
    avoid: frozenset[str] = frozenset(),
) -> list[Example]:
    """The k bank examples (not `always` ones) whose masked questions are nearest in meaning
    to the masked question (dynamic few-shot), leaving out any whose Cypher holds a name in
    `avoid` (one the model copied into a question that does not state it).

    A fixed list long enough to cover every question shape costs the 1.5B model attention and
    prompt time on examples that do not apply; the nearest few show the shape that does. The
    few `always` examples keep the common shapes in view when similarity picks poorly. An
    example that names a kind of thing the question does not (a researcher, for a question
    about all researchers) ranks lower: the small model copies the name with the shape.
    """
    import numpy as np

    from knowledge.embeddings import embed

    bank = _similarity_bank()
    vector = embed([mask_names(question, names)], settings)[0]
    asked = named_kinds(question, names)
    scores = _bank_vectors(bank, names, settings) @ vector
    scores -= NAME_PENALTY * np.array([len(kinds - asked) for kinds in _bank_kinds(bank, names)])
    avoided = {x.casefold() for x in avoid}
    for i, example in enumerate(bank):
        if {x.casefold() for x in literals(example.cypher)} & avoided:
            scores[i] = -np.inf
    return [bank[i] for i in nearest(scores, k) if np.isfinite(scores[i])]


PROMPT = """You write one read-only Cypher query that answers the question about this graph.

{schema}

Rules:
- Use only these labels, relationships and properties. Copy names exactly from the question.
- a.date is a 'YYYY-MM-DD' string, a.year an integer. "In 2021" is a.year = 2021, "since
  2021" a.year >= 2021, "after 2021" a.year > 2021, "between 2020 and 2022" includes both.
- Articles have no author or topic properties: authors are (:Researcher)-[:PUBLISHED]->(a),
  topics (a)-[:IN_TOPIC]->(:Topic), subtopics (a)-[:IN_SUBTOPIC]->(:Subtopic). An article has
  exactly one topic and one subtopic: "in both X and Y" needs two different articles.
- For questions about what articles are about, or similar to a theme, use the vector index with
  the parameter $embedding (no other parameters exist).
- Use every condition of the question: each name, title and year it states.
- Co-authors of r: (r)-[:PUBLISHED]->(:Article)<-[:PUBLISHED]-(c:Researcher); count them with
  count(DISTINCT c).
- "Average number of Y per X": one row per X first, WITH x, count(y) AS n, then RETURN avg(n).
- Return article titles and the names of researchers, topics and subtopics (not whole
  nodes), with clear aliases.
- Reply with the query only, in a ```cypher block.

Examples:
{examples}"""

FOLLOW_UP = """That query's first rows were:
{rows}

Now a follow-up. It may leave out what the question above said or refer back to it ("and
for X?", "he", "them", "that one"): take those names from the question, the query or the
rows above, and write a new query.
{request}"""

FOUND_NOTHING = """It ran but found nothing. Check each name against the schema's values, drop
any filter the question did not ask for, and follow the arrow directions of the schema."""

REPAIR = """This query for the question "{question}" is wrong:
```cypher
{cypher}
```
Error: {error}{hint}
Write a corrected query. Reply with the query only, in a ```cypher block."""

UNBOUND_HINT = """
Hint: {var} must first appear in a MATCH pattern. Add the relationship path from the schema
that reaches it, e.g. (r:Researcher)-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->(t:Topic), or for
the co-authors of r: (r)-[:PUBLISHED]->(:Article)<-[:PUBLISHED]-(c:Researcher)."""
AGGREGATE_IN_WHERE_HINT = """
Hint: count(), avg() and other aggregates cannot be used in WHERE. Aggregate first, then
filter: WITH a, count(r) AS n WHERE n = 2."""
NESTED_AGGREGATE_HINT = """
Hint: an aggregate cannot hold another one, as in avg(count(r)). Count first, one row per
group, then average: WITH a, count(r) AS n RETURN avg(n) AS average."""


def repair_hint(cypher: str, error: str) -> str:
    """A hint for the mistakes the 1.5B model makes most and does not fix from the database's
    error alone: without one it mostly sends back the same query."""
    aggregate = r"\b(?:count|avg|sum|min|max|collect)\s*\("
    if re.search(rf"\bWHERE\b[^\n]*?{aggregate}", cypher, re.I):
        return AGGREGATE_IN_WHERE_HINT
    if re.search(rf"{aggregate}\s*(?:DISTINCT\s+)?{aggregate}", cypher, re.I):
        return NESTED_AGGREGATE_HINT
    if re.search(r"UndefinedVariable|not defined", error, re.I):
        var = re.search(r"[Vv]ariable [`'\"]?(\w+)", error)
        return UNBOUND_HINT.format(var=f"the variable {var.group(1)}" if var else "every variable")
    return ""


def build_messages(
    store: GraphStore,
    schema: GraphSchema,
    examples: Sequence[Example],
    request: str,
    earlier: Earlier | None = None,
) -> list[BaseMessage]:
    """The system prompt (rules, schema and the `always` examples: the same for every
    question, so the LLM server reuses its cached prefix), then each chosen example as a
    question turn and a Cypher reply, then the request.

    As earlier turns of the conversation, the chosen examples show the 1.5B model exactly what
    its reply should look like; written into the system prompt, it copied them less closely.
    """
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    index = store.vector_index_name()
    always = "\n".join(e.render(index) for e in example_bank() if e.always)
    messages: list[BaseMessage] = [
        SystemMessage(PROMPT.format(schema=schema.text, examples=always))
    ]
    for example in examples:
        messages.append(HumanMessage(f"Question: {example.question}"))
        messages.append(AIMessage(f"```cypher\n{example.cypher.replace('{index}', index)}\n```"))
    if earlier is not None:  # the conversation's previous question, as its last turn
        messages.append(HumanMessage(f"Question: {earlier.question}"))
        messages.append(AIMessage(f"```cypher\n{earlier.cypher}\n```"))
        rows = "\n".join(f"- {row}" for row in earlier.rows) or "(no rows)"
        request = FOLLOW_UP.format(rows=rows, request=request)
    return [*messages, HumanMessage(request)]


def prime_prompt(store: GraphStore, llm: BaseChatModel) -> None:
    """One throwaway call with the fixed prefix of every question's prompt (rules, schema,
    the `always` examples), so the LLM server holds it in its cache: a question then pays
    only for its chosen examples and itself."""
    messages = build_messages(store, read_schema(store), [], "Question: How many articles?")
    llm.bind(max_tokens=1).invoke(messages)


def extract_cypher(reply: str) -> str:
    """The Cypher in a model reply: a fenced block, an unclosed fence, or the first clause on."""
    fenced = re.search(r"```[ \t]*(?:cypher|neo4j|sql)?[ \t]*\n?(.*?)```", reply, re.S | re.I)
    if fenced:
        return fenced.group(1).strip().rstrip(";").strip()
    unclosed = re.search(r"```[ \t]*(?:cypher|neo4j|sql)?[ \t]*\n(.*)$", reply, re.S | re.I)
    text = unclosed.group(1) if unclosed else reply
    start = re.search(r"^\s*(MATCH|OPTIONAL|CALL|WITH|UNWIND|RETURN)\b", text, re.M | re.I)
    if start:
        text = text[start.start() :]
    return text.strip().rstrip(";").strip()


@dataclass(frozen=True)
class Earlier:
    """The previous question to this tool in the conversation, its query and its first rows:
    what a follow-up ("and for computer vision?", "what else has he written?") builds on.
    Shown to the model as the turn before the follow-up, it edits a query it can see
    instead of the agent first rewriting the question, a call that lost the question's
    shape ("how many") or its subject as often as it kept them."""

    question: str
    cypher: str
    rows: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Earlier | None:
        if not data or not data.get("question") or not data.get("cypher"):
            return None
        return cls(
            str(data["question"]), str(data["cypher"]), tuple(map(str, data.get("rows") or ()))
        )

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "cypher": self.cypher, "rows": list(self.rows)}

    def context(self) -> str:
        """The words a follow-up may take its names from."""
        return " ".join([self.question, self.cypher, *self.rows])


@dataclass
class GraphAnswer:
    question: str
    method: str = "text-to-Cypher"  # or "vector search"
    cypher: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    answer: str = ""
    refused: str = ""  # the reason, when the request or the query would write
    error: str = ""  # the error that remained after the last repair, if no query ran
    attempts: list[dict[str, str]] = field(default_factory=list)  # every query run
    notes: list[str] = field(default_factory=list)  # corrections a learner should see (markdown)
    examples: list[str] = field(default_factory=list)  # the few-shot questions the model saw
    earlier: Earlier | None = None  # the previous question a follow-up was built on
    edges: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("edges", "earlier")} | {
            "edges": [list(e) for e in self.edges],
            "earlier": self.earlier.to_dict() if self.earlier else None,
        }

    def follow_up(self) -> dict[str, Any] | None:
        """What a follow-up question needs from this answer (see `Earlier`)."""
        if not self.cypher or self.error or self.refused:
            return None
        rows = tuple(", ".join(cell(v) for v in row) for row in self.rows[:EARLIER_ROWS])
        return Earlier(self.question, self.cypher, rows).to_dict()


def _content(reply: Any) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def run_guarded(store: GraphStore, cypher: str, embed_text: str = "") -> ReadResult:
    """Guard, cap each vector search's k, then run (the store asks the database's parser
    too, then reads with READ routing). `$embedding` is the embedding of embed_text."""
    query = cap_vector_k(check_read_only(cypher))
    params: dict[str, Any] = {}
    if re.search(rf"\${EMBEDDING_PARAM}\b", query):
        from knowledge.embeddings import embed

        vector = embed([embed_text or query], store.settings)[0]
        params[EMBEDDING_PARAM] = [float(x) for x in vector]
    return store.read(query, params)


def similarity_theme(names: Names, question: str) -> str:
    """The theme of a "which articles are about X?" question, or "" for any other question.

    Such questions go straight to the vector index: a 1.5B model rarely picks it by itself,
    and the query is always the same. Counts, dates, quoted titles, researcher names and a
    theme that is exactly a topic or subtopic name (all its articles, not the 5 nearest)
    stay with text-to-Cypher.
    """
    if re.search(r"\bhow many\b|\bcount\b|['\"]|\d{4}", question, re.IGNORECASE):
        return ""
    match = SIMILARITY_REQUEST.search(question)
    if not match:
        return ""
    theme = match.group("theme").strip(" .?!")
    folded = question.casefold()
    if any(n.casefold() in folded for n, label in names if label in ("Researcher", "Article")):
        return ""
    if theme.casefold() in {n.casefold() for n, label in names if label in ("Topic", "Subtopic")}:
        return ""
    return theme


CORRECTIONS: tuple[tuple[Callable[[str, GraphSchema], str], str], ...] = (
    (
        lambda q, schema: distinct_counts(q),
        "Counted each node once (count(DISTINCT ...)): over a path of several hops a node "
        "comes back once per path. The model wrote:",
    ),
    (
        lambda q, schema: fix_relationships(q, schema.patterns),
        "Relationship corrected from the schema; the model wrote:",
    ),
    (
        lambda q, schema: split_impossible_pairs(q, schema.single),
        "One node was asked to have two different ends of a relationship it has only one of "
        "(an article in two topics), which finds nothing; the second MATCH got a variable of "
        "its own. The model wrote:",
    ),
    (
        lambda q, schema: match_unbound(
            bind_anonymous(fix_order_by(alias_with_items(q), schema.properties)), schema.patterns
        ),
        "A name the query used but never defined was bound (a WITH or ORDER BY alias, an "
        "anonymous node, or a node matched by the one schema path to it); the model wrote:",
    ),
)


def corrected(cypher: str, schema: GraphSchema) -> tuple[str, list[str]]:
    """The query with the slips the schema can fix fixed, and a note for each fix made."""
    notes = []
    for fix, note in CORRECTIONS:
        fixed = fix(cypher, schema)
        if fixed != cypher:
            notes.append(_noted(note, cypher))
            cypher = fixed
    return cypher, notes


def answer_question(
    store: GraphStore, llm: BaseChatModel, question: str, earlier: Earlier | None = None
) -> GraphAnswer:
    """Question → Cypher → rows → answer in words. With `earlier`, the question is a
    follow-up to that one, shown to the model before it (see `Earlier`).

    Up to two more model calls, each a fresh request with the failed query and what was
    wrong: a database error, a label, type or property the graph lacks, a mismatch with the
    question (the question checks), or nothing found. The best query that ran is kept.
    Writes are refused outright, never repaired.
    """
    from neo4j.exceptions import Neo4jError

    started = time.perf_counter()
    question = question.strip()
    if not question:
        raise ToolInputError(
            "Ask a question about the research articles, for example "
            "'How many articles did Amara Okafor publish?'."
        )
    result = GraphAnswer(question, earlier=earlier)
    if WRITE_REQUEST.search(question):
        result.refused = (
            "This tool only reads the knowledge graph: requests to delete, create or change "
            "data are refused, and the graph is unchanged."
        )
        result.answer = result.refused
        result.seconds = time.perf_counter() - started
        return result

    names = graph_names(store)  # one read: the similarity test and the checks both use them
    theme = similarity_theme(names, question)
    if theme:
        people = bool(ASKS_FOR_PEOPLE.search(question))
        result.method = "vector search"
        query = VECTOR_AUTHORS_QUERY if people else VECTOR_QUERY
        result.cypher = query.format(index=store.vector_index_name())
        rows = run_guarded(store, result.cypher, theme)
        result.attempts.append({"cypher": result.cypher, "error": ""})
        result.columns, result.rows, result.truncated = rows.columns, rows.rows, rows.truncated
        found = "Authors of the articles" if people else "Articles"
        result.answer = f"{found} nearest in meaning to {theme!r}:\n" + _answer_text(result)
        result.seconds = time.perf_counter() - started
        return result

    schema = read_schema(store)
    # A follow-up takes its shape from the question before it as much as from itself.
    asked = f"{earlier.question} {question}" if earlier else question
    context = earlier.context() if earlier else ""
    examples = choose_examples(asked, store.settings, names)
    result.examples = [e.question for e in examples]
    always = [e for e in example_bank() if e.always]

    def request(text: str) -> list[BaseMessage]:
        return build_messages(store, schema, examples, text, earlier)

    messages = request(f"Question: {question}")
    runs: list[tuple[tuple[bool, bool], str, ReadResult]] = []  # (rank, cypher, rows)
    for attempt in range(MAX_QUERIES):
        last = attempt == MAX_QUERIES - 1
        generated = extract_cypher(_content(llm.invoke(messages)))
        shown = [*examples, *always]
        result.cypher, notes = corrected(generated, schema)
        result.notes += notes
        try:
            check_read_only(result.cypher)  # a write is refused, never "repaired"
            problems = []
            if missing := schema_problems(result.cypher, schema):
                problems.append("Not in this graph: " + "; ".join(missing) + ".")
            # The last query runs even if it still misreads the question: its rows may help.
            unasked = question_problems(question, result.cypher, names, shown, context)
            if unasked and not last:
                problems.append("It does not match the question: " + "; ".join(unasked) + ".")
            if problems:
                # Not run, not even for the database's error message: a query a check
                # rejected never reaches the database.
                raise ToolInputError(" ".join(problems))
            rows = run_guarded(store, result.cypher, question)
        except WriteRefused as exc:
            result.attempts.append({"cypher": result.cypher, "error": str(exc)})
            result.refused = f"{exc} The graph is unchanged."
            break
        except (ToolInputError, Neo4jError) as exc:  # malformed or misread: worth a repair
            error = getattr(exc, "message", None) or str(exc)
            result.attempts.append({"cypher": result.cypher, "error": error})
            if last:
                result.error = error
                break
            copied = copied_terms(f"{context} {question}", result.cypher, shown)
            if copied:  # show other examples, or the model copies the same name again
                examples = choose_examples(asked, store.settings, names, avoid=frozenset(copied))
                result.notes.append(
                    f"The query copied {', '.join(map(repr, copied))} from an example, so the "
                    "repair was shown other examples:\n"
                    + "\n".join(f"- {e.question}" for e in examples)
                )
            # A fresh request rather than a follow-up turn: after its own reply in the
            # context, the small model mostly repeats the query it just wrote.
            hint = repair_hint(result.cypher, error)
            repair = REPAIR.format(
                question=question, cypher=result.cypher, error=error[:600], hint=hint
            )
            messages = request(repair)
            continue
        result.attempts.append({"cypher": result.cypher, "error": ""})
        runs.append(((not unasked, not _looks_empty(rows.rows)), result.cypher, rows))
        if last or not _looks_empty(rows.rows):
            break
        # Nothing found is often a wrong name or a hallucinated filter: one more look, as a
        # fresh request like a repair (as a follow-up turn, the 1.5B model drifted off).
        result.notes.append(_noted("This query found nothing:", result.cypher))
        repair = REPAIR.format(
            question=question, cypher=result.cypher, error=FOUND_NOTHING, hint=""
        )
        messages = request(repair)
    if runs and not result.refused:
        # The best query that ran: one that fits the question and finds something, the
        # latest of equals. A repair can be worse than the query it replaced.
        _, cypher, rows = max(reversed(runs), key=lambda run: run[0])
        if cypher != result.cypher:
            result.notes.append(
                _noted(
                    "Kept an earlier query: the last one did worse (it still misread the "
                    "question, failed, or found nothing). The last query was:",
                    result.cypher,
                )
            )
        result.cypher, result.error = cypher, ""
        result.columns, result.rows, result.truncated = rows.columns, rows.rows, rows.truncated
        result.edges = rows.edges
    result.answer = _answer_text(result)
    result.seconds = time.perf_counter() - started
    return result


def _noted(text: str, cypher: str) -> str:
    """A note for the learner (markdown) with the query it is about."""
    return f"{text}\n```cypher\n{cypher}\n```"


def _looks_empty(rows: list[list[Any]]) -> bool:
    """No rows, or a single count of zero (what `count()` returns when nothing matched)."""
    return not rows or (len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (0, None))


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _answer_text(result: GraphAnswer) -> str:
    """The answer in words, from the rows: a template keeps latency to one LLM call."""
    if result.refused:
        return result.refused
    if result.error:
        repairs = len(result.attempts) - 1
        tries = f"{repairs} repair{'s' if repairs != 1 else ''}"
        return f"The generated Cypher failed even after {tries}: {result.error}"
    if not result.rows:
        return "The query ran but found nothing: no rows match."
    if len(result.rows) == 1 and len(result.columns) == 1:
        return f"{result.columns[0]}: {cell(result.rows[0][0])}."
    lines = [
        "; ".join(f"{c}: {cell(v)}" for c, v in zip(result.columns, row, strict=False))
        for row in result.rows[:15]
    ]
    more = len(result.rows) - len(lines)
    cut = " (cut at the row limit)" if result.truncated else ""
    tail = f"\n... and {more} more rows{cut}." if more > 0 else cut
    return f"{len(result.rows)} row(s):\n- " + "\n- ".join(lines) + tail
