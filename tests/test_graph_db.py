"""The knowledge graph against a real embedded ArcadeDB server over Bolt.

One server for the module (7-11 s to start), one restart at the end for persistence. The
text-to-Cypher tests use a scripted chat model: the real LLM is measured in
bench/graph_text2cypher.py.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

from agent.cli import main as cli_main
from core.errors import ToolInputError
from core.settings import Settings
from knowledge.cypher_checks import graph_names, read_schema
from knowledge.cypher_examples import example_bank
from knowledge.cypher_guard import WriteRefused
from knowledge.graph_load import DATASET, graph_counts, load_csv, load_csv_upload, parse_articles
from knowledge.graph_store import CLIENT_GRACE_S, GraphStore, QueryTimeout, _port_open, shared_store
from knowledge.text2cypher import (
    FEW_SHOT_K,
    MAX_QUERIES,
    answer_question,
    prime_prompt,
    run_guarded,
)
from tests.conftest import free_port
from tests.fakes import ScriptedChatModel
from tools import ToolContext
from tools.graph import make_tools

pytestmark = pytest.mark.slow

ROWS = parse_articles(DATASET)
COUNT_AMARA = (
    "MATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a:Article) RETURN count(a) AS n"
)
PAIRS = (
    "MATCH (r1:Researcher)-[:PUBLISHED]->(a:Article)<-[:PUBLISHED]-(r2:Researcher) "
    "WHERE r1.name < r2.name WITH r1, r2, count(DISTINCT a) AS shared WHERE shared > 1 "
    "RETURN r1.name, r2.name, shared"
)
COAUTHORS = (
    "MATCH (r:Researcher)-[:PUBLISHED]->(:Article)<-[:PUBLISHED]-(c:Researcher) "
    "RETURN r.name AS name, count(DISTINCT c) AS coauthors ORDER BY coauthors DESC, name"
)


def expected_counts() -> dict[str, int]:
    links = sum(len(r.authors) for r in ROWS) + 2 * len(ROWS)
    links += len({(r.subtopic, r.topic) for r in ROWS})
    return {
        "Article": len(ROWS),
        "Researcher": len({a for r in ROWS for a in r.authors}),
        "Topic": len({r.topic for r in ROWS}),
        "Subtopic": len({r.subtopic for r in ROWS}),
        "relationships": links,
    }


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("graph-data"),
        graph_bolt_port=free_port(),
        graph_http_port=free_port(),
        cypher_timeout_s=3.0,
    )


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[GraphStore]:
    with GraphStore.open(settings) as st:
        load_csv(st, DATASET)
        yield st


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The CLI reads Settings from the environment: point it at the test server."""
    monkeypatch.setenv("GENAI101_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GENAI101_GRAPH_BOLT_PORT", str(settings.graph_bolt_port))
    monkeypatch.setenv("GENAI101_GRAPH_HTTP_PORT", str(settings.graph_http_port))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.delenv("GENAI101_NEO4J_URI", raising=False)


def test_load_matches_the_csv_and_twice_changes_nothing(store: GraphStore) -> None:
    assert graph_counts(store) == expected_counts()
    result = load_csv(store, DATASET)
    assert result["graph"] == expected_counts()


def test_a_malformed_file_loads_nothing(store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "Title;Abstract;Topic;Subtopic;Authors;Publication_Date\n"
        "New Article;x;New Topic;New Sub;New Person;2024-01-01\n"
        "Other;x;New Topic;New Sub;New Person;2024-02-31\n",
        encoding="utf-8",
    )
    with pytest.raises(ToolInputError, match="row 3"):
        load_csv(store, path)
    assert graph_counts(store) == expected_counts()


def test_a_failing_write_batch_rolls_back(store: GraphStore) -> None:
    with pytest.raises(Exception, match="zero"):
        store.write([("CREATE (:Topic {name: 'Ghost'})", {}), ("RETURN 1 / 0", {})])
    assert store.read("MATCH (t:Topic {name: 'Ghost'}) RETURN t").rows == []


