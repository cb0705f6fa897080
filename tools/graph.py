"""Text-to-Cypher over the research-article knowledge graph: the knowledge-graph lesson, live.

A question goes to the agent's LLM with a schema read from the live database and a few
examples; the Cypher it writes passes a static read-only guard, runs with READ routing, a
timeout and a row limit, and gets one repair round if the database rejects it. The artifact
shows every step a learner should see: the Cypher, the rows, and the piece of the graph
they touch.

The guard is the safety net, not READ routing: ArcadeDB (the embedded default) does not
enforce read-only transactions over Bolt, so anything that could write is refused before it
reaches the database.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools import artifacts
from tools.errors import ToolInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import BaseTool

    from agent.settings import Settings
    from knowledge.graph_store import GraphStore, ReadResult
    from tools import ToolContext

TOOL_NAME = "query_knowledge_graph"

# Clauses and commands that write or administer; matched as whole words outside strings,
# comments and backticks, in any case.
# fmt: off
FORBIDDEN_WORDS = frozenset(
    {
        "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "FOREACH", "LOAD",
        "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "TERMINATE", "START", "STOP", "SHOW",
        "USE", "ENABLE", "COMMIT", "TRANSACTIONS", "PERIODIC", "IMPORT",
    }
)
# fmt: on
ALLOWED_PROCEDURES = frozenset(
    {
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.index.vector.querynodes",
        "db.schema.visualization",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
    }
)
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
PICTURE_EDGES = 40
MAX_LISTED_NODES = 20


# ---------------------------------------------------------------------------------------------
# The read-only guard


class WriteRefused(ToolInputError):
    """The query could change or administer the database (a malformed one is a plain
    ToolInputError: the model may repair that, but never a write)."""


def _strip_literals(cypher: str) -> tuple[str, str]:
    """Two views of the query without comments and string contents.

    `code` turns backticked names into the neutral word IDENT (so a label called `Create`
    is no clause, and a backticked procedure name is never on the allow-list); `plain`
    keeps their text (to catch `apoc`.`create`.node). Unterminated quotes or comments are
    refused: the database would parse them differently from us.
    """
    code: list[str] = []
    plain: list[str] = []
    i, n = 0, len(cypher)
    while i < n:
        ch = cypher[i]
        two = cypher[i : i + 2]
        if two == "//":
            end = cypher.find("\n", i)
            i = n if end < 0 else end
            code.append(" ")
            plain.append(" ")
        elif two == "/*":
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise ToolInputError("The query has an unterminated /* comment.")
            i = end + 2
            code.append(" ")
            plain.append(" ")
        elif ch in "'\"":
            i = _skip_string(cypher, i)
            code.append("''")
            plain.append("''")
        elif ch == "`":
            j, name = i + 1, []
            while True:
                if j >= n:
                    raise ToolInputError("The query has an unterminated `backtick` name.")
                if cypher[j] == "`":
                    if cypher[j + 1 : j + 2] == "`":  # `` is an escaped backtick
                        name.append("`")
                        j += 2
                        continue
                    break
                name.append(cypher[j])
                j += 1
            i = j + 1
            code.append(" IDENT ")
            plain.append("".join(name))
        else:
            code.append(ch)
            plain.append(ch)
            i += 1
    return "".join(code), "".join(plain)


def _skip_string(cypher: str, start: int) -> int:
    quote, i = cypher[start], start + 1
    while i < len(cypher):
        if cypher[i] == "\\":
            i += 2
            continue
        if cypher[i] == quote:
            return i + 1
        i += 1
    raise ToolInputError("The query has an unterminated string literal.")


def check_read_only(cypher: str) -> str:
    """The query if it can only read; WriteRefused (or ToolInputError) saying why otherwise.

    Refuses write and admin clauses, LOAD CSV, CALL of any procedure outside a read-only
    allow-list (CALL { } subqueries are checked like the rest of the text), apoc.*, and
    more than one statement. Returns the query without a trailing semicolon.
    """
    if not cypher or not cypher.strip():
        raise ToolInputError("The query is empty.")
    code, plain = _strip_literals(cypher)
    body = code.rstrip().rstrip(";")
    if ";" in body:
        raise WriteRefused("Only one statement is allowed: the query contains a ';'.")
    for match in re.finditer(r"(?<![.$\w])([A-Za-z_]\w*)", body):
        word = match.group(1).upper()
        if word in FORBIDDEN_WORDS:
            raise WriteRefused(
                f"Refused: {word} would change or administer the database, and this tool only "
                "reads the knowledge graph."
            )
    if re.search(r"\bapoc\s*\.", plain, re.IGNORECASE):
        raise WriteRefused("Refused: APOC procedures and functions are not allowed here.")
    for match in re.finditer(r"\bCALL\b\s*", body, re.IGNORECASE):
        rest = body[match.end() :]
        if rest[:1] in ("{", "("):
            continue  # a subquery: its clauses went through the word check above
        name = re.match(r"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*", rest)
        proc = re.sub(r"\s+", "", name.group(0)).lower() if name else rest[:20]
        if proc not in ALLOWED_PROCEDURES:
            raise WriteRefused(
                f"Refused: CALL {proc} is not on the list of read-only procedures "
                f"({', '.join(sorted(ALLOWED_PROCEDURES))})."
            )
    return cypher.strip().rstrip(";").rstrip()


# ---------------------------------------------------------------------------------------------
# Schema text and prompt


@dataclass(frozen=True)
class GraphSchema:
    text: str  # for the prompt
    patterns: frozenset[tuple[str, str, str]]  # (start label, type, end label)
    properties: dict[str, frozenset[str]]  # label -> property keys

    @property
    def rel_types(self) -> set[str]:
        return {t for _, t, _ in self.patterns}


def read_schema(store: GraphStore) -> GraphSchema:
    """Labels, relationship patterns and properties with sample values, read from the live DB.

    Built from db.labels(), db.relationshipTypes() and sampled nodes: no APOC, so it works on
    ArcadeDB and on any Neo4j.
    """
    lines = ["Nodes (with sample property values):"]
    keys: dict[str, frozenset[str]] = {}
    labels = [r[0] for r in store.read("CALL db.labels() YIELD label RETURN label").rows]
    for label in sorted(labels):
        nodes = [row[0] for row in store.read(f"MATCH (n:`{label}`) RETURN n LIMIT 21").rows]
        if not nodes:
            continue
        props: dict[str, Any] = {}
        for node in nodes[:3]:
            for key, value in node.items():
                if key != "labels":
                    props.setdefault(key, value)
        if label == "Article" and props:
            props["embedding"] = "<384 floats: use the vector index>"
        keys[label] = frozenset(k for node in nodes for k in node if k != "labels") | set(props)
        shown = ", ".join(f"{k}: {_sample(v)}" for k, v in sorted(props.items()))
        lines.append(f"(:{label} {{{shown}}})")
        if len(nodes) <= MAX_LISTED_NODES and "name" in props:
            # Few topics and subtopics: list them all, so the model copies exact names.
            names = sorted(str(n.get("name")) for n in nodes if n.get("name"))
            lines.append(f"  all {label} names: " + ", ".join(json.dumps(x) for x in names))
    lines.append("Relationships (mind the arrow direction):")
    patterns: set[tuple[str, str, str]] = set()
    types = store.read("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType")
    for (rel_type,) in sorted(types.rows):
        pairs = store.read(
            f"MATCH (a)-[:`{rel_type}`]->(b) RETURN DISTINCT labels(a)[0] AS a, labels(b)[0] AS b "
            "LIMIT 3"
        ).rows
        patterns.update((a, rel_type, b) for a, b in pairs)
        lines.extend(f"(:{a})-[:{rel_type}]->(:{b})" for a, b in pairs)
    return GraphSchema("\n".join(lines), frozenset(patterns), keys)


def schema_problems(cypher: str, schema: GraphSchema) -> list[str]:
    """Labels, relationship types and properties the query uses but the graph lacks.

    The database does not complain about them (an unknown label simply matches nothing), so
    they are checked here and sent back to the model like a syntax error.
    """
    try:
        code, _ = _strip_literals(cypher)
    except ToolInputError:
        return []  # the guard reports it
    labels = dict(re.findall(r"\(\s*(\w+)\s*:\s*(\w+)", code))
    problems = []
    for label in sorted(set(re.findall(r"\(\s*\w*\s*:\s*(\w+)", code)) - set(schema.properties)):
        problems.append(f"label :{label} (labels are {', '.join(sorted(schema.properties))})")
    used_types = set(re.findall(r"\[\s*\w*\s*:\s*(\w+)", code))
    used_types |= set(re.findall(r"\|\s*:?\s*(\w+)", " ".join(re.findall(r"\[[^\]]*\]", code))))
    for rel_type in sorted(used_types - schema.rel_types):
        problems.append(
            f"relationship :{rel_type} (types are {', '.join(sorted(schema.rel_types))})"
        )
    for hop in typed_hops(code):
        known = {(hop.start, hop.type, hop.end), (hop.end, hop.type, hop.start)}
        if hop.start and hop.end and hop.type in schema.rel_types and not known & schema.patterns:
            links = ", ".join(sorted(f"(:{a})-[:{t}]->(:{b})" for a, t, b in schema.patterns))
            problems.append(
                f"pattern (:{hop.start})-[:{hop.type}]->(:{hop.end}) (the graph has {links})"
            )
    used_props = set(re.findall(r"(?<![\w.])(\w+)\.(\w+)\b(?!\s*\()", code))
    for var, label, body in re.findall(r"\(\s*(\w*)\s*:\s*(\w+)\s*\{([^}]*)\}", code):
        used_props |= {(var or f":{label}", key) for key in re.findall(r"(\w+)\s*:", body)}
        labels.setdefault(f":{label}", label)
    for var, prop in sorted(used_props):
        known = schema.properties.get(labels.get(var, ""))
        if known is not None and prop not in known:
            label = labels[var]
            links = sorted(
                f"(:{a})-[:{t}]->(:{b})" for a, t, b in schema.patterns if label in (a, b)
            )
            problems.append(
                f"property {var}.{prop} ({label} has only {', '.join(sorted(known))}; "
                f"related nodes are matched through {', '.join(links)})"
            )
    return problems


NODE_INNER = re.compile(r"^\s*(\w*)\s*(?::\s*`?(\w+)`?)?")
REL = re.compile(r"(<?)-\[\s*\w*\s*:\s*`?(\w+)`?\s*(?:\{[^\]]*\})?\s*\]-(>?)")


@dataclass(frozen=True)
class Hop:
    """One directed, typed relationship pattern of a query with its end labels, if known."""

    span: tuple[int, int]
    start: str  # label at the arrow's tail ("" if unknown)
    type: str
    end: str  # label at the arrow's head
    points_right: bool


def typed_hops(cypher: str) -> list[Hop]:
    """The `(a:A)-[:T]->(b:B)` hops of a query; labels come from the node or from its
    variable's label elsewhere in the query. Undirected hops are skipped."""
    labels = dict(re.findall(r"\(\s*(\w+)\s*:\s*`?(\w+)`?", cypher))

    def end_label(inner: str) -> str:
        var, label = NODE_INNER.match(inner).groups()  # type: ignore[union-attr]
        return label or labels.get(var, "")

    hops = []
    for rel in REL.finditer(cypher):
        before = re.search(r"\(([^()]*)\)\s*$", cypher[: rel.start()])
        after = re.match(r"\s*\(([^()]*)\)", cypher[rel.end() :])
        left_arrow, rel_type, right_arrow = rel.groups()
        if not before or not after or bool(left_arrow) == bool(right_arrow):
            continue
        a, b = end_label(before.group(1)), end_label(after.group(1))
        tail, head = (a, b) if right_arrow else (b, a)
        hops.append(Hop(rel.span(), tail, rel_type, head, bool(right_arrow)))
    return hops


