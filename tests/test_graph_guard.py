"""The read-only guard, Cypher extraction, write-request and similarity routing, few-shot
example selection, the store's database gate and deadline over a fake driver: pure, fast."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bench.graph_text2cypher import questions
from core.errors import ToolInputError
from core.settings import Settings
from knowledge import text2cypher
from knowledge.cypher_checks import (
    GraphSchema,
    alias_with_items,
    bind_anonymous,
    distinct_counts,
    fix_order_by,
    fix_relationships,
    mask_names,
    match_unbound,
    named_kinds,
    question_problems,
    schema_problems,
    split_impossible_pairs,
)
from knowledge.cypher_examples import Example, example_bank, parse_examples
from knowledge.cypher_guard import MAX_VECTOR_K, WriteRefused, cap_vector_k, check_read_only
from knowledge.graph_load import DATASET, parse_articles
from knowledge.graph_store import CLIENT_GRACE_S, GraphStore, QueryTimeout, ReadResult
from knowledge.text2cypher import (
    ASKS_FOR_PEOPLE,
    MAX_QUERIES,
    WRITE_REQUEST,
    answer_question,
    choose_examples,
    extract_cypher,
    nearest,
    repair_hint,
    run_guarded,
    similarity_theme,
)
from tests.fakes import ScriptedChatModel

ALLOWED = [
    "MATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a:Article) RETURN count(a)",
    "MATCH (a:Article) WHERE a.title CONTAINS 'create' RETURN a.title",  # word in a string
    'MATCH (a:Article) WHERE a.abstract CONTAINS "DELETE everything" RETURN a',
    "MATCH (a:Article) // we never DELETE here\nRETURN a.title",
    "MATCH (a:Article) /* no SET, no MERGE */ RETURN a.title;",  # one trailing ; is fine
    "MATCH (n) RETURN n.set, n.create, $remove",  # property keys and parameters
    "MATCH (n:`Create`) RETURN n",  # a label that happens to be a keyword
    "CALL db.labels() YIELD label RETURN label",
    "CALL db.relationshipTypes()",
    "call DB.Index.Vector.QueryNodes('Article[embedding]', 5, $embedding) YIELD node RETURN node",
    "CALL { MATCH (a:Article) RETURN a } RETURN count(a)",
    "MATCH (r:Researcher) CALL (r) { MATCH (r)-[:PUBLISHED]->(a) RETURN count(a) AS c } "
    "RETURN r.name, c",
    "MATCH (a:Article) WHERE a.title = 'It\\'s; DROP everything' RETURN a",
    "MATCH (a:Article) RETURN a.title AS `weird;name` ORDER BY a.date DESC LIMIT 5",
    "OPTIONAL MATCH (a:Article) WITH a UNWIND [1, 2] AS x RETURN x UNION RETURN 3 AS x",
    "WITH 0 AS start, 9 AS stop RETURN start, stop",  # START/STOP only administer databases
    "MATCH (a:Start)-->(b) RETURN a.starts",
    "MATCH (n:`x``) DELETE n //`) RETURN n",  # `` escapes a backtick: one long label
    "MATCH (a) WHERE a.t = 'a\u2028b' RETURN a // a comment to the end\n",
]

REFUSED = [
    ("CREATE (a:Article {title: 'x'})", "CREATE"),
    ("MATCH (a:Article) DETACH DELETE a", "DETACH"),
    ("MATCH (a) DELETE a", "DELETE"),
    ("MATCH (a:Article) SET a.title = 'x'", "SET"),
    ("MATCH (a:Article) REMOVE a.title", "REMOVE"),
    ("MERGE (r:Researcher {name: 'Eve'})", "MERGE"),
    ("DROP INDEX foo", "DROP"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD"),
    ("MATCH (a) FOREACH (x IN [1] | SET a.n = x)", "FOREACH"),
    ("mAtCh (a) dElEtE a", "DELETE"),  # case tricks
    ("MATCH (a) WITH a /* comment */ DETACH/**/DELETE a", "DETACH"),  # comment splits words
    ("MATCH (a) RETURN 'x' // harmless\nDELETE a", "DELETE"),  # write after a line comment
    ("MATCH (a) WHERE a.t = '\\'' DELETE a", "DELETE"),  # escaped quote does not hide it
    ("CALL { MATCH (a:Article) DETACH DELETE a } RETURN 1", "DETACH"),  # write in a subquery
    ("CALL { CREATE (x:Article) } IN TRANSACTIONS", "CREATE"),
    ("MATCH (a) RETURN a; MATCH (b) DETACH DELETE b", "statement"),  # two statements
    ("MATCH (a) RETURN a; MATCH (b) RETURN b", "statement"),
    ("CALL dbms.security.createUser('x', 'y', false)", "dbms.security.createuser"),
    ("CALL db.create.setNodeVectorProperty(n, 'e', [1.0])", "db.create.setnodevectorproperty"),
    ("CALL apoc.create.node(['A'], {})", "APOC"),
    ("CALL `apoc`.`create`.node(['A'], {})", "APOC"),  # backticks
    ("RETURN apoc.text.join(['a'], ',')", "APOC"),
    ("CALL `db.labels`()", "IDENT"),  # a backticked name is never on the allow-list
    ("CALL db . labels ( ) ; CREATE (x)", "statement"),
    ("USE system SHOW USERS", "USE"),
    ("SHOW DATABASES", "SHOW"),
    ("MATCH (a) WHERE a.t = 'unterminated RETURN a", "unterminated"),
    ("MATCH (a) /* never closed RETURN a", "unterminated"),
    ("", "empty"),
    ("MATCH (a) ON CREATE SET a.x = 1", "CREATE"),
    # Every character some parser ends a line at ends a // comment (ArcadeDB: \r).
    ("MATCH (m:Researcher) // list\rDETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\r\nDETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\u2028DETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\u2029DETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\x85DETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\x0bDETACH DELETE m", "DETACH"),
    ("MATCH (m) // list\x0cDETACH DELETE m", "DETACH"),
    ("MATCH (m) /* a /* b */ DETACH DELETE m /* c */", "DETACH"),  # block comments do not nest
    ("MATCH (m) WHERE m.t = '\\\\' DETACH DELETE m", "DETACH"),  # '\\\\' is one backslash
    ('MATCH (m) WHERE m.t = "\\"" DETACH DELETE m //"', "DETACH"),
    ("MATCH (m:`a``b`) DETACH DELETE m", "DETACH"),
    ("MATCH (m) RETURN m // `\nDETACH DELETE m", "DETACH"),  # no backtick inside a comment
    # GQL, which ArcadeDB's parser runs, and ArcadeDB's own statements.
    (
        "MATCH (a:Article) WITH a LIMIT 1 INSERT (:Researcher {name:'M'})-[:PUBLISHED]->(a) "
        "RETURN a.title",
        "INSERT",
    ),
    ("MATCH (m) NODETACH DELETE m", "DELETE"),
    ("SESSION SET GRAPH g", "SESSION"),
    ("BEGIN", "BEGIN"),
    ("COMMIT", "COMMIT"),
    ("ROLLBACK", "ROLLBACK"),
    ("START TRANSACTION", "START"),
    ("stop /* x */ database neo4j", "STOP"),
    ("START DATABASE neo4j", "START"),
    ("PROFILE MATCH (n) RETURN n", "PROFILE"),
    ("EXPLAIN MATCH (n) RETURN n", "EXPLAIN"),
    ("TERMINATE TRANSACTIONS 'q-1'", "TERMINATE"),
    ("TRUNCATE TYPE Article", "TRUNCATE"),
    ("EXPORT DATABASE file:///tmp/x", "EXPORT"),
    ("BACKUP DATABASE", "BACKUP"),
    ("RESTORE DATABASE x", "RESTORE"),
    ("REBUILD INDEX *", "REBUILD"),
    ("CALL { MATCH (a) RETURN a } IN CONCURRENT TRANSACTIONS RETURN 1", "TRANSACTIONS"),
]


@pytest.mark.parametrize("query", ALLOWED)
def test_reads_pass(query: str) -> None:
    assert check_read_only(query) == query.strip().rstrip(";").rstrip()


@pytest.mark.parametrize(("query", "reason"), REFUSED)
def test_writes_and_admin_are_refused(query: str, reason: str) -> None:
    with pytest.raises(ToolInputError) as err:
        check_read_only(query)
    assert reason.lower() in str(err.value).lower()
    # Malformed text may go back to the model for repair; a write never does.
    malformed = reason in ("unterminated", "empty")
    assert isinstance(err.value, WriteRefused) is not malformed


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("```cypher\nMATCH (n) RETURN n\n```", "MATCH (n) RETURN n"),
        ("Here it is:\n```\nMATCH (n) RETURN n;\n```\nDone.", "MATCH (n) RETURN n"),
        ("```Cypher\nMATCH (n)\nRETURN n", "MATCH (n)\nRETURN n"),  # fence never closed
        ("The query is:\nMATCH (n) RETURN count(n)", "MATCH (n) RETURN count(n)"),
        ("CALL db.labels()", "CALL db.labels()"),
    ],
)
def test_extract_cypher(reply: str, expected: str) -> None:
    assert extract_cypher(reply) == expected


@pytest.mark.parametrize(
    "question",
    ["Delete all articles by Amara Okafor", "please remove Chen Wei", "Create a new topic"],
)
def test_write_requests_are_spotted(question: str) -> None:
    assert WRITE_REQUEST.search(question)


@pytest.mark.parametrize(
    "question",
    ["Which articles discuss removing bias?", "Who created the most articles?", "How many?"],
)
def test_questions_are_not_write_requests(question: str) -> None:
    assert not WRITE_REQUEST.search(question)


NAMES_ONLY = (
    ("Amara Okafor", "Researcher"),
    ("Chen Wei", "Researcher"),
    ("Language Models", "Topic"),
    ("Misinformation", "Subtopic"),
    ("Tiny Models", "Article"),
)


@pytest.mark.parametrize(
    ("question", "theme"),
    [
        ("Which articles are about protecting users from misinformation?",
         "protecting users from misinformation"),
        ("Find articles about making language models faster or smaller.",
         "making language models faster or smaller"),
        ("Which papers deal with keeping personal data private?",
         "keeping personal data private"),
        ("Which articles are about Misinformation?", ""),  # a subtopic: list all of it
        ("Which articles by Chen Wei are about retrieval?", ""),  # a person: text-to-Cypher
        ("Which articles similar to Tiny Models are about speed?", ""),  # a title, unquoted
        ("How many articles are about robots?", ""),
        ("Which articles on robots appeared in 2023?", ""),
        ("Who wrote 'Speculative Decoding on Laptops'?", ""),
        ("Which researcher has published the most articles?", ""),
    ],
)  # fmt: skip
def test_similarity_questions_go_to_the_vector_index(question: str, theme: str) -> None:
    assert similarity_theme(NAMES_ONLY, question) == theme


@pytest.mark.parametrize(
    ("question", "people"),
    [
        ("Which researchers published articles about fairness?", True),
        ("Who has written about retrieval?", True),
        ("Is there a paper about pruning attention heads? Who wrote it?", True),
        ("Which articles are about fairness?", False),
        ("Find papers on privacy, with their dates.", False),
    ],
)
def test_a_vector_search_for_people_returns_the_authors(question: str, people: bool) -> None:
    """ "Is there a paper about X? who wrote it" got five titles and no author: the
    question asks for people wherever "who wrote" stands, not only at its start."""
    assert bool(ASKS_FOR_PEOPLE.search(question)) is people


SCHEMA = frozenset(
    {
        ("Researcher", "PUBLISHED", "Article"),
        ("Article", "IN_TOPIC", "Topic"),
        ("Subtopic", "PART_OF", "Topic"),
    }
)


@pytest.mark.parametrize(
    ("query", "fixed"),
    [
        ("MATCH (t:Topic {name: 'X'})-[:IN_TOPIC]->(a:Article) RETURN count(a)",
         "MATCH (t:Topic {name: 'X'})<-[:IN_TOPIC]-(a:Article) RETURN count(a)"),
        ("MATCH (a:Article)-[:PUBLISHED]->(r:Researcher), (t:Topic)-[x:IN_TOPIC]->(a) RETURN a",
         "MATCH (a:Article)<-[:PUBLISHED]-(r:Researcher), (t:Topic)<-[x:IN_TOPIC]-(a) RETURN a"),
        ("MATCH (a:Article)<-[:PUBLISHED]-(r:Researcher) RETURN a", None),  # already right
        ("MATCH (a:Article)-[:PUBLISHED]-(r) RETURN a", None),  # undirected: left alone
        ("MATCH (r:Researcher)<-[:PUBLISHED]-(a)-[:IN_TOPIC]->(t) RETURN a", None),  # a unknown
        ("MATCH (s:Subtopic)-[:IN_TOPIC]->(t:Topic) RETURN s",  # the one type linking them
         "MATCH (s:Subtopic)-[:PART_OF]->(t:Topic) RETURN s"),
        ("MATCH (t:Topic)-[r:PART_OF {x: 1}]->(a:Article) RETURN t",
         "MATCH (t:Topic)<-[r:IN_TOPIC {x: 1}]-(a:Article) RETURN t"),
        ("MATCH (r:Researcher)-[:IN_TOPIC]->(t:Topic) RETURN r", None),  # no link: left alone
    ],
)  # fmt: skip
def test_fix_relationships(query: str, fixed: str | None) -> None:
    assert fix_relationships(query, SCHEMA) == (fixed or query)


PROPS = {
    "Researcher": frozenset({"name"}),
    "Article": frozenset({"title", "date", "year", "abstract", "embedding"}),
    "Topic": frozenset({"name"}),
    "Subtopic": frozenset({"name"}),
}


@pytest.mark.parametrize(
    ("query", "problems"),
    [
        ("MATCH (a:Article)<-[:AUTHORED]-(r:Researcher) RETURN a.title", ["relationship :AUTHORED"]),
        ("MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) RETURN a.topic", ["property a.topic"]),
        ("MATCH (a:Article {titel: 'x'}) RETURN a", ["property a.titel"]),
        ("MATCH (x:Paper) RETURN x", ["label :Paper"]),
        ("MATCH (a:Article)-[:PUBLISHED]->(t:Topic) RETURN a",
         ["pattern (:Article)-[:PUBLISHED]->(:Topic)"]),
        ("MATCH (a:Article)<-[:PUBLISHED|WROTE]-(r) RETURN r.name", ["relationship :WROTE"]),
        ("MATCH (a:Article) WHERE a.title = 'b.c' RETURN toLower(a.title), a.year", []),
        ("CALL db.index.vector.queryNodes('Article[embedding]', 5, $embedding) "
         "YIELD node RETURN node.title", []),
    ],
)  # fmt: skip
def test_schema_problems(query: str, problems: list[str]) -> None:
    schema = GraphSchema("", SCHEMA, PROPS)
    found = schema_problems(query, schema)
    assert len(found) == len(problems)
    assert all(f.startswith(p) for f, p in zip(found, problems, strict=True))


def test_nearest_puts_the_most_similar_last() -> None:
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]])
    assert nearest(candidates @ np.array([1.0, 0.0]), 3) == [2, 3, 0]
    assert nearest(candidates @ np.array([0.0, 1.0]), 1) == [1]
    assert nearest(candidates @ np.array([0.0, 1.0]), 10) == [0, 3, 2, 1]
    assert nearest(np.array([1.0, 1.0, 0.0]), 2) == [1, 0]  # a tie keeps bank order


def test_parse_examples() -> None:
    text = (
        "# heading\nQuestion: How many?\n```cypher\nMATCH (n) RETURN count(n)\n```\n\n"
        "Question: Which?\n```cypher\nMATCH (n)\nRETURN n.name\n```\n"
    )
    assert parse_examples(text) == (
        Example("How many?", "MATCH (n) RETURN count(n)"),
        Example("Which?", "MATCH (n)\nRETURN n.name"),
    )
    with pytest.raises(ValueError, match="cypher block"):
        parse_examples(text + "Question: Forgot the query?\n")
    sections = f"## Always shown\n\n{text}\n## Chosen by similarity\n\n{text}"
    assert [e.always for e in parse_examples(sections)] == [True, True, False, False]
    vector = Example("About X?", "CALL db.index.vector.queryNodes('{index}', 5, $embedding)")
    assert "queryNodes('Article[embedding]'" in vector.render("Article[embedding]")


def test_the_example_bank_reads_only_and_fits_the_schema() -> None:
    bank = example_bank()
    assert len(bank) >= 30 and len({e.question for e in bank}) == len(bank)
    assert 5 <= sum(e.always for e in bank) <= 12  # the rest are chosen by similarity
    patterns = SCHEMA | {("Article", "IN_SUBTOPIC", "Subtopic")}  # the loader's whole model
    schema = GraphSchema("", patterns, PROPS)
    for example in bank:
        query = example.cypher.replace("{index}", "Article[embedding]")
        assert check_read_only(query) and not schema_problems(query, schema), example.question
        assert fix_relationships(query, patterns) == query, example.question


def test_the_example_bank_passes_the_question_checks() -> None:
    """Every example is a right answer to its question, so a check that flags one would send
    right queries back to the model."""
    rows = parse_articles(DATASET)
    names = tuple(
        {(r.title, "Article") for r in rows}
        | {(a, "Researcher") for r in rows for a in r.authors}
        | {(r.topic, "Topic") for r in rows}
        | {(r.subtopic, "Subtopic") for r in rows}
    )
    for example in example_bank():
        assert question_problems(example.question, example.cypher, names, []) == [], example


def test_the_example_bank_does_not_hold_benchmark_questions() -> None:
    """Examples teach shapes: a benchmark question (or a quoted title of one) in the bank
    would let the model copy the answer instead of writing it."""
    bank = example_bank()
    asked = {q.text.casefold() for q in questions(parse_articles(DATASET))}
    assert not asked & {e.question.casefold() for e in bank}
    titles = {t for q in asked for t in re.findall(r"'([^']+)'", q)}
    assert not any(t in e.cypher.casefold() for t in titles for e in bank)


def _fake_embed(texts: Sequence[str], settings: Settings | None = None) -> np.ndarray:
    """Bag of letters: texts sharing words land close together, deterministically."""
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for row, text in enumerate(texts):
        for ch in text.lower():
            if "a" <= ch <= "z":
                out[row, ord(ch) - 97] += 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_bank(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    bank = parse_examples(
        "## Always shown\nQuestion: aaa\n```cypher\nRETURN 0\n```\n## Chosen by similarity\n"
        "Question: zzz zzz\n```cypher\nRETURN 1\n```\n"
        "Question: aaa bbb\n```cypher\nRETURN 2\n```\n"
        "Question: aaa aaa\n```cypher\nRETURN 3\n```\n"
        "Question: qqq Chen Wei\n```cypher\nMATCH (r {name: 'Chen Wei'}) RETURN 4\n```\n"
        "Question: qqq a researcher\n```cypher\nRETURN 5\n```\n"
    )
    monkeypatch.setattr(text2cypher, "example_bank", lambda: bank)
    monkeypatch.setattr("knowledge.embeddings.embed", _fake_embed)
    text2cypher._bank_vectors.cache_clear()
    text2cypher._bank_kinds.cache_clear()
    yield
    text2cypher._bank_vectors.cache_clear()
    text2cypher._bank_kinds.cache_clear()


@pytest.mark.usefixtures("fake_bank")
def test_choose_examples_picks_the_nearest_questions() -> None:
    chosen = choose_examples("aaa", Settings(), k=2)
    assert [e.cypher for e in chosen] == ["RETURN 2", "RETURN 3"]
    assert [e.question for e in choose_examples("zz", Settings(), k=1)] == ["zzz zzz"]


@pytest.mark.usefixtures("fake_bank")
def test_choose_examples_prefers_examples_that_name_no_more_than_the_question() -> None:
    # Masked, both examples read "qqq a researcher", but only one names a researcher. For a
    # question that names one too, the tie keeps bank order; for one that names nobody, the
    # example with a name ranks lower (the model would copy the name).
    chosen = choose_examples("qqq researcher", Settings(), names=NAMES, k=1)
    assert [e.cypher for e in chosen] == ["RETURN 5"]
    named = choose_examples("qqq Amara Okafor", Settings(), names=NAMES, k=1)
    assert [e.cypher for e in named] == ["MATCH (r {name: 'Chen Wei'}) RETURN 4"]


@pytest.mark.usefixtures("fake_bank")
def test_choose_examples_avoids_examples_holding_a_copied_name() -> None:
    chosen = choose_examples("qqq", Settings(), names=NAMES, k=5, avoid=frozenset({"chen wei"}))
    assert len(chosen) == 4 and all("Chen Wei" not in e.cypher for e in chosen)


NAMES = (
    ("Speculative Decoding on Laptops", "Article"),
    ("Amara Okafor", "Researcher"),
    ("Computer Vision", "Topic"),
    ("Pretraining", "Subtopic"),
    ("Chen Wei", "Researcher"),
)


def test_named_kinds() -> None:
    assert named_kinds("Which co-authors of amara okafor wrote on Pretraining?", NAMES) == {
        "a researcher", "a subtopic"
    }  # fmt: skip
    assert named_kinds("Who wrote 'X' after 2023-01-01 or in 2019?", NAMES) == {
        "an article", "a date", "a year"
    }  # fmt: skip
    assert named_kinds("Who wrote an article after a date?", NAMES) == set()
    assert named_kinds("speculative decoding on laptops", NAMES) == {"an article"}


def test_mask_names_keeps_the_shape_of_the_question() -> None:
    assert mask_names("Which co-authors of amara okafor wrote on Pretraining?", NAMES) == (
        "Which co-authors of a researcher wrote on a subtopic?"
    )
    assert mask_names("Who wrote 'Chen Wei Rules' after 2023-01-01 or in 2019?", NAMES) == (
        "Who wrote an article after a date or in a year?"
    )
    assert mask_names("Chen Wei's papers", NAMES) == "a researcher's papers"
    assert mask_names("Chen Weiss and Pretrainings", NAMES) == "Chen Weiss and Pretrainings"


@pytest.mark.parametrize(
    ("question", "cypher", "problems"),
    [
        ("Which co-authors of Chen Wei published in Pretraining?",
         "MATCH (:Researcher {name: 'Chen Wei'})-[:PUBLISHED]->(:Article) RETURN 1",
         ["never uses 'Pretraining'"]),
        ("Who wrote 'Tiny Models' in 2021?", "MATCH (a {title: 'tiny models'}) RETURN a",
         ["never uses '2021'"]),
        ("What is the average number of authors per article?",
         "MATCH (a)-[:IN_SUBTOPIC]->(:Subtopic {name: 'Game Playing'}) RETURN 1",
         ["filters on 'Game Playing', copied from an example"]),
        ("How many articles are in Game Playing?",
         "MATCH (a)-[:IN_SUBTOPIC]->(:Subtopic {name: 'Game Playing'}) RETURN count(a)", []),
        ("How many articles are in computer vision?",
         "MATCH (a)-[:IN_TOPIC]->(:Topic {name: 'Computer Vision'}) RETURN count(a)", []),
        ("Which topic is about robots?",  # a literal of its own, not an example's
         "MATCH (t:Topic {name: 'Robots'}) RETURN t.name", []),
        ("Which articles did Chen Wei write?",
         "MATCH (:Researcher {name: 'Chen Wei'})-[:PUBLISHED]->(a:Article) RETURN a.title LIMIT 1",
         ["drop the LIMIT 1"]),
        ("Which researchers published the most articles?",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a) RETURN r.name, count(a) AS n "
         "ORDER BY n DESC LIMIT 1", []),
        ("Which topic has the most articles?",
         "MATCH (t:Topic) RETURN t.name, count(*) AS n ORDER BY n DESC LIMIT 1",
         ["never matches one"]),
        ("How many topics are there?", "MATCH (t:Topic) RETURN count(t)", []),
        ("Which topic has the most articles?",  # subtopics counted as if they were articles
         "MATCH (t:Topic)<-[:PART_OF]-(s:Subtopic) RETURN t.name, count(s) AS n "
         "ORDER BY n DESC LIMIT 1", ["never matches one"]),
        ("What is the average number of authors per article?",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) WITH r, count(a) AS n RETURN avg(n)",
         ["average per article: first one row per article (WITH a,"]),
        ("What is the average number of authors per article?",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) WITH a, count(r) AS n RETURN avg(n)",
         []),
        ("What is the mean number of papers per year?",
         "MATCH (a:Article) WITH a.year AS year, count(a) AS n RETURN avg(n)", []),
        ("What is the mean number of papers per year?",
         "MATCH (a:Article) RETURN avg(a.year)", ["(WITH a.year AS year, count(...) AS n)"]),
        ("Who wrote 'Speculative Decoding on Laptops'?",
         "MATCH (r:Researcher)-[:PUBLISHED]->(:Article)-[:IN_SUBTOPIC]->"
         "(:Subtopic {name: 'Speculative Decoding on Laptops'}) RETURN r.name",
         ["is an article, not a subtopic: match it as (:Article {title: "]),
        ("Which articles are in Pretraining?",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) WHERE r.name = 'Pretraining' "
         "RETURN a.title", ["'Pretraining' is a subtopic, not a researcher"]),
        ("How many distinct authors published in Computer Vision?",
         "MATCH (r)-[:PUBLISHED]->(a)-[:IN_TOPIC]->(:Topic {name: 'Computer Vision'}) "
         "RETURN DISTINCT r.name", ["the question asks how many: return the number"]),
        ("How many authors does each article have?",
         "MATCH (r)-[:PUBLISHED]->(a) RETURN a.title, size(collect(r)) AS n", []),
        ("Which researchers published in Computer Vision?",  # a name from nowhere in the question
         "MATCH (r:Researcher {name: 'Chen Wei'})-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->"
         "(:Topic {name: 'Computer Vision'}) RETURN r.name",
         ["filters on 'Chen Wei', which the question does not mention"]),
    ],
)  # fmt: skip
def test_question_problems(question: str, cypher: str, problems: list[str]) -> None:
    examples = [Example("?", "MATCH (:Subtopic {name: 'Game Playing'}) RETURN 1")]
    found = question_problems(question, cypher, NAMES, examples)
    assert len(found) == len(problems)
    assert all(p in f for f, p in zip(found, problems, strict=True))


@pytest.mark.parametrize(
    ("query", "fixed"),
    [
        ("MATCH (r)-->(a) RETURN r.name AS researcher, count(a) AS n ORDER BY researchers ASC",
         "MATCH (r)-->(a) RETURN r.name AS researcher, count(a) AS n ORDER BY researcher ASC"),
        ("MATCH (a) WITH a, count(*) AS n ORDER BY nn DESC RETURN a.title AS title ORDER BY titel",
         "MATCH (a) WITH a, count(*) AS n ORDER BY nn DESC RETURN a.title AS title ORDER BY title"),
        ("MATCH (a) RETURN a.title AS title ORDER BY a.date DESC LIMIT 1", None),
        ("MATCH (a) RETURN a.title AS title ORDER BY a DESC", None),  # a variable
        ("MATCH (a) RETURN a.title AS title ORDER BY year", None),  # nothing close enough
        ("MATCH (r:Researcher)-->(a:Article) RETURN a.title AS title ORDER BY date DESC",
         "MATCH (r:Researcher)-->(a:Article) RETURN a.title AS title ORDER BY a.date DESC"),
        ("MATCH (r:Researcher), (t:Topic) RETURN r.name AS r1, t.name AS t1 ORDER BY name",
         None),  # two variables have a name: which one is a guess
    ],
)  # fmt: skip
def test_fix_order_by(query: str, fixed: str | None) -> None:
    assert fix_order_by(query, PROPS) == (fixed or query)


def test_repair_hints() -> None:
    assert "WITH" in repair_hint("MATCH (a) WHERE count(a) = 3 RETURN a", "anything")
    unbound = repair_hint("RETURN c.name", "UndefinedVariable: Variable 'c' not defined")
    assert "the variable c must first appear in a MATCH pattern" in unbound
    nested = repair_hint("MATCH (r)-->(a) RETURN avg(count(DISTINCT r))", "NestedAggregation")
    assert "WITH a, count(r) AS n RETURN avg(n)" in nested
    assert repair_hint("MATCH (a RETURN a", "Invalid input") == ""


@pytest.mark.parametrize(
    ("query", "fixed"),
    [
        ("MATCH (a:Article) WITH a.year, count(a) AS n RETURN avg(n)",
         "MATCH (a:Article) WITH a.year AS year, count(a) AS n RETURN avg(n)"),
        ("MATCH (a) WITH DISTINCT a.year\nRETURN year", "MATCH (a) WITH DISTINCT a.year AS year\nRETURN year"),
        ("MATCH (a) WITH a.year AS y, count(a) AS n RETURN y", None),
        ("MATCH (a) WITH coalesce(a.x, a.y) AS v RETURN v", None),  # inside a call: not an item
    ],
)  # fmt: skip
def test_alias_with_items(query: str, fixed: str | None) -> None:
    assert alias_with_items(query) == (fixed or query)


@pytest.mark.parametrize(
    ("question", "cypher", "flagged"),
    [
        ("Which articles came out in 2019?", "MATCH (a) WHERE a.year = 2019 RETURN count(a) AS n",
         True),
        ("Who wrote with X?", "MATCH (c) RETURN DISTINCT count(DISTINCT c) AS n LIMIT 1", True),
        ("Which articles came out in 2019?", "MATCH (a) WHERE a.year = 2019 RETURN a.title", False),
        ("Which year had the most articles?",
         "MATCH (a) RETURN a.year AS year, count(a) AS n ORDER BY n DESC", False),
        ("How many articles came out in 2019?", "MATCH (a) WHERE a.year = 2019 RETURN count(a)",
         False),
        ("Which is the number of topics?", "MATCH (t:Topic) RETURN count(t)", False),
    ],
)  # fmt: skip
def test_a_list_question_answered_with_a_count_is_a_problem(
    question: str, cypher: str, flagged: bool
) -> None:
    found = question_problems(question, cypher, (), [])
    assert any("not how many" in p for p in found) == flagged


@pytest.mark.parametrize(
    ("query", "fixed"),
    [
        ("MATCH (r:Researcher {name: 'X'})-[:PUBLISHED]->(:Article) RETURN count(a) AS n",
         "MATCH (r:Researcher {name: 'X'})-[:PUBLISHED]->(a:Article) RETURN count(a) AS n"),
        ("MATCH (:Researcher)-[:PUBLISHED]->(:Article) RETURN a.title, count(DISTINCT r)",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) RETURN a.title, count(DISTINCT r)"),
        ("MATCH (a:Article)-[:IN_SUBTOPIC]->(:Subtopic) WITH a, count(r) AS n RETURN avg(n)",
         None),  # r is no initial of Subtopic: which node it meant is a guess
        ("MATCH (:Article)<-[:PUBLISHED]-(:Researcher), (:Article) RETURN a.title", None),  # two
        ("MATCH (x:Article) WHERE x.title = 'a.b' RETURN x", None),  # text inside a string
        ("CALL db.index.vector.queryNodes('I', 5, $embedding) YIELD node RETURN node.title", None),
    ],
)  # fmt: skip
def test_bind_anonymous(query: str, fixed: str | None) -> None:
    assert bind_anonymous(query) == (fixed or query)


def test_a_year_copied_from_an_example_is_flagged() -> None:
    example = Example("Which articles came out in 2022?", "MATCH (a) WHERE a.year = 2022 RETURN a")
    query = (
        "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) WHERE a.year = 2022 "
        "WITH a, count(r) AS n RETURN avg(n)"
    )
    found = question_problems(
        "What is the average number of authors per article?", query, (), [example]
    )
    assert found == [
        "it filters on '2022', copied from an example: the question does not mention it"
    ]
    assert question_problems("How many articles came out in 2022?", query, (), [example]) == []


def test_an_article_in_two_topics_is_a_schema_problem() -> None:
    schema = GraphSchema("", SCHEMA, PROPS, frozenset({"IN_TOPIC"}))
    one = "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->(:Topic {name: 'X'}) "
    both = one + "MATCH (r)-[:PUBLISHED]->(a)-[:IN_TOPIC]->(:Topic {name: 'Y'}) RETURN r.name"
    (problem,) = schema_problems(both, schema)
    assert problem.startswith("(a) has only one IN_TOPIC in this graph")
    two = one + "MATCH (r)-[:PUBLISHED]->(b)-[:IN_TOPIC]->(:Topic {name: 'Y'}) RETURN r.name"
    assert schema_problems(two, schema) == []
    assert schema_problems(both, GraphSchema("", SCHEMA, PROPS)) == []  # a graph with many


@pytest.mark.parametrize(
    ("query", "fixed"),
    [
        ("MATCH (a:Article)-[:IN_TOPIC]->(t:Topic) WITH a, count(DISTINCT r) AS n RETURN avg(n)",
         "MATCH (a:Article)-[:IN_TOPIC]->(t:Topic) MATCH (r:Researcher)-[:PUBLISHED]->(a)\n"
         "WITH a, count(DISTINCT r) AS n RETURN avg(n)"),
        ("MATCH (s:Subtopic {name: 'X'}) RETURN t.name",
         "MATCH (s:Subtopic {name: 'X'}) MATCH (s)-[:PART_OF]->(t:Topic)\nRETURN t.name"),
        ("MATCH (r:Researcher) RETURN t.name", None),  # no one path from a researcher to a topic
        ("MATCH (a:Article) RETURN c.name", None),  # c names no label
        ("MATCH (a:Article) RETURN a.title", None),
    ],
)  # fmt: skip
def test_match_unbound(query: str, fixed: str | None) -> None:
    patterns = SCHEMA | {("Article", "IN_SUBTOPIC", "Subtopic")}
    assert match_unbound(query, patterns) == (fixed or query)


def test_split_impossible_pairs() -> None:
    single = frozenset({"IN_TOPIC"})
    both = (
        "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->(:Topic {name: 'X'})\n"
        "MATCH (r)-[:PUBLISHED]->(a)-[:IN_TOPIC]->(:Topic {name: 'Y a'}) RETURN r.name"
    )
    assert split_impossible_pairs(both, single) == both.replace("->(a)-", "->(a2)-")
    used_later = both.replace("RETURN r.name", "RETURN a.title")  # which article? a guess
    assert split_impossible_pairs(used_later, single) == used_later
    assert split_impossible_pairs(both, frozenset()) == both


@pytest.mark.parametrize(
    ("query", "capped"),
    [
        (
            "CALL db.index.vector.queryNodes('Article[embedding]', 100000, $embedding) YIELD node",
            f"CALL db.index.vector.queryNodes('Article[embedding]', {MAX_VECTOR_K}, $embedding) "
            "YIELD node",
        ),
        ("CALL db.index.vector.queryNodes('i', 5, $e) YIELD node RETURN node", None),
        # Only the call's k changes, not a look-alike inside a string or a comment.
        (
            "CALL DB.Index.Vector.QueryNodes(\n'i' , 51 , $e) YIELD node "
            "RETURN 'db.index.vector.queryNodes(x, 999,' // queryNodes('i', 999, $e)",
            f"CALL DB.Index.Vector.QueryNodes(\n'i' , {MAX_VECTOR_K} , $e) YIELD node "
            "RETURN 'db.index.vector.queryNodes(x, 999,' // queryNodes('i', 999, $e)",
        ),
    ],
)
def test_vector_search_k_is_capped(query: str, capped: str | None) -> None:
    assert cap_vector_k(query) == (capped or query)


@pytest.mark.parametrize("k", ["$k", "toInteger('1' + '000000')", "-1", "5.5"])
def test_a_vector_search_k_that_cannot_be_read_is_refused(k: str) -> None:
    with pytest.raises(ToolInputError, match="whole number"):
        cap_vector_k(f"CALL db.index.vector.queryNodes('i', {k}, $e) YIELD node RETURN node")


class FakeNeo4j:
    """A Neo4j driver's surface as GraphStore uses it: records every statement run with the
    session's access mode; EXPLAIN answers `query_type`; a read blocks for `hang_s`."""

    def __init__(self, query_type: str = "r", hang_s: float = 0.0) -> None:
        self.query_type = query_type
        self.hang_s = hang_s
        self.ran: list[tuple[str, Any, float | None]] = []  # (text, access mode, timeout)
        self.released = threading.Event()

    def session(self, **kwargs: Any) -> FakeSession:
        return FakeSession(self, kwargs.get("default_access_mode"))