def test_replace_wipes_first(store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text(
        "Title;Abstract;Topic;Subtopic;Authors;Publication_Date\n"
        "Only One;x;Solo Topic;Solo Sub;Ann Lee, Bo Chen;2024-01-01\n",
        encoding="utf-8",
    )
    result = load_csv(store, path, replace=True)
    assert result["graph"] == {
        "Article": 1,
        "Researcher": 2,
        "Topic": 1,
        "Subtopic": 1,
        "relationships": 5,
    }
    assert load_csv(store, DATASET, replace=True)["graph"] == expected_counts()


def test_schema_text_comes_from_the_live_graph(store: GraphStore) -> None:
    schema = read_schema(store)
    assert ("Topic", "IN_TOPIC", "Article") not in schema.patterns
    assert schema.patterns == {
        ("Researcher", "PUBLISHED", "Article"),
        ("Article", "IN_TOPIC", "Topic"),
        ("Article", "IN_SUBTOPIC", "Subtopic"),
        ("Subtopic", "PART_OF", "Topic"),
    }
    assert schema.single == {"IN_TOPIC", "IN_SUBTOPIC", "PART_OF"}  # a researcher has many
    text = schema.text
    for pattern in (
        "(:Researcher)-[:PUBLISHED]->(:Article)",
        "(:Article)-[:IN_TOPIC]->(:Topic) (one per Article)",
        "(:Article)-[:IN_SUBTOPIC]->(:Subtopic) (one per Article)",
        "(:Subtopic)-[:PART_OF]->(:Topic) (one per Subtopic)",
        '(:Researcher {name: "',
        'all Topic names: "AI Safety and Ethics", "Computer Vision"',
        "year: 20",
        'embedding: "<384 floats',
    ):
        assert pattern in text
    assert len(text) < 2500  # it goes into every prompt of a small model


def test_the_lessons_three_question_shapes(store: GraphStore) -> None:
    amara = sum("Amara Okafor" in r.authors for r in ROWS)
    assert run_guarded(store, COUNT_AMARA).rows == [[amara]]

    shared: Counter[tuple[str, str]] = Counter()
    coauthors: dict[str, set[str]] = defaultdict(set)
    for row in ROWS:
        shared.update(itertools.combinations(sorted(row.authors), 2))
        for a in row.authors:
            coauthors[a] |= set(row.authors) - {a}
    pairs = {(a, b, n) for (a, b), n in shared.items() if n > 1}
    assert {tuple(r) for r in run_guarded(store, PAIRS).rows} == pairs

    # Relationship uniqueness: a researcher is never matched as their own co-author.
    rows = run_guarded(store, COAUTHORS).rows
    expected = {a: len(c) for a, c in coauthors.items() if c}
    assert {name: n for name, n in rows} == expected
    assert rows[0] == ["Amara Okafor", max(expected.values())]


def test_reads_use_read_access_mode(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from neo4j import READ_ACCESS

    seen = []
    real_session = store.driver.session

    def spy(**kwargs):
        seen.append(kwargs.get("default_access_mode"))
        return real_session(**kwargs)

    monkeypatch.setattr(store.driver, "session", spy)
    store.read("RETURN 1")
    assert seen == [READ_ACCESS]


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (a:Article)<-[:PUBLISHED]-(:Researcher {name: 'Amara Okafor'}) DETACH DELETE a",
        "MATCH (a:Article) SET a.title = 'hacked'",
        "CALL { MATCH (t:Topic) DETACH DELETE t } RETURN 1",
        "MATCH (a) RETURN a; MATCH (n) DETACH DELETE n",
        "match (n) /* x */ detach delete n",
        "CREATE (:Researcher {name: 'Mallory'})",
    ],
)
def test_refused_writes_leave_the_graph_unchanged(store: GraphStore, query: str) -> None:
    with pytest.raises(ToolInputError, match="Refused|one statement"):
        run_guarded(store, query)
    assert graph_counts(store) == expected_counts()
    assert run_guarded(store, COUNT_AMARA).rows == [[8]]


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (a:Article) WITH a LIMIT 1 INSERT (:Researcher {name:'M'})-[:PUBLISHED]->(a) "
        "RETURN a.title",
        "MATCH (m:Researcher) // list\rDETACH DELETE m",
        "MATCH (a:Article) SET a.title = 'hacked'",
        "CALL { MATCH (t:Topic) DETACH DELETE t } RETURN 1",
    ],
)
def test_the_database_s_parser_refuses_writes_the_static_guard_never_saw(
    store: GraphStore, query: str
) -> None:
    """store.read is the second gate alone: ArcadeDB's parser must take it for a read."""
    with pytest.raises(WriteRefused, match="ArcadeDB's Cypher parser"):
        store.read(query)
    assert graph_counts(store) == expected_counts()


def test_the_database_s_parser_error_comes_back_unrun(store: GraphStore) -> None:
    with pytest.raises(ToolInputError, match="Syntax error"):
        store.check_read_only("MATCH (n RETURN n")