def fix_directions(cypher: str, patterns: frozenset[tuple[str, str, str]]) -> str:
    """Flip relationship arrows that contradict the schema, e.g. (:Topic)-[:IN_TOPIC]->(:Article).

    Small models often get the direction wrong, and a wrong arrow silently returns nothing.
    Only arrows whose two end labels are known and whose reverse is in the schema flip.
    """
    out = cypher
    for hop in reversed(typed_hops(cypher)):
        if (hop.start, hop.type, hop.end) in patterns:
            continue
        if (hop.end, hop.type, hop.start) not in patterns:
            continue
        text = out[hop.span[0] : hop.span[1]]
        flipped = "<" + text[:-1] if hop.points_right else text[1:] + ">"
        out = out[: hop.span[0]] + flipped + out[hop.span[1] :]
    return out


ORDER_BY = re.compile(
    r"\bORDER\s+BY\s+(.+?)(?=\s+(?:SKIP|LIMIT|RETURN|WITH|MATCH)\b|$)", re.I | re.S
)
ORDER_KEYWORDS = frozenset({"ASC", "DESC", "ASCENDING", "DESCENDING"})


def bind_anonymous(cypher: str) -> str:
    """Name an anonymous node that the query uses by a variable it never binds, when the
    variable is the initial of the node's label: `(:Article) RETURN count(a)` → `(a:Article)`.

    The 1.5B model drops the variable from a node pattern it copied from an example, and,
    shown the database's "not defined" error, mostly writes the same query again.
    """
    code, _ = _strip_literals(cypher)
    if re.search(r"\bYIELD\b", code, re.IGNORECASE):
        return cypher  # procedure results bind names of their own
    bound = set(re.findall(r"(?<!\w)[(\[]\s*(\w+)", code))  # node and relationship variables
    bound |= set(re.findall(r"\bAS\s+(\w+)", code, re.IGNORECASE))
    used = set(re.findall(r"(?<![\w.$])([A-Za-z_]\w*)\.\w", code))
    used |= set(re.findall(r"\(\s*(?:DISTINCT\s+)?([A-Za-z_]\w*)\s*\)", code, re.I))
    out = cypher
    for var in sorted(used - bound):
        nodes = [m for m in re.finditer(r"\(\s*:\s*(\w+)", out) if m.group(1)[:1].lower() == var]
        if len(nodes) == 1:
            out = (
                out[: nodes[0].start()]
                + f"({var}:"
                + out[nodes[0].end() - len(nodes[0].group(1)) :]
            )
    return out


