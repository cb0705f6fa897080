"""What can be checked and fixed in generated Cypher without the database's help.

The schema read from the live graph, the mistakes a small model makes that the database
would not report (an unknown label matches nothing; a wrong arrow finds nothing), automatic
fixes for the slips it repeats even when shown the error, and checks of the query against
the question (a dropped condition, a name copied from an example).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ToolInputError
from knowledge.cypher_guard import strip_literals

if TYPE_CHECKING:
    from collections.abc import Sequence

    from knowledge.cypher_examples import Example
    from knowledge.graph_store import GraphStore

MAX_LISTED_NODES = 20


@dataclass(frozen=True)
class GraphSchema:
    text: str  # for the prompt
    patterns: frozenset[tuple[str, str, str]]  # (start label, type, end label)
    properties: dict[str, frozenset[str]]  # label -> property keys
    single: frozenset[str] = frozenset()  # types a node has at most one of (an article's topic)

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
    single: set[str] = set()
    types = store.read("CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType")
    for (rel_type,) in sorted(types.rows):
        pairs = store.read(
            f"MATCH (a)-[:`{rel_type}`]->(b) RETURN DISTINCT labels(a)[0] AS a, labels(b)[0] AS b "
            "LIMIT 3"
        ).rows
        most = store.read(f"MATCH (a)-[:`{rel_type}`]->() WITH a, count(*) AS n RETURN max(n)")
        one = most.rows[0][0] == 1
        if one:
            single.add(rel_type)
        patterns.update((a, rel_type, b) for a, b in pairs)
        lines.extend(
            f"(:{a})-[:{rel_type}]->(:{b})" + (f" (one per {a})" if one else "") for a, b in pairs
        )
    return GraphSchema("\n".join(lines), frozenset(patterns), keys, frozenset(single))


def schema_problems(cypher: str, schema: GraphSchema) -> list[str]:
    """Labels, relationship types and properties the query uses but the graph lacks.

    The database does not complain about them (an unknown label simply matches nothing), so
    they are checked here and sent back to the model like a syntax error.
    """
    try:
        code, _ = strip_literals(cypher)
    except ToolInputError:
        return []  # the guard reports it
    labels = variable_labels(code)
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
    return problems + impossible_pairs(cypher, schema.single)


def _impossible_vars(cypher: str, single: frozenset[str]) -> list[tuple[str, str]]:
    """(variable, type) of each node the query gives two different named ends of a
    relationship type it has only one of."""
    ends: dict[tuple[str, str], set[str]] = {}
    node = r"\(\s*(\w+)[^()]*\)"
    for rel_type in single:
        rel = rf"\[\s*\w*\s*:\s*`?{rel_type}`?\s*\]"
        for var, end in re.findall(rf"{node}\s*-{rel}->\s*(\([^()]*\))", cypher):
            ends.setdefault((var, rel_type), set()).add(re.sub(r"\s+", " ", end))
        for end, var in re.findall(rf"(\([^()]*\))\s*<-{rel}-\s*{node}", cypher):
            ends.setdefault((var, rel_type), set()).add(re.sub(r"\s+", " ", end))
    return sorted(key for key, found in ends.items() if len({e for e in found if "{" in e}) > 1)


def impossible_pairs(cypher: str, single: frozenset[str]) -> list[str]:
    """One node asked to have two different ends of a relationship it has only one of: an
    article in two topics finds nothing. "Researchers in both X and Y" needs two articles."""
    return [
        f"({var}) has only one {rel_type} in this graph, but the query gives it two different "
        "ones, so it finds nothing: match a second variable for the second one"
        for var, rel_type in _impossible_vars(cypher, single)
    ]


def split_impossible_pairs(cypher: str, single: frozenset[str]) -> str:
    """Give the second MATCH of an impossible pair its own variable, when the pair's node is
    used nowhere else: `(r)-->(a)-[:IN_TOPIC]->(:Topic {name: 'X'}) MATCH (r)-->(a)-[:IN_TOPIC]->
    (:Topic {name: 'Y'})` finds nothing, as an article has one topic; with `a2` in the second
    MATCH it finds the researchers with articles in both, which is what "in both" asks.
    """
    impossible = _impossible_vars(cypher, single)
    if not impossible:
        return cypher
    same_length = re.sub(r"'[^']*'|\"[^\"]*\"", lambda m: "_" * len(m.group(0)), cypher)
    keyword = r"\b(?:OPTIONAL\s+MATCH|MATCH|WITH|RETURN|WHERE|UNWIND|ORDER|CALL)\b"
    bounds = [m.start() for m in re.finditer(keyword, same_length, re.I)] + [len(cypher)]
    clauses = [
        (start, end)
        for start, end in zip(bounds, bounds[1:], strict=False)
        if re.match(r"(?:OPTIONAL\s+)?MATCH\b", same_length[start:], re.I)
    ]
    out = cypher
    for var, _ in impossible:
        word = rf"(?<![\w.$]){re.escape(var)}(?!\w)"
        outside = list(same_length)
        for start, end in clauses:
            outside[start:end] = " " * (end - start)
        holding = [(a, b) for a, b in clauses if re.search(word, same_length[a:b])]
        if re.search(word, "".join(outside)) or len(holding) < 2:
            continue
        fresh = next(f"{var}{n}" for n in range(2, 10) if not re.search(rf"\b{var}{n}\b", cypher))
        start, end = holding[-1]
        for found in reversed(list(re.finditer(word, same_length[start:end]))):
            at, to = start + found.start(), start + found.end()
            out = out[:at] + fresh + out[to:]
        break  # one split per query: positions after it have moved
    return out


def variable_labels(cypher: str) -> dict[str, str]:
    """The label of each node variable the query gives one: `(a:Article)` → {"a": "Article"}."""
    return dict(re.findall(r"\(\s*(\w+)\s*:\s*`?(\w+)`?", cypher))


NODE_VARIABLE = re.compile(r"(?<!\w)\(\s*(\w+)\s*[:){]")  # "(a:" or "(a)", not "count(a)"
COUNT_OF = re.compile(r"\bcount\s*\(\s*(\w+)\s*\)", re.IGNORECASE)


def distinct_counts(cypher: str) -> str:
    """Count nodes once each: `count(r)` → `count(DISTINCT r)` for a node variable. Over a
    pattern of several hops a node comes back once per path, and "how many researchers are
    in the graph?" was answered 109 (one per authorship) instead of 28. A question that asks
    how many things means how many different ones; counts of rows or relationships stay."""
    if not re.search(r"-\[|--|<-|->", cypher):  # one node pattern: no node comes back twice
        return cypher
    nodes = set(NODE_VARIABLE.findall(cypher))
    return COUNT_OF.sub(
        lambda m: f"count(DISTINCT {m.group(1)})" if m.group(1) in nodes else m.group(0), cypher
    )


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
    labels = variable_labels(cypher)

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


def fix_relationships(cypher: str, patterns: frozenset[tuple[str, str, str]]) -> str:
    """Correct relationships that contradict the schema: flip a wrong arrow
    ((:Topic)-[:IN_TOPIC]->(:Article)), and give a hop between two labels that the schema links
    by exactly one relationship that relationship ((:Topic)-[:PART_OF]->(:Article) becomes
    (:Topic)<-[:IN_TOPIC]-(:Article)).

    Small models often get these wrong, a wrong one silently returns nothing, and told so by
    the schema check, the 1.5B model mostly writes the same hop again. Only hops whose two end
    labels are known change.
    """
    out = cypher
    for hop in reversed(typed_hops(cypher)):
        if (hop.start, hop.type, hop.end) in patterns or not (hop.start and hop.end):
            continue
        if (hop.end, hop.type, hop.start) in patterns:
            tail, rel_type = hop.end, hop.type
        else:
            links = [(a, t) for a, t, b in patterns if {a, b} == {hop.start, hop.end}]
            if len(links) != 1:
                continue
            tail, rel_type = links[0]
        left = hop.start if hop.points_right else hop.end
        text = out[hop.span[0] : hop.span[1]]
        inner = text[text.index("[") + 1 : text.rindex("]")]
        inner = re.sub(r":\s*`?\w+`?", f":{rel_type}", inner, count=1)
        fixed = f"-[{inner}]->" if left == tail else f"<-[{inner}]-"
        out = out[: hop.span[0]] + fixed + out[hop.span[1] :]
    return out


ORDER_BY = re.compile(
    r"\bORDER\s+BY\s+(.+?)(?=\s+(?:SKIP|LIMIT|RETURN|WITH|MATCH)\b|$)", re.I | re.S
)
ORDER_KEYWORDS = frozenset({"ASC", "DESC", "ASCENDING", "DESCENDING"})


def _unbound(code: str) -> set[str]:
    """Variables the query reads (`x.prop`, `count(x)`) but never binds."""
    bound = set(re.findall(r"(?<!\w)[(\[]\s*(\w+)", code))  # node and relationship variables
    bound |= set(re.findall(r"\bAS\s+(\w+)", code, re.IGNORECASE))
    used = set(re.findall(r"(?<![\w.$])([A-Za-z_]\w*)\.\w", code))
    used |= set(re.findall(r"\(\s*(?:DISTINCT\s+)?([A-Za-z_]\w*)\s*\)", code, re.I))
    return used - bound


def bind_anonymous(cypher: str) -> str:
    """Name an anonymous node that the query uses by a variable it never binds, when the
    variable is the initial of the node's label: `(:Article) RETURN count(a)` → `(a:Article)`.

    The 1.5B model drops the variable from a node pattern it copied from an example, and,
    shown the database's "not defined" error, mostly writes the same query again.
    """
    code, _ = strip_literals(cypher)
    if re.search(r"\bYIELD\b", code, re.IGNORECASE):
        return cypher  # procedure results bind names of their own
    out = cypher
    for var in sorted(_unbound(code)):
        nodes = [m for m in re.finditer(r"\(\s*:\s*(\w+)", out) if m.group(1)[:1].lower() == var]
        if len(nodes) == 1:
            out = (
                out[: nodes[0].start()]
                + f"({var}:"
                + out[nodes[0].end() - len(nodes[0].group(1)) :]
            )
    return out


def match_unbound(cypher: str, patterns: frozenset[tuple[str, str, str]]) -> str:
    """Match a node the query counts but never matched, when its variable names a label and
    the schema links that label to a matched node in one way only:
    `MATCH (a:Article)... WITH a, count(r)` gets `MATCH (r:Researcher)-[:PUBLISHED]->(a)`
    before its first WITH or RETURN.

    Told "r is not defined", the 1.5B model rewrites the same query; the schema knows the
    one path it meant.
    """
    code, _ = strip_literals(cypher)
    if re.search(r"\bYIELD\b", code, re.IGNORECASE):
        return cypher
    labels = {a for a, _, _ in patterns} | {b for _, _, b in patterns}
    variables = variable_labels(code)
    added = []
    for var in sorted(_unbound(code)):
        named = [
            label
            for label in labels
            if re.fullmatch(r"[a-z]\d*", var)
            and label[:1].lower() == var[:1]
            or label.lower() == var.lower()
        ]
        if len(named) != 1:
            continue
        for other, other_label in variables.items():
            links = [(a, t, b) for a, t, b in patterns if {a, b} == {named[0], other_label}]
            if len(links) == 1 and named[0] != other_label:
                a, rel_type, _ = links[0]
                if a == named[0]:
                    added.append(f"MATCH ({var}:{named[0]})-[:{rel_type}]->({other})")
                else:
                    added.append(f"MATCH ({other})-[:{rel_type}]->({var}:{named[0]})")
                break
    same_length = re.sub(r"'[^']*'|\"[^\"]*\"", lambda m: "_" * len(m.group(0)), cypher)
    first = re.search(r"\b(?:WITH|RETURN)\b", same_length, re.IGNORECASE)
    if not added or not first:
        return cypher
    return cypher[: first.start()] + "\n".join(added) + "\n" + cypher[first.start() :]


WITH_ITEMS = re.compile(
    r"\bWITH\s+(?:DISTINCT\s+)?(.+?)(?=\s+(?:WHERE|MATCH|OPTIONAL|RETURN|WITH|ORDER|UNWIND|SKIP"
    r"|LIMIT|CALL)\b|$)",
    re.IGNORECASE | re.DOTALL,
)


def alias_with_items(cypher: str) -> str:
    """Name the bare properties a WITH passes on: `WITH a.year, count(a) AS n` becomes
    `WITH a.year AS year, count(a) AS n`, as Cypher requires; the model then uses `year`."""
    out = cypher
    for clause in reversed(list(WITH_ITEMS.finditer(cypher))):
        items = re.sub(
            r"(?:(?<=^)|(?<=,))(\s*)([A-Za-z_]\w*)\.(\w+)(\s*)(?=,|$)",
            lambda m: f"{m.group(1)}{m.group(2)}.{m.group(3)} AS {m.group(3)}{m.group(4)}",
            clause.group(1),
        )
        out = out[: clause.start(1)] + items + out[clause.end(1) :]
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
    labels = variable_labels(cypher)

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


NAME_KINDS = {
    "Researcher": "a researcher",
    "Topic": "a topic",
    "Subtopic": "a subtopic",
    "Article": "an article",
}
NAME_PROPERTY = {"Article": "title"}  # the property that names a node ("name" otherwise)
Names = tuple[tuple[str, str], ...]  # (name, label), longest name first


def graph_names(store: GraphStore) -> Names:
    """The names of the graph's researchers, topics and subtopics and its article titles.

    One row per label, the names collected: a row per name would stop at the row limit.
    """
    rows = store.read(
        "MATCH (n) WHERE n:Researcher OR n:Topic OR n:Subtopic OR n:Article "
        "RETURN labels(n)[0] AS label, collect(coalesce(n.name, n.title)) AS names"
    ).rows
    pairs = {(str(name), label) for label, found in rows if label in NAME_KINDS for name in found}
    return tuple(sorted((p for p in pairs if p[0]), key=lambda p: (-len(p[0]), p[0])))


def mask_names(text: str, names: Names) -> str:
    """The question's skeleton: quoted titles, known names, dates and years become what they
    are ("an article", "a researcher", "a date", "a year").

    MiniLM similarity between raw questions follows the names (a question about Amara Okafor
    pulls in every example about a person); between skeletons it follows the question's
    shape, which is what an example teaches. DAIL-SQL calls this masked question similarity.
    """
    out = re.sub(r"(?<!\w)'[^']+'(?!\w)|\"[^\"]+\"", "an article", text)
    for name, label in names:
        pattern = rf"(?<!\w){re.escape(name)}(?!\w)"
        out = re.sub(pattern, NAME_KINDS[label], out, flags=re.IGNORECASE)
    out = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "a date", out)
    return re.sub(r"\b(?:19|20)\d{2}\b", "a year", out)


def named_kinds(text: str, names: Names) -> set[str]:
    """Which kinds of thing a text names: "a researcher", "an article", "a year", ..."""
    kinds = {"an article"} if re.search(r"(?<!\w)'[^']+'(?!\w)|\"[^\"]+\"", text) else set()
    kinds |= {
        NAME_KINDS[label]
        for name, label in names
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
    }
    if re.search(r"\b\d{4}-\d{2}-\d{2}\b", text):
        kinds.add("a date")
    if re.search(r"\b(?:19|20)\d{2}\b", re.sub(r"\b\d{4}-\d{2}-\d{2}\b", " ", text)):
        kinds.add("a year")
    return kinds


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


def literals(cypher: str) -> set[str]:
    """The query's strings and years: the values it filters on."""
    strings = {a or b for a, b in re.findall(r"'([^']+)'|\"([^\"]+)\"", cypher)}
    code = re.sub(r"'[^']*'|\"[^\"]*\"", "''", cypher)
    return strings | set(re.findall(r"(?<![\w.])(?:19|20)\d{2}(?![\w.])", code))