def test_unrelated_patterns_are_bounded_by_the_deadline(store: GraphStore) -> None:
    from neo4j.exceptions import Neo4jError

    deadline = store.settings.cypher_timeout_s + CLIENT_GRACE_S + 1.0
    for query in (
        "MATCH (a),(b),(c),(d) RETURN count(*)",  # ArcadeDB counts this without enumerating
        "MATCH (a),(b),(c),(d) RETURN a.title, d.name ORDER BY a.title DESC, d.name LIMIT 1",
    ):
        started = time.monotonic()
        try:
            run_guarded(store, query)
        except (Neo4jError, QueryTimeout) as exc:
            assert "time" in str(exc).lower()
        assert time.monotonic() - started < deadline, query


def test_row_limit_cuts_and_says_so(store: GraphStore) -> None:
    result = run_guarded(store, "MATCH (r:Researcher)-[:PUBLISHED]->(a) RETURN r.name, a.title")
    assert len(result.rows) == store.settings.cypher_row_limit and result.truncated


def test_a_runaway_query_hits_the_timeout(store: GraphStore) -> None:
    from neo4j.exceptions import Neo4jError

    query = "UNWIND range(1, 20000000) AS x UNWIND range(1, 20) AS y WITH x * y AS z RETURN sum(z)"
    started = time.monotonic()
    with pytest.raises(Neo4jError, match="timeout"):
        run_guarded(store, query)
    assert time.monotonic() - started < 15


def test_vector_search_finds_misinformation_articles(store: GraphStore) -> None:
    query = (
        f"CALL db.index.vector.queryNodes('{store.vector_index_name()}', 5, $embedding) "
        "YIELD node, score RETURN node.title AS title, score"
    )
    question = "which articles are about protecting users from misinformation?"
    titles = [row[0] for row in run_guarded(store, query, question).rows]
    misinformation = {r.title for r in ROWS if r.subtopic == "Misinformation"}
    assert len(titles) == 5
    assert set(titles[:3]) <= misinformation


def test_similarity_questions_use_the_vector_index(store: GraphStore) -> None:
    llm = ScriptedChatModel(script=[], calls=[])  # would fail the test if asked
    question = "Which articles are about protecting users from misinformation?"
    answer = answer_question(store, llm, question)
    assert answer.method == "vector search" and "db.index.vector.queryNodes" in answer.cypher
    misinformation = {r.title for r in ROWS if r.subtopic == "Misinformation"}
    assert {row[0] for row in answer.rows[:3]} <= misinformation
    assert "protecting users from misinformation" in answer.answer


def test_who_wrote_about_a_theme_gets_the_authors_of_the_nearest_articles(
    store: GraphStore,
) -> None:
    """ "Which researchers published about X?" answered with article titles listed people
    who do not exist; it gets the nearest articles' authors."""
    llm = ScriptedChatModel(script=[], calls=[])
    question = (
        "Which researchers have published articles about protecting users from misinformation?"
    )
    answer = answer_question(store, llm, question)
    assert answer.method == "vector search" and answer.columns[0] == "researcher"
    authors = {a for r in ROWS if r.subtopic == "Misinformation" for a in r.authors}
    assert answer.rows and answer.rows[0][0] in authors
    assert answer.answer.startswith("Authors of the articles nearest in meaning")


def test_text_to_cypher_repairs_a_bad_query(store: GraphStore) -> None:
    bad = "```cypher\nMATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a RETURN a\n```"
    good = f"```cypher\n{COUNT_AMARA}\n```"
    llm = ScriptedChatModel(script=[bad, good], calls=[])
    answer = answer_question(store, llm, "How many articles did Amara Okafor publish?")
    assert answer.rows == [[8]] and answer.answer == "n: 8."
    assert [bool(a["error"]) for a in answer.attempts] == [True, False]
    repair_prompt = llm.calls[1]["messages"][-1].content
    assert "wrong" in repair_prompt and answer.attempts[0]["error"][:20] in repair_prompt
    assert "(:Researcher)-[:PUBLISHED]->(:Article)" in llm.calls[0]["messages"][0].content


def test_the_primed_prefix_is_the_one_every_question_starts_with(store: GraphStore) -> None:
    """The warm-up caches the text-to-Cypher prompt's fixed part in the LLM server; it only
    pays if a question's prompt starts with exactly that message."""
    llm = ScriptedChatModel(script=["", f"```cypher\n{COUNT_AMARA}\n```"], calls=[])
    prime_prompt(store, llm)
    answer_question(store, llm, "How many articles did Amara Okafor publish?")
    primed, asked = llm.calls[0]["messages"], llm.calls[1]["messages"]
    assert primed[0].type == "system" and primed[0].content == asked[0].content