def fix_order_by(cypher: str, properties: dict[str, frozenset[str]]) -> str:
    """Replace an ORDER BY name the query never defines with the alias it nearly spells
    (`ORDER BY researchers` after `AS researcher`), or else with the property of that name
    of the only variable that has one (`ORDER BY date` → `a.date`).

    Slips the 1.5B model makes and, shown the database's "not defined" error, repeats.
    `properties` are the property keys per label (GraphSchema.properties).
    """
    aliases = re.findall(r"\bAS\s+(\w+)", cypher, re.IGNORECASE)
    defined = set(aliases) | set(re.findall(r"[(\[]\s*(\w+)", cypher))
    labels = dict(re.findall(r"\(\s*(\w+)\s*:\s*(\w+)", cypher))

    def fix(word: re.Match[str]) -> str:
        name = word.group(0)
        if name in defined or name.upper() in ORDER_KEYWORDS:
            return name
        close = difflib.get_close_matches(name, aliases, n=1, cutoff=0.8)
        if close:
            return close[0]
        owners = [v for v, label in labels.items() if name in properties.get(label, ())]
        return f"{owners[0]}.{name}" if len(owners) == 1 else name

    out = cypher
    for clause in reversed(list(ORDER_BY.finditer(cypher))):
        items = re.sub(r"(?<![\w.$])[A-Za-z_]\w*(?![\w.(])", fix, clause.group(1))
        out = out[: clause.start(1)] + items + out[clause.end(1) :]
    return out