class FakeSession:
    def __init__(self, driver: FakeNeo4j, mode: Any) -> None:
        self.driver, self.mode = driver, mode

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, query: Any, params: dict[str, Any] | None = None) -> Any:
        self.driver.ran.append((query.text, self.mode, query.timeout))
        summary = SimpleNamespace(query_type=self.driver.query_type)
        return SimpleNamespace(consume=lambda: summary)

    def execute_read(self, work: Any) -> Any:
        return work(FakeTx(self, work.timeout))


class FakeTx:
    def __init__(self, session: FakeSession, timeout: float) -> None:
        self.session, self.timeout = session, timeout

    def run(self, cypher: str, params: dict[str, Any]) -> FakeResult:
        from neo4j import Record

        driver = self.session.driver
        driver.ran.append((cypher, self.session.mode, self.timeout))
        driver.released.wait(driver.hang_s)
        return FakeResult([Record({"n": 1})])


class FakeResult(list):
    def keys(self) -> list[str]:
        return ["n"]


def neo4j_store(driver: FakeNeo4j, timeout_s: float = 5.0) -> GraphStore:
    settings = Settings(neo4j_uri="bolt://fake:7687", cypher_timeout_s=timeout_s)
    return GraphStore(settings, driver, None, None)


def test_neo4j_reads_run_once_explain_says_read() -> None:
    from neo4j import READ_ACCESS

    driver = FakeNeo4j("r")
    assert neo4j_store(driver).read("MATCH (n) RETURN 1 AS n").rows == [[1]]
    assert driver.ran == [
        ("EXPLAIN MATCH (n) RETURN 1 AS n", READ_ACCESS, 5.0),
        ("MATCH (n) RETURN 1 AS n", READ_ACCESS, 5.0),  # the transaction's timeout
    ]