def test_graph_names_holds_every_name_past_the_row_limit(store: GraphStore) -> None:
    names = set(graph_names(store))
    assert names == (
        {(r.title, "Article") for r in ROWS}
        | {(a, "Researcher") for r in ROWS for a in r.authors}
        | {(r.topic, "Topic") for r in ROWS}
        | {(r.subtopic, "Subtopic") for r in ROWS}
    )
    assert len(names) > store.settings.cypher_row_limit


def test_an_article_in_two_topics_is_split_into_two_articles(store: GraphStore) -> None:
    both = (
        "MATCH (r:Researcher)-[:PUBLISHED]->(a:Article)-[:IN_TOPIC]->(:Topic {name: 'Computer "
        "Vision'}) MATCH (r)-[:PUBLISHED]->(a)-[:IN_TOPIC]->(:Topic {name: 'AI Safety and "
        "Ethics'}) RETURN DISTINCT r.name AS researcher"
    )
    llm = ScriptedChatModel(script=[both], calls=[])
    question = "Which researchers published in both Computer Vision and AI Safety and Ethics?"
    answer = answer_question(store, llm, question)
    expected = {a for r in ROWS if r.topic == "Computer Vision" for a in r.authors} & {
        a for r in ROWS if r.topic == "AI Safety and Ethics" for a in r.authors
    }
    assert expected and {row[0] for row in answer.rows} == expected
    assert "(a2)" in answer.cypher and any("a variable of its own" in n for n in answer.notes)


def test_text_to_cypher_gives_up_after_two_repairs(store: GraphStore) -> None:
    llm = ScriptedChatModel(script=["MATCH (n RETURN n"] * MAX_QUERIES, calls=[])
    answer = answer_question(store, llm, "Anything?")
    assert answer.error and len(answer.attempts) == MAX_QUERIES == 3 and not answer.rows


def test_a_worse_repair_does_not_replace_a_query_that_fit(store: GraphStore) -> None:
    fits = (
        "MATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a:Article) "
        "WHERE a.year = 2030 RETURN a.title AS title"
    )  # runs, finds nothing: the model is asked to look again
    worse = "MATCH (r:Researcher {name: 'Chen Wei'})-[:PUBLISHED]->(a:Article) RETURN a.title"
    llm = ScriptedChatModel(script=[fits, worse, worse], calls=[])
    answer = answer_question(store, llm, "Which articles did Amara Okafor write in 2030?")
    assert [a["cypher"] for a in answer.attempts] == [fits, worse, worse]
    retry = llm.calls[1]["messages"][-1].content  # a fresh request naming the empty query
    assert (
        "found nothing" in retry
        and fits in retry
        and len(llm.calls[1]["messages"]) == len(llm.calls[0]["messages"])
    )
    assert "'Chen Wei', which the question does not mention" in answer.attempts[1]["error"]
    assert answer.cypher == fits and answer.rows == [] and not answer.error
    assert any(n.startswith("Kept an earlier query") and worse in n for n in answer.notes)


def test_write_requests_are_refused(store: GraphStore) -> None:
    # Refused from the wording alone: the scripted model would fail the test if asked.
    answer = answer_question(
        store, ScriptedChatModel(script=[], calls=[]), "Delete all articles by Amara Okafor"
    )
    assert answer.refused and "unchanged" in answer.answer
    # A write the model slips into a harmless-sounding question is caught by the guard.
    sneaky = "MATCH (a:Article)<-[:PUBLISHED]-(:Researcher {name: 'Amara Okafor'}) DETACH DELETE a"
    llm = ScriptedChatModel(script=[sneaky], calls=[])
    answer = answer_question(store, llm, "Tidy up Amara Okafor's articles")
    assert "DETACH" in answer.refused and not answer.rows
    assert graph_counts(store) == expected_counts()


def test_the_tool_returns_a_teaching_artifact(store: GraphStore, settings: Settings) -> None:
    script = [f"```cypher\n{PAIRS}\n```"]
    ctx = ToolContext(settings, lambda: ScriptedChatModel(script=script, calls=[]))
    (tool,) = make_tools(ctx)
    call = {
        "type": "tool_call",
        "id": "1",
        "name": tool.name,
        "args": {"question": "Which researchers wrote more than one article together?"},
    }
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    parts = {p["kind"]: p for p in message.artifact["parts"]}
    assert set(parts) == {"markdown", "code", "table", "plotly"}
    assert parts["code"]["content"] == PAIRS
    assert ["Amara Okafor", "Priya Nair", "3"] in parts["table"]["rows"]
    names = {t for trace in parts["plotly"]["figure"]["data"] for t in trace.get("text") or []}
    assert "Amara Okafor" in names and "Priya Nair" in names
    assert "Amara Okafor" in message.content
    shown = [p["content"] for p in message.artifact["parts"] if p["kind"] == "markdown"]
    listed = next(text for text in shown if text.startswith("Few-shot examples chosen"))
    assert sum(f"- {e.question}" in listed for e in example_bank()) == FEW_SHOT_K