def _sample(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 50 else value[:47] + "..."
        return json.dumps(text, ensure_ascii=False)
    return json.dumps(value)


EXAMPLE_BANK = Path(__file__).resolve().parent.parent / "knowledge" / "cypher_examples.md"
FEW_SHOT_K = 3
ALWAYS_SHOWN = "## Always shown"  # the bank's section of examples that every prompt holds


@dataclass(frozen=True)
class Example:
    """A question and the Cypher that answers it: one question shape for the model to copy."""

    question: str
    cypher: str
    always: bool = False  # in every prompt, not chosen by similarity

    def render(self, index: str) -> str:
        cypher = self.cypher.replace("{index}", index)
        return f"Question: {self.question}\n```cypher\n{cypher}\n```"


def parse_examples(text: str) -> tuple[Example, ...]:
    """The examples of a bank file: each `Question: ...` line with the ```cypher block after
    it; those under the `## Always shown` heading (up to the next heading) are `always`.
    A question without its block is an error, not a silently shorter bank."""
    headings = [(m.start(), m.group(0).strip()) for m in re.finditer(r"^## .*$", text, re.M)]
    examples = tuple(
        Example(
            m.group(1).strip(),
            m.group(2).strip(),
            always=max(((s, h) for s, h in headings if s < m.start()), default=(0, ""))[1]
            == ALWAYS_SHOWN,
        )
        for m in re.finditer(r"^Question:([^\n]+)\n```cypher\n(.*?)\n```", text, re.M | re.S)
    )
    if len(examples) != len(re.findall(r"^Question:", text, re.M)):
        raise ValueError("every 'Question:' line needs a ```cypher block right after it")
    return examples


@lru_cache(maxsize=2)
def example_bank(path: Path = EXAMPLE_BANK) -> tuple[Example, ...]:
    return parse_examples(path.read_text(encoding="utf-8"))


def nearest(query: np.ndarray, candidates: np.ndarray, k: int) -> list[int]:
    """Row indices of the k candidates most similar to query (unit vectors: inner product is
    cosine), the most similar LAST: it then sits right before the question, and a small model
    copies the example it read most recently."""
    scores = candidates @ query
    best = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))[:k]
    return best[::-1]


NAME_KINDS = {"Researcher": "a researcher", "Topic": "a topic", "Subtopic": "a subtopic"}
Names = tuple[tuple[str, str], ...]  # (name, the words that replace it), longest name first


def graph_names(store: GraphStore) -> Names:
    """The names of the graph's researchers, topics and subtopics, for mask_names."""
    rows = store.read(
        "MATCH (n) WHERE n:Researcher OR n:Topic OR n:Subtopic "
        "RETURN labels(n)[0] AS label, n.name AS name"
    ).rows
    pairs = {(str(name), NAME_KINDS[label]) for label, name in rows if name and label in NAME_KINDS}
    return tuple(sorted(pairs, key=lambda p: (-len(p[0]), p[0])))


def mask_names(text: str, names: Names) -> str:
    """The question's skeleton: quoted titles, known names, dates and years become what they
    are ("an article", "a researcher", "a date", "a year").

    MiniLM similarity between raw questions follows the names (a question about Amara Okafor
    pulls in every example about a person); between skeletons it follows the question's
    shape, which is what an example teaches. DAIL-SQL calls this masked question similarity.
    """
    out = re.sub(r"(?<!\w)'[^']+'(?!\w)|\"[^\"]+\"", "an article", text)
    for name, kind in names:
        out = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", kind, out, flags=re.IGNORECASE)
    out = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "a date", out)
    return re.sub(r"\b(?:19|20)\d{2}\b", "a year", out)


def ignored_terms(question: str, cypher: str, names: Names) -> list[str]:
    """Quoted titles, graph names and years the question states but the query never uses.

    The 1.5B model often writes the first half of a question's path and drops the condition
    at its end (the co-authors of X, without "who published in Y"); the database cannot
    tell, so the query goes back to the model like an error.
    """
    quoted = re.findall(r"(?<!\w)'([^']+)'(?!\w)|\"([^\"]+)\"", question)
    terms = [a or b for a, b in quoted]
    rest = question
    for name, _ in names:
        pattern = rf"(?<!\w){re.escape(name)}(?!\w)"
        if re.search(pattern, rest, re.IGNORECASE):
            terms.append(name)
            rest = re.sub(pattern, " ", rest, flags=re.IGNORECASE)
    terms += re.findall(r"\b(?:19|20)\d{2}\b", question)
    used = cypher.casefold()
    return [term for term in dict.fromkeys(terms) if term.casefold() not in used]