def copied_terms(question: str, cypher: str, examples: Sequence[Example]) -> list[str]:
    """Names the query filters on that come from an example's Cypher, not from the question:
    a small model copies the nearest example's filter along with its shape."""
    from_examples = set().union(*(literals(e.cypher) for e in examples)) if examples else set()
    asked = question.casefold()
    return sorted(x for x in literals(cypher) & from_examples if x.casefold() not in asked)


def unasked_names(question: str, cypher: str, names: Names) -> list[str]:
    """Researcher names and article titles the query filters on that the question never
    states: the model takes them from an example or from the schema's sample values. Topic
    names are left out: a question may say "language models" for the topic Language Models."""
    known = {name.casefold() for name, label in names if label in ("Researcher", "Article")}
    asked = question.casefold()
    return sorted(
        x for x in literals(cypher) if x.casefold() in known - {""} and x.casefold() not in asked
    )


def misplaced_names(cypher: str, names: Names) -> list[str]:
    """Known names the query matches on the wrong kind of node: a subtopic as a researcher's
    name, an article title as a subtopic. Such a query runs and finds nothing; told what the
    name is, the model moves it to the right node."""
    labels_of: dict[str, set[str]] = {}
    for name, label in names:
        labels_of.setdefault(name.casefold(), set()).add(label)
    variables = variable_labels(cypher)
    literal = r"'([^']*)'|\"([^\"]*)\""
    uses = [
        (label, a or b)
        for label, body in re.findall(r"\(\s*\w*\s*:\s*`?(\w+)`?\s*\{([^}]*)\}", cypher)
        for a, b in re.findall(rf"\w+\s*:\s*(?:{literal})", body)
    ]
    uses += [
        (variables.get(var, ""), a or b)
        for var, a, b in re.findall(rf"\b(\w+)\.\w+\s*(?:=|CONTAINS)\s*(?:{literal})", cypher)
    ]
    problems = []
    for label, value in dict.fromkeys(uses):
        known = labels_of.get(value.casefold(), set())
        if label in NAME_KINDS and known and label not in known:
            right = sorted(known)[0]
            where = f"(:{right} {{{NAME_PROPERTY.get(right, 'name')}: {value!r}}})"
            problems.append(
                f"{value!r} is {NAME_KINDS[right]}, not {NAME_KINDS[label]}: match it as {where}"
            )
    return problems