@pytest.mark.parametrize("query_type", ["rw", "w", "s"])
def test_neo4j_never_runs_what_explain_plans_as_a_write(query_type: str) -> None:
    driver = FakeNeo4j(query_type)
    with pytest.raises(WriteRefused, match=f"'{query_type}'"):
        neo4j_store(driver).read("MATCH (n) RETURN n")
    assert [text for text, _, _ in driver.ran] == ["EXPLAIN MATCH (n) RETURN n"]


def test_a_read_the_server_does_not_stop_hits_the_client_deadline() -> None:
    driver = FakeNeo4j("r", hang_s=10.0)  # a server that ignores its transaction timeout
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="timeout"):
        neo4j_store(driver, timeout_s=0.2).read("MATCH (a),(b),(c),(d) RETURN count(*)")
    assert time.monotonic() - started < 0.2 + CLIENT_GRACE_S + 1.0
    driver.released.set()


class RecordingStore:
    """A graph store with an empty graph that records every query sent to it."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.sent: list[str] = []

    def vector_index_name(self) -> str:
        return "Article[embedding]"

    def read(self, cypher: str, params: dict[str, Any] | None = None) -> ReadResult:
        self.sent.append(cypher)
        return ReadResult([], [], False)


@pytest.mark.usefixtures("fake_bank")
@pytest.mark.parametrize(
    "reply",
    [
        # A label the (empty) graph lacks: the schema check rejects it every time.
        "MATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a:Article) RETURN count(a)",
        "MATCH (a:Article) WITH a LIMIT 1 INSERT (:Researcher {name:'M'})-[:PUBLISHED]->(a) "
        "RETURN a.title",
    ],
)
def test_a_rejected_query_never_reaches_the_database(reply: str) -> None:
    store = RecordingStore()
    llm = ScriptedChatModel(script=[f"```cypher\n{reply}\n```"] * MAX_QUERIES, calls=[])
    answer = answer_question(store, llm, "How many articles did Amara Okafor publish?")
    assert answer.error or answer.refused
    assert not any("PUBLISHED" in sent for sent in store.sent), store.sent


def test_run_guarded_sends_the_capped_k() -> None:
    store = RecordingStore()
    run_guarded(store, "CALL db.index.vector.queryNodes('i', 500, [1.0]) YIELD node RETURN node")
    assert store.sent == [
        f"CALL db.index.vector.queryNodes('i', {MAX_VECTOR_K}, [1.0]) YIELD node RETURN node"
    ]


@pytest.mark.parametrize(
    ("cypher", "fixed"),
    [
        ("MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) RETURN count(r) AS n",
         "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article) RETURN count(DISTINCT r) AS n"),
        ("MATCH (a:Article) RETURN count(a)", "MATCH (a:Article) RETURN count(a)"),
        ("MATCH (r)-[p:PUBLISHED]->() RETURN count(p)", "MATCH (r)-[p:PUBLISHED]->() RETURN count(p)"),
        ("MATCH (n)-->() RETURN count(*)", "MATCH (n)-->() RETURN count(*)"),
        ("MATCH (r)-[:PUBLISHED]->(a) RETURN count(DISTINCT a)",
         "MATCH (r)-[:PUBLISHED]->(a) RETURN count(DISTINCT a)"),
    ],
)  # fmt: skip
def test_a_node_counted_over_a_path_is_counted_once(cypher: str, fixed: str) -> None:
    """ "How many researchers are in the graph?" came back 109, one per authorship: over a
    path a node repeats, so a count of a node variable counts distinct nodes. Counts of
    relationships, of rows and over a single node pattern are left as written."""
    assert distinct_counts(cypher) == fixed