def _literals(cypher: str) -> set[str]:
    return {a or b for a, b in re.findall(r"'([^']+)'|\"([^\"]+)\"", cypher)}


def copied_terms(question: str, cypher: str, examples: Sequence[Example]) -> list[str]:
    """Names the query filters on that come from an example's Cypher, not from the question:
    a small model copies the nearest example's filter along with its shape."""
    from_examples = set().union(*(_literals(e.cypher) for e in examples)) if examples else set()
    asked = question.casefold()
    return sorted(x for x in _literals(cypher) & from_examples if x.casefold() not in asked)


LIST_QUESTION = re.compile(r"^\s*(?:which|who|list|name|show)\b", re.IGNORECASE)
COUNT_QUESTION = re.compile(r"\bhow many\b|\bnumber\b|\bcount\b", re.IGNORECASE)


def question_problems(
    question: str, cypher: str, names: Names, examples: Sequence[Example]
) -> list[str]:
    """What the query leaves out of the question, or adds to it from an example."""
    problems = [
        f"it never uses {term!r} from the question (every name, title and year the question "
        "states is a condition)"
        for term in ignored_terms(question, cypher, names)
    ]
    problems += [
        f"it filters on {term!r}, copied from an example: the question does not mention it"
        for term in copied_terms(question, cypher, examples)
    ]
    if LIST_QUESTION.search(question) and not COUNT_QUESTION.search(question):
        returned = re.findall(
            r"\bRETURN\s+(?:DISTINCT\s+)?(.+?)(?=\s+(?:ORDER|SKIP|LIMIT)\b|$)",
            cypher,
            re.IGNORECASE | re.DOTALL,
        )
        items = [i.strip() for i in returned[-1].split(",")] if returned else []
        if items and all(re.match(r"count\s*\(", i, re.IGNORECASE) for i in items):
            problems.append(
                "the question asks which ones, not how many: return their names or titles"
            )
    return problems


@lru_cache(maxsize=2)
def _bank_vectors(bank: tuple[Example, ...], names: Names, settings: Settings) -> np.ndarray:
    from knowledge.embeddings import embed

    return embed([mask_names(e.question, names) for e in bank], settings)


def choose_examples(
    question: str, settings: Settings, names: Names = (), k: int = FEW_SHOT_K
) -> list[Example]:
    """The k bank examples (not `always` ones) whose masked questions are nearest in meaning
    to the masked question (dynamic few-shot).

    A fixed list long enough to cover every question shape costs the 1.5B model attention and
    prompt time on examples that do not apply; the nearest few show the shape that does. The
    few `always` examples keep the common shapes in view when similarity picks poorly.
    """
    from knowledge.embeddings import embed

    bank = tuple(e for e in example_bank() if not e.always)
    vector = embed([mask_names(question, names)], settings)[0]
    return [bank[i] for i in nearest(vector, _bank_vectors(bank, names, settings), k)]