LIST_QUESTION = re.compile(r"^\s*(?:which|who|list|name|show)\b", re.IGNORECASE)
COUNT_QUESTION = re.compile(r"\bhow many\b|\bnumber\b|\bcount\b", re.IGNORECASE)
PLURAL_LIST = re.compile(
    r"^\s*(?:which|what|list|name|show|give|find)\b[^?]*?\b(?:articles|papers|publications"
    r"|researchers|authors|people|topics|subtopics|co-?authors|collaborators|titles|years)\b",
    re.IGNORECASE,
)
ONE_OR_RANKED = re.compile(
    r"\b(?:most|least|fewest|first|last|latest|earliest|oldest|newest|recent|top|highest"
    r"|lowest|largest|smallest|biggest|one|single|two|three|pairs?)\b",
    re.IGNORECASE,
)
ABOUT_ARTICLES = re.compile(r"\b(?:articles?|papers?|publications?)\b", re.IGNORECASE)
AVERAGE_PER = re.compile(
    r"\b(?:average|mean|avg)\b.*?\bper\s+(?P<noun>article|paper|researcher|author|person"
    r"|topic|subtopic|year)s?\b",
    re.IGNORECASE | re.DOTALL,
)
PER_NOUN_LABEL = {
    "article": "Article",
    "paper": "Article",
    "researcher": "Researcher",
    "author": "Researcher",
    "person": "Researcher",
    "topic": "Topic",
    "subtopic": "Subtopic",
    "year": "year",
}


