"""The knowledge-graph lesson as a tool: text-to-Cypher over the research-article graph.

The work happens in `knowledge/text2cypher.py` (generation, checks, the read-only guard);
this module turns its answer into what a learner sees (the Cypher, every failed attempt and
correction, the rows, and a picture of the part of the graph they touch), and adds the
`cypher` and `ask-graph` commands.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

from langchain_core.tools import InjectedToolArg

from core.errors import ToolInputError
from knowledge.cypher_guard import check_read_only
from knowledge.text2cypher import (
    Earlier,
    GraphAnswer,
    answer_question,
    cell,
    embed_example_bank,
    prime_prompt,
    run_guarded,
)
from tools import artifacts

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from core.settings import Settings
    from knowledge.graph_store import GraphStore
    from tools import ToolContext

TOOL_NAME = "query_knowledge_graph"
LESSON = {
    "title": "Knowledge graph",
    "shows": "a question about research articles turned into a read-only Cypher query, the "
    "query itself, its rows and a picture of the part of the graph it touched",
    "example": "In the article graph, which researchers have published the most articles?",
}
PICTURE_EDGES = 40
LEAD_ROWS = 5  # rows named in the answer's first sentence
LEAD_CELL_CHARS = 80


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
    for number, failed in enumerate(answer.attempts, 1):
        if failed["error"] and not answer.refused:
            fate = "went back to the model" if number < len(answer.attempts) else "was the last try"
            parts.append(
                artifacts.markdown(
                    f"Query {number} of {len(answer.attempts)} failed and {fate}, with:\n"
                    f"```cypher\n{failed['cypher']}\n```\n`{failed['error']}`"
                )
            )
    if answer.earlier is not None:
        parts.append(
            artifacts.markdown(
                "A follow-up: the model saw your previous graph question as the turn before "
                f"this one (“{answer.earlier.question}”, its query and its first rows), so it "
                "could take the names it needed from there."
            )
        )
    parts += [artifacts.markdown(note) for note in answer.notes]
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
        rows = [[cell(v) for v in row] for row in answer.rows]
        parts.append(artifacts.table(answer.columns, rows, "Rows"))
    if not answer.refused and not answer.error:
        edges = involved_edges(store, answer)
        if edges:
            parts.append(artifacts.plotly(graph_figure(edges), "Graph"))
    result = artifacts.artifact(TOOL_NAME, parts, summary=answer.answer.splitlines()[0])
    result["facts"] = answer_facts(answer)
    if follow_up := answer.follow_up():
        result["follow_up"] = follow_up
    return result


def answer_facts(answer: GraphAnswer) -> dict[str, Any]:
    """An answer must give the rows' first values (three of a long list), or say that
    nothing matched; a refusal or an error is stated as it is."""
    statement = f"The graph query returned: {answer.answer}"
    if answer.refused or answer.error:
        return artifacts.facts(statement=answer.answer)
    if not answer.rows:
        found = [
            "nothing",
            "no rows",
            "no articles",
            "no researchers",
            "none",
            "did not find",
            "didn't find",
            "no result",
            "no match",
        ]
        return artifacts.facts(must=[found], statement=statement)
    firsts = list(dict.fromkeys(str(cell(row[0])) for row in answer.rows[:10] if row))
    return artifacts.facts(
        must=[[v] for v in firsts], need=3, statement=statement, lead=rows_lead(answer)
    )


def rows_lead(answer: GraphAnswer) -> str:
    """The answer's first sentence: how many rows came back and the first few, values only
    (the columns named once), short enough to read in the chat; the table has them all."""
    shown = answer.rows[:LEAD_ROWS]

    def row_text(row: list[Any]) -> str:
        values = [artifacts.shorten(str(cell(v)), LEAD_CELL_CHARS) for v in row]
        return values[0] + (f" ({', '.join(values[1:])})" if len(values) > 1 else "")

    n = len(answer.rows)
    found = (
        "Vector search over the graph" if answer.method == "vector search" else "The graph query"
    )
    more = f"; and {n - len(shown)} more" if n > len(shown) else ""
    return (
        f"{found} returned {n} row{'s' if n != 1 else ''} ({', '.join(answer.columns)}): "
        f"{'; '.join(row_text(r) for r in shown)}{more}."
    )


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


def warm_up(ctx: ToolContext) -> None:
    """Start (or join) the graph server, load the dataset, embed the example bank and have
    the LLM cache the text-to-Cypher prompt's fixed prefix (~1,000 tokens, 15-25 s to read
    here) before the first question."""
    store = open_graph(ctx.settings)
    embed_example_bank(store)
    prime_prompt(store, ctx.chat_model())


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import tool

    @tool(TOOL_NAME, response_format="content_and_artifact")
    def query_knowledge_graph(
        question: str, earlier: Annotated[dict | None, InjectedToolArg] = None
    ) -> tuple[str, dict[str, Any]]:
        """Answer a question about research articles, researchers, co-authors, topics,
        subtopics or publication dates from the knowledge graph, by writing a Cypher query.
        Also finds articles about a theme by meaning (vector search). Read-only."""
        from knowledge.graph_store import GraphStoreError

        try:
            store = open_graph(ctx.settings)
            answer = answer_question(store, ctx.chat_model(), question, Earlier.from_dict(earlier))
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


def _cmd_cypher(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
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
        print(" | ".join(cell(v) for v in row))
    print(f"({len(result.rows)} rows{', cut at the row limit' if result.truncated else ''})")
    return 0


def _cmd_ask_graph(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    from knowledge.graph_store import GraphStoreError

    try:
        store = open_graph(settings)
        answer = answer_question(store, chat_model(), args.question)
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