PROMPT = """You write one read-only Cypher query that answers the question about this graph.

{schema}

Rules:
- Use only these labels, relationships and properties. Copy names exactly from the question.
- a.date is a 'YYYY-MM-DD' string, a.year an integer.
- Articles have no author or topic properties: authors are (:Researcher)-[:PUBLISHED]->(a),
  topics (a)-[:IN_TOPIC]->(:Topic), subtopics (a)-[:IN_SUBTOPIC]->(:Subtopic).
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

RETRY_EMPTY = """That query found nothing. Check each name against the schema's values, drop any
filter the question did not ask for, and follow the arrow directions of the schema. Reply with
the query only, in a ```cypher block."""

REPAIR = """This query for the question "{question}" is wrong:
```cypher
{cypher}
```
Error: {error}{hint}
Write a corrected query. Reply with the query only, in a ```cypher block."""

UNBOUND_HINT = """
Hint: every variable must first appear in a MATCH pattern. Add the relationship path from the
schema that reaches it, e.g. (r:Researcher)-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->(t:Topic)."""
AGGREGATE_IN_WHERE_HINT = """
Hint: count(), avg() and other aggregates cannot be used in WHERE. Aggregate first, then
filter: WITH a, count(r) AS n WHERE n = 2."""


def repair_hint(cypher: str, error: str) -> str:
    """A hint for the mistakes the 1.5B model makes most and does not fix from the database's
    error alone: without one it mostly sends back the same query."""
    if re.search(r"\bWHERE\b[^\n]*?\b(?:count|avg|sum|min|max|collect)\s*\(", cypher, re.I):
        return AGGREGATE_IN_WHERE_HINT
    if re.search(r"UndefinedVariable|not defined", error, re.I):
        return UNBOUND_HINT
    return ""


def build_messages(
    store: GraphStore, schema: GraphSchema, examples: Sequence[Example], request: str
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
    return [*messages, HumanMessage(request)]


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


# ---------------------------------------------------------------------------------------------
# The pipeline


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
    error: str = ""  # the database error that remained after the repair round
    attempts: list[dict[str, str]] = field(default_factory=list)  # every query run
    notes: list[str] = field(default_factory=list)  # corrections a learner should see
    examples: list[str] = field(default_factory=list)  # the few-shot questions the model saw
    edges: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "edges"} | {
            "edges": [list(e) for e in self.edges]
        }


def _content(reply: Any) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def run_guarded(store: GraphStore, cypher: str, embed_text: str = "") -> ReadResult:
    """Guard, then run with READ routing. `$embedding` is the embedding of embed_text."""
    query = check_read_only(cypher)
    params: dict[str, Any] = {}
    if re.search(rf"\${EMBEDDING_PARAM}\b", query):
        from knowledge.embeddings import embed

        vector = embed([embed_text or query], store.settings)[0]
        params[EMBEDDING_PARAM] = [float(x) for x in vector]
    return store.read(query, params)


def similarity_theme(store: GraphStore, question: str) -> str:
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
    people = store.read("MATCH (r:Researcher) RETURN r.name").rows
    if any(str(name).casefold() in folded for (name,) in people):
        return ""
    groups = store.read("MATCH (n) WHERE n:Topic OR n:Subtopic RETURN n.name").rows
    if theme.casefold() in {str(name).casefold() for (name,) in groups}:
        return ""
    return theme


def answer_question(store: GraphStore, llm: BaseChatModel, question: str) -> GraphAnswer:
    """Question → Cypher → rows → answer in words.

    One more model call when the first query fails (database error, or a label, type or
    property the graph lacks) or finds nothing; writes are refused outright.
    """
    from langchain_core.messages import AIMessage, HumanMessage
    from neo4j.exceptions import Neo4jError

    started = time.perf_counter()
    question = question.strip()
    if not question:
        raise ToolInputError(
            "Ask a question about the research articles, for example "
            "'How many articles did Amara Okafor publish?'."
        )
    result = GraphAnswer(question)
    if WRITE_REQUEST.search(question):
        result.refused = (
            "This tool only reads the knowledge graph: requests to delete, create or change "
            "data are refused, and the graph is unchanged."
        )
        result.answer = result.refused
        result.seconds = time.perf_counter() - started
        return result

    theme = similarity_theme(store, question)
    if theme:
        result.method = "vector search"
        result.cypher = VECTOR_QUERY.format(index=store.vector_index_name())
        rows = run_guarded(store, result.cypher, theme)
        result.attempts.append({"cypher": result.cypher, "error": ""})
        result.columns, result.rows, result.truncated = rows.columns, rows.rows, rows.truncated
        result.answer = f"Articles nearest in meaning to {theme!r}:\n" + _answer_text(result)
        result.seconds = time.perf_counter() - started
        return result

    schema = read_schema(store)
    names = graph_names(store)
    examples = choose_examples(question, store.settings, names)
    result.examples = [e.question for e in examples]
    messages = build_messages(store, schema, examples, f"Question: {question}")
    for attempt in range(2):
        reply = _content(llm.invoke(messages))
        generated = extract_cypher(reply)
        result.cypher = fix_directions(generated, schema.patterns)
        if result.cypher != generated:
            result.notes.append(
                f"Relationship direction corrected from the schema; the model wrote:\n{generated}"
            )
        fixed = bind_anonymous(fix_order_by(result.cypher, schema.properties))
        if fixed != result.cypher:
            result.notes.append(
                "A variable the query used but never defined was bound (ORDER BY alias or "
                f"anonymous node); the model wrote:\n{result.cypher}"
            )
            result.cypher = fixed
        try:
            check_read_only(result.cypher)  # a write is refused, never "repaired"
            problems = []
            if missing := schema_problems(result.cypher, schema):
                problems.append("Not in this graph: " + "; ".join(missing) + ".")
            # Only the first query: a repair that still misreads the question runs anyway.
            shown = [*examples, *(e for e in example_bank() if e.always)]
            unasked = question_problems(question, result.cypher, names, shown)
            if unasked and attempt == 0:
                problems.append("It does not match the question: " + "; ".join(unasked) + ".")
            if problems:
                # The database's complaint too, so one repair can fix every mistake at once.
                problems.append(_database_error(store, result.cypher, question))
                raise ToolInputError(" ".join(problems).strip())
            rows = run_guarded(store, result.cypher, question)
        except WriteRefused as exc:
            result.attempts.append({"cypher": result.cypher, "error": str(exc)})
            result.refused = f"{exc} The graph is unchanged."
            break
        except (ToolInputError, Neo4jError) as exc:  # malformed: worth one repair
            error = getattr(exc, "message", None) or str(exc)
            result.attempts.append({"cypher": result.cypher, "error": error})
            if attempt == 1:
                result.error = error
                break
            # A fresh request rather than a follow-up turn: after its own reply in the
            # context, the small model mostly repeats the query it just wrote.
            hint = repair_hint(result.cypher, error)
            repair = REPAIR.format(
                question=question, cypher=result.cypher, error=error[:600], hint=hint
            )
            messages = build_messages(store, schema, examples, repair)
            continue
        result.attempts.append({"cypher": result.cypher, "error": ""})
        result.columns, result.rows, result.truncated = rows.columns, rows.rows, rows.truncated
        result.edges = rows.edges
        if attempt == 1 or not _looks_empty(rows.rows):
            break
        # Nothing found is often a wrong name or a hallucinated filter: one more look.
        result.notes.append(f"The first query found nothing:\n{result.cypher}")
        messages += [AIMessage(reply), HumanMessage(RETRY_EMPTY)]
    result.answer = _answer_text(result)
    result.seconds = time.perf_counter() - started
    return result


def _database_error(store: GraphStore, cypher: str, question: str) -> str:
    """What the database says about the query, or "" if it runs."""
    from neo4j.exceptions import Neo4jError

    try:
        run_guarded(store, cypher, question)
    except Neo4jError as exc:
        return exc.message or str(exc)
    return ""


def _looks_empty(rows: list[list[Any]]) -> bool:
    """No rows, or a single count of zero (what `count()` returns when nothing matched)."""
    return not rows or (len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (0, None))


def _cell(value: Any) -> str:
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
        return f"The generated Cypher failed even after one repair: {result.error}"
    if not result.rows:
        return "The query ran but found nothing: no rows match."
    if len(result.rows) == 1 and len(result.columns) == 1:
        return f"{result.columns[0]}: {_cell(result.rows[0][0])}."
    lines = [
        "; ".join(f"{c}: {_cell(v)}" for c, v in zip(result.columns, row, strict=False))
        for row in result.rows[:15]
    ]
    more = len(result.rows) - len(lines)
    cut = " (cut at the row limit)" if result.truncated else ""
    tail = f"\n... and {more} more rows{cut}." if more > 0 else cut
    return f"{len(result.rows)} row(s):\n- " + "\n- ".join(lines) + tail


# ---------------------------------------------------------------------------------------------
# The picture


def involved_edges(store: GraphStore, answer: GraphAnswer) -> list[tuple[str, str, str, str, str]]:
    """The relationships around the names in the query and the rows, edges between two of
    them first: the part of the graph the answer is about."""
    names: set[str] = set(re.findall(r"'([^'\\]{1,120})'", answer.cypher))
    names.discard(store.vector_index_name())
    for row in answer.rows:
        names.update(v for v in row if isinstance(v, str) and len(v) <= 200)
    edges = list(answer.edges)
    if names:
        found = store.read(
            "MATCH (a)-[r]->(b) WITH a, r, b, coalesce(a.name, a.title) AS na, "
            "coalesce(b.name, b.title) AS nb WHERE na IN $names OR nb IN $names "
            "RETURN labels(a)[0] AS la, na, type(r) AS t, labels(b)[0] AS lb, nb, "
            "(na IN $names AND nb IN $names) AS inner ORDER BY inner DESC "
            f"LIMIT {PICTURE_EDGES}",
            {"names": sorted(names)},
        )
        edges += [tuple(row[:5]) for row in found.rows]
    return list(dict.fromkeys(edges))[:PICTURE_EDGES]


LABEL_COLOURS = {
    "Researcher": "#1f77b4",
    "Article": "#ff7f0e",
    "Topic": "#2ca02c",
    "Subtopic": "#9467bd",
}


def graph_figure(edges: list[tuple[str, str, str, str, str]]) -> dict[str, Any]:
    """A Plotly figure (as a dict) of the edges: nodes coloured by label, hover for details."""
    import networkx as nx
    import plotly.graph_objects as go

    g = nx.DiGraph()
    for la, na, rel, lb, nb in edges:
        g.add_node((la, na))
        g.add_node((lb, nb))
        g.add_edge((la, na), (lb, nb), rel=rel)
    pos = nx.spring_layout(g, seed=7)
    fig = go.Figure()
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    mid_x, mid_y, mid_text = [], [], []
    for a, b, data in g.edges(data=True):
        edge_x += [pos[a][0], pos[b][0], None]
        edge_y += [pos[a][1], pos[b][1], None]
        mid_x.append((pos[a][0] + pos[b][0]) / 2)
        mid_y.append((pos[a][1] + pos[b][1]) / 2)
        mid_text.append(data["rel"])
    line = {"width": 1, "color": "#aaa"}
    fig.add_trace(
        go.Scatter(x=edge_x, y=edge_y, mode="lines", line=line, hoverinfo="skip", showlegend=False)
    )
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            hovertext=mid_text,
            hoverinfo="text",
            marker={"size": 4, "color": "#aaa"},
            showlegend=False,
        )
    )
    for label in sorted({n[0] for n in g.nodes}):
        nodes = [n for n in g.nodes if n[0] == label]
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers+text",
                name=label,
                text=[n[1] if len(n[1]) <= 24 else n[1][:22] + "…" for n in nodes],
                hovertext=[f"{label}: {n[1]}" for n in nodes],
                hoverinfo="text",
                textposition="top center",
                textfont={"size": 9},
                marker={"size": 12, "color": LABEL_COLOURS.get(label, "#7f7f7f")},
            )
        )
    fig.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False},
        title={"text": "The part of the graph this answer touches", "font": {"size": 13}},
        plot_bgcolor="white",
        showlegend=True,
    )
    return json.loads(fig.to_json())


# ---------------------------------------------------------------------------------------------
# Artifact, tool and commands


def build_artifact(store: GraphStore, answer: GraphAnswer) -> dict[str, Any]:
    parts = [artifacts.markdown(answer.answer)]
    if answer.method == "vector search":
        parts.append(
            artifacts.markdown(
                "Found by vector search: the theme was embedded with all-MiniLM-L6-v2 and "
                "compared with each article's embedding (title, topic and abstract) through "
                "the graph's vector index. The score is the cosine similarity."
            )
        )
    for failed in answer.attempts[:-1]:
        if failed["error"]:
            parts.append(
                artifacts.markdown(
                    "The first query failed and went back to the model with the error:\n"
                    f"```cypher\n{failed['cypher']}\n```\n`{failed['error']}`"
                )
            )
    for note in answer.notes:
        head, _, query = note.partition("\n")
        parts.append(artifacts.markdown(f"{head}\n```cypher\n{query}\n```"))
    if answer.examples:
        listed = "\n".join(f"- {q}" for q in answer.examples)
        parts.append(
            artifacts.markdown(
                f"Few-shot examples chosen for this question: the {len(answer.examples)} of "
                "`knowledge/cypher_examples.md` nearest in meaning to it (all-MiniLM-L6-v2, "
                "names masked), shown with their Cypher after the examples every prompt "
                f"holds:\n{listed}"
            )
        )
    if answer.cypher:
        parts.append(artifacts.code(answer.cypher, "cypher", "Cypher"))
    if answer.columns:
        rows = [[_cell(v) for v in row] for row in answer.rows]
        parts.append(artifacts.table(answer.columns, rows, "Rows"))
    if not answer.refused and not answer.error:
        edges = involved_edges(store, answer)
        if edges:
            parts.append(artifacts.plotly(graph_figure(edges), "Graph"))
    return artifacts.artifact(TOOL_NAME, parts, summary=answer.answer.splitlines()[0])


def _tool_text(answer: GraphAnswer) -> str:
    lines = [f"Cypher: {answer.cypher}"] if answer.cypher else []
    lines.append(answer.answer)
    return "\n".join(lines)


def open_graph(settings: Settings) -> GraphStore:
    """The app's shared store, with the project's dataset loaded into an empty graph."""
    from knowledge.graph_load import ensure_dataset
    from knowledge.graph_store import shared_store

    store = shared_store(settings)
    ensure_dataset(store)
    return store


def warm_up(settings: Settings) -> None:
    """Start (or join) the graph server, load the dataset and embed the example bank before
    the first question."""
    store = open_graph(settings)
    _bank_vectors(example_bank(), graph_names(store), settings)


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import tool

    @tool(TOOL_NAME, response_format="content_and_artifact")
    def query_knowledge_graph(question: str) -> tuple[str, dict[str, Any]]:
        """Answer a question about research articles, researchers, co-authors, topics,
        subtopics or publication dates from the knowledge graph, by writing a Cypher query.
        Also finds articles about a theme by meaning (vector search). Read-only."""
        from knowledge.graph_store import GraphStoreError

        try:
            store = open_graph(ctx.settings)
            answer = answer_question(store, ctx.chat_model(), question)
            return _tool_text(answer), build_artifact(store, answer)
        except (ToolInputError, GraphStoreError) as exc:
            message = str(exc)
            return message, artifacts.artifact(TOOL_NAME, [artifacts.markdown(message)], message)

    return [query_knowledge_graph]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cypher = subparsers.add_parser("cypher", help="run a read-only Cypher query on the graph")
    cypher.add_argument("query")
    cypher.add_argument("--json", action="store_true")
    cypher.set_defaults(func=_cmd_cypher)
    ask = subparsers.add_parser("ask-graph", help="answer a question with text-to-Cypher")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=_cmd_ask_graph)


def _cmd_cypher(args: argparse.Namespace, settings: Settings) -> int:
    from neo4j.exceptions import Neo4jError

    from knowledge.graph_store import GraphStoreError

    try:
        check_read_only(args.query)  # before starting a server for nothing
        result = run_guarded(open_graph(settings), args.query)
    except (ToolInputError, GraphStoreError) as exc:
        print(f"genai101 cypher: {exc}", file=sys.stderr)
        return 1
    except Neo4jError as exc:
        print(f"genai101 cypher: {exc.message or exc}", file=sys.stderr)
        return 1
    if args.json:
        payload = {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    print(" | ".join(result.columns))
    for row in result.rows:
        print(" | ".join(_cell(v) for v in row))
    print(f"({len(result.rows)} rows{', cut at the row limit' if result.truncated else ''})")
    return 0


def _cmd_ask_graph(args: argparse.Namespace, settings: Settings) -> int:
    from agent.providers import make_chat_model
    from knowledge.graph_store import GraphStoreError

    try:
        store = open_graph(settings)
        answer = answer_question(store, make_chat_model(settings), args.question)
    except (ToolInputError, GraphStoreError) as exc:
        print(f"genai101 ask-graph: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        if answer.cypher:
            print(f"Cypher:\n{answer.cypher}\n")
        print(f"{answer.answer}\n({answer.seconds:.1f} s)")
    return 0 if not (answer.error or answer.refused) else 1