def shape_problems(question: str, cypher: str) -> list[str]:
    """Where the query's shape contradicts the question's: one row for a question asking for
    all of them, topic nodes counted for a question about articles, an average taken over
    the wrong groups. The 1.5B model copies these from the nearest example."""
    code, _ = strip_literals(cypher)
    variables = variable_labels(code)
    problems = []
    if (
        PLURAL_LIST.search(question)
        and not ONE_OR_RANKED.search(question)
        and not COUNT_QUESTION.search(question)
        and re.search(r"\bLIMIT\s+1\b", code, re.IGNORECASE)
    ):
        problems.append("the question asks for all of them, not one: drop the LIMIT 1")
    nodes = re.findall(r"(?<!\w)\(\s*(\w*)\s*(?::\s*`?(\w+)`?)?[^()]*\)", code)
    node_labels = {label or variables.get(var, "") for var, label in nodes}
    if (
        ABOUT_ARTICLES.search(question)
        and "" not in node_labels  # every node's label is known, and none is an article
        and "Article" not in node_labels
        and not re.search(r"queryNodes", code, re.IGNORECASE)
    ):
        problems.append(
            "the question is about articles, but the query never matches one: reach them "
            "through the relationships, e.g. (a:Article)-[:IN_TOPIC]->(t:Topic)"
        )
    per = AVERAGE_PER.search(question)
    average = re.search(r"\bavg\s*\(", code, re.IGNORECASE)
    if per and average:
        noun = per.group("noun").lower()
        label = PER_NOUN_LABEL[noun]
        withs = re.findall(
            r"\bWITH\s+(.+?)(?=\s+(?:WHERE|MATCH|OPTIONAL|RETURN|WITH|ORDER|UNWIND)\b|$)",
            code[: average.start()],
            re.IGNORECASE | re.DOTALL,
        )
        keys = [k.strip() for k in withs[-1].split(",") if "(" not in k] if withs else []
        if label == "year":
            grouped = any("year" in k.casefold() for k in keys)
            article = next((v for v, lab in variables.items() if lab == "Article"), "a")
            key = f"{article}.year AS year"
        else:
            grouped = any(variables.get(k.split(".")[0].split()[0]) == label for k in keys)
            key = next((v for v, lab in variables.items() if lab == label), noun[0])
        averaged = re.match(r"\s*(?:DISTINCT\s+)?([\w.]+)\s*\)", code[average.end() :])
        aliases = {k.split()[-1] for k in keys} | set(keys)
        if not grouped or (averaged and averaged.group(1) in aliases):
            problems.append(
                f"the question asks for an average per {noun}: first one row per {noun} "
                f"(WITH {key}, count(...) AS n), then RETURN avg(n)"
            )
    return problems