def test_every_bank_example_answers_on_the_shipped_graph(store: GraphStore) -> None:
    """An example that finds nothing would teach the model a filter that matches nothing."""
    for example in example_bank():
        query = example.cypher.replace("{index}", store.vector_index_name())
        rows = run_guarded(store, query, example.question).rows
        assert rows and rows[0][0] not in (0, None), example.question


def test_the_tool_reports_bad_input_in_the_artifact(settings: Settings, store: GraphStore) -> None:
    ctx = ToolContext(settings, lambda: ScriptedChatModel(script=[], calls=[]))
    (tool,) = make_tools(ctx)
    message = tool.invoke(
        {"type": "tool_call", "id": "2", "name": tool.name, "args": {"question": "   "}}
    )
    assert "Ask a question" in message.content
    assert message.artifact["parts"][0]["kind"] == "markdown"


def test_cli_cypher_and_load(env: None, store: GraphStore, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["cypher", COUNT_AMARA]) == 0
    assert "8" in capsys.readouterr().out
    assert cli_main(["cypher", "MATCH (n) DETACH DELETE n"]) == 1
    assert "Refused: DETACH" in capsys.readouterr().err
    assert cli_main(["load-graph", str(DATASET), "--json"]) == 0
    assert '"Article": 64' in capsys.readouterr().out
    assert graph_counts(store) == expected_counts()


def test_upload_entry_point(settings: Settings, store: GraphStore, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Title;Authors\nx;y\n", encoding="utf-8")
    with pytest.raises(ToolInputError, match="lacks the column"):
        load_csv_upload(settings, bad)
    assert load_csv_upload(settings, DATASET)["graph"] == expected_counts()


def test_restart_keeps_the_graph(store: GraphStore, settings: Settings) -> None:
    shared_store(settings).close()  # joined the module's server in the tool tests
    store.close()
    assert not _port_open(settings.graph_bolt_port)
    with GraphStore.open(settings) as again:
        assert again.server is not None  # a fresh child, not a leftover
        assert graph_counts(again) == expected_counts()
        assert run_guarded(again, COUNT_AMARA).rows == [[8]]
        query = f"CALL db.index.vector.queryNodes('{again.vector_index_name()}', 1, $embedding) "
        rows = run_guarded(again, query + "YIELD node RETURN node.title", "fake news").rows
        assert len(rows) == 1
    assert not _port_open(settings.graph_bolt_port)


def test_a_follow_up_edits_the_previous_query_in_one_call(store: GraphStore, settings) -> None:
    """ "And what did the first of them write?" names nobody: the tool gets its previous
    question, query and rows back (the artifact's `follow_up`, passed as `earlier`), shows
    them to the model as the turn before, and accepts a name taken from those rows."""
    titles = (
        "MATCH (r:Researcher {name: 'Amara Okafor'})-[:PUBLISHED]->(a:Article) "
        "RETURN a.title AS title"
    )
    llm = ScriptedChatModel(script=[f"```cypher\n{PAIRS}\n```", titles], calls=[])
    (tool,) = make_tools(ToolContext(settings, lambda: llm))
    first = tool.invoke(
        {"type": "tool_call", "id": "1", "name": tool.name,
         "args": {"question": "Which researchers wrote more than one article together?"}}
    )  # fmt: skip
    earlier = first.artifact["follow_up"]
    assert earlier["cypher"] == PAIRS and "Amara Okafor, Priya Nair, 3" in earlier["rows"]
    follow = "and what did the first of them write?"
    second = tool.invoke(
        {"type": "tool_call", "id": "2", "name": tool.name,
         "args": {"question": follow, "earlier": earlier}}
    )  # fmt: skip
    prompt = llm.calls[1]["messages"]
    assert prompt[-2].content == f"```cypher\n{PAIRS}\n```"
    assert prompt[-3].content == "Question: Which researchers wrote more than one article together?"
    assert "Amara Okafor, Priya Nair, 3" in prompt[-1].content and follow in prompt[-1].content
    assert len(llm.calls) == 2  # no repair: the name came from the rows the model was shown
    parts = second.artifact["parts"]
    assert any(p["kind"] == "code" and p["content"] == titles for p in parts)
    assert any("A follow-up" in p.get("content", "") for p in parts)
    assert second.artifact["follow_up"]["question"] == follow