def question_problems(
    question: str, cypher: str, names: Names, examples: Sequence[Example], context: str = ""
) -> list[str]:
    """What the query leaves out of the question, adds to it from an example, or gets wrong
    about the names and the shape of the answer it asks for. `context`: what a follow-up
    question builds on (the question before it, its query and rows), where the query may
    also take its names from."""
    given = f"{context} {question}" if context else question
    problems = [
        f"it never uses {term!r} from the question (every name, title and year the question "
        "states is a condition)"
        for term in ignored_terms(question, cypher, names)
    ]
    copied = copied_terms(given, cypher, examples)
    problems += [
        f"it filters on {term!r}, copied from an example: the question does not mention it"
        for term in copied
    ]
    problems += [
        f"it filters on {term!r}, which the question does not mention"
        for term in unasked_names(given, cypher, names)
        if term not in copied
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
    if re.search(r"\bhow many\b", question, re.IGNORECASE):
        returned = re.findall(r"\bRETURN\b(.+)", cypher, re.IGNORECASE | re.DOTALL)
        if returned and not re.search(
            r"\b(?:count|sum|avg|size|length|min|max)\s*\(|\b\d+\b", returned[-1], re.IGNORECASE
        ):
            problems.append("the question asks how many: return the number, with count(...)")
    return problems + misplaced_names(cypher, names) + shape_problems(question, cypher)
