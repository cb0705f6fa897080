"""Load a research-article CSV into the knowledge graph.

The CSV schema is the lesson's: `Title;Abstract;Topic;Subtopic;Authors;Publication_Date`,
authors comma-separated, dates `YYYY-MM-DD`. The whole file is validated before anything is
written, and all rows go in one transaction, so a bad file loads nothing.

The graph is shared by every user of the app, so a load only adds: a new article comes with
its researchers, topic and subtopic (merged with the ones already there), and an article
whose title is already in the graph is kept exactly as it is, neither its abstract nor its
authors or topics changed. Loading the same file twice therefore changes nothing. Only the
operator's `genai101 load-graph --replace` rewrites existing articles (it wipes first).

Graph model:
    (:Researcher {name})-[:PUBLISHED]->(:Article {title, abstract, date, year, embedding})
    (:Article)-[:IN_TOPIC]->(:Topic {name})
    (:Article)-[:IN_SUBTOPIC]->(:Subtopic {name})-[:PART_OF]->(:Topic)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ToolInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel

    from core.settings import Settings
    from knowledge.graph_store import GraphStore

COLUMNS = ("Title", "Abstract", "Topic", "Subtopic", "Authors", "Publication_Date")
REQUIRED = ("Title", "Topic", "Subtopic", "Authors", "Publication_Date")
LABELS = ("Article", "Researcher", "Topic", "Subtopic")
DATASET = Path(__file__).with_name("articles.csv")
MAX_REPORTED_ERRORS = 8
# Most articles one file may hold (the lesson's files have 20 and 64). Every new abstract is
# embedded, about 64 a second on two cores, so 5,000 rows is about 80 s and one transaction
# of 5,000 statements: the same bound as a document's chunk cap in knowledge/ingest.py.
MAX_ARTICLES_PER_FILE = 5000

log = logging.getLogger("genai101.graph_load")

# Creates the article only if no article has its title when the statement runs. The loader
# sends only titles it did not find; this also keeps an article that another upload
# committed between that lookup and this write.
ADD_ROW = """
OPTIONAL MATCH (existing:Article {title: $title})
WITH existing WHERE existing IS NULL
CREATE (a:Article {title: $title, abstract: $abstract, date: $date, year: $year,
                   embedding: $embedding})
MERGE (t:Topic {name: $topic})
MERGE (a)-[:IN_TOPIC]->(t)
MERGE (s:Subtopic {name: $subtopic})
MERGE (s)-[:PART_OF]->(t)
MERGE (a)-[:IN_SUBTOPIC]->(s)
WITH a
UNWIND $authors AS author
MERGE (r:Researcher {name: author})
MERGE (r)-[:PUBLISHED]->(a)
"""

WIPE = "MATCH (n) WHERE n:Article OR n:Researcher OR n:Topic OR n:Subtopic DETACH DELETE n"
# One row whatever the number of titles: a read returns at most `cypher_row_limit` rows.
EXISTING_TITLES = "MATCH (a:Article) WHERE a.title IN $titles RETURN collect(a.title) AS titles"


@dataclass(frozen=True)
class ArticleRow:
    title: str
    abstract: str
    topic: str
    subtopic: str
    authors: tuple[str, ...]
    date: str  # ISO date: sorts and compares as text on every backend

    @property
    def year(self) -> int:
        return int(self.date[:4])

    def embedding_text(self) -> str:
        """What the vector index sees: title, topic and abstract, as the lesson embeds."""
        return f"{self.title}. {self.topic}: {self.subtopic}. {self.abstract}"


def parse_articles(path: Path) -> list[ArticleRow]:
    """Read and validate the whole file; raise ToolInputError naming the bad rows.

    A file over `MAX_ARTICLES_PER_FILE` rows is refused as soon as the row past the cap is
    read, and a text the csv module cannot split (a field over its size limit) names its
    row instead of escaping as `_csv.Error`."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolInputError(f"Cannot read {name} as UTF-8 text: {exc}.") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        return _parse_rows(reader, name)
    except csv.Error as exc:
        raise ToolInputError(
            f"{name} was not loaded (nothing was changed): row {reader.line_num}: "
            f"{_csv_problem(exc)}."
        ) from exc


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return (
            f"a field is longer than {csv.field_size_limit():,} characters, the most a CSV "
            "field may hold; this is usually a double quote that is opened and never closed, "
            "which makes the rest of the file one field"
        )
    return f"this is not valid CSV ({exc})"


def _parse_rows(reader: Any, name: str) -> list[ArticleRow]:
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ToolInputError(
            f"{name} lacks the column(s) {', '.join(missing)}. The first line must be "
            f"{';'.join(COLUMNS)} (semicolon-separated)."
        )
    index = {c: header.index(c) for c in COLUMNS}
    rows: list[ArticleRow] = []
    errors: list[str] = []
    first_line_of: dict[str, int] = {}
    seen = 0
    for fields in reader:
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        seen += 1
        if seen > MAX_ARTICLES_PER_FILE:
            raise ToolInputError(
                f"{name} has more than {MAX_ARTICLES_PER_FILE:,} articles, the most one file "
                f"may load. Nothing was loaded: split it into files of at most "
                f"{MAX_ARTICLES_PER_FILE:,} rows (each with the header line) and load them "
                "one after the other."
            )
        row, problem = _parse_row(fields, header, index)
        if problem is None and row is not None and row.title in first_line_of:
            problem = f"repeats the title of row {first_line_of[row.title]}"
        if problem is not None:
            errors.append(f"row {line_no}: {problem}")
        elif row is not None:
            first_line_of[row.title] = line_no
            rows.append(row)
    if errors:
        shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
        more = len(errors) - MAX_REPORTED_ERRORS
        raise ToolInputError(
            f"{name} was not loaded (nothing was changed): {shown}"
            + (f"; and {more} more." if more > 0 else ".")
        )
    if not rows:
        raise ToolInputError(f"{name} has a header but no articles.")
    return rows


def _parse_row(
    fields: list[str], header: list[str], index: dict[str, int]
) -> tuple[ArticleRow | None, str | None]:
    if len(fields) != len(header):
        return None, (
            f"has {len(fields)} fields instead of {len(header)} "
            "(a semicolon inside a text needs the text in double quotes)"
        )
    value = {c: fields[i].strip() for c, i in index.items()}
    empty = [c for c in REQUIRED if not value[c]]
    if empty:
        return None, f"empty {', '.join(empty)}"
    try:
        date = dt.date.fromisoformat(value["Publication_Date"]).isoformat()
    except ValueError:
        return None, f"Publication_Date {value['Publication_Date']!r} is not a YYYY-MM-DD date"
    authors = tuple(dict.fromkeys(a.strip() for a in value["Authors"].split(",") if a.strip()))
    if not authors:
        return None, "no author names in Authors"
    row = ArticleRow(
        value["Title"], value["Abstract"], value["Topic"], value["Subtopic"], authors, date
    )
    return row, None


def graph_counts(store: GraphStore) -> dict[str, int]:
    """Nodes per label and relationships in total: what a load reports and tests compare."""
    counts = {}
    for label in LABELS:
        counts[label] = store.read(f"MATCH (n:{label}) RETURN count(n) AS c").rows[0][0]
    counts["relationships"] = store.read("MATCH ()-[r]->() RETURN count(r) AS c").rows[0][0]
    return counts


def load_articles(
    store: GraphStore, rows: list[ArticleRow], *, replace: bool = False
) -> dict[str, Any]:
    """Add the rows' articles (after a wipe of the graph's labels if replace) in one
    transaction, keeping every article whose title is already in the graph unchanged.

    `added` counts the new articles and `kept` lists the titles left as they were. Kept
    titles are found before embedding, so they cost neither embedding nor a statement.
    """
    from knowledge.embeddings import EMBEDDING_DIM, embed

    found = set() if replace else _existing_titles(store, [r.title for r in rows])
    kept = [r.title for r in rows if r.title in found]
    new = [r for r in rows if r.title not in found]
    vectors = embed([r.embedding_text() for r in new], store.settings)
    statements: list[tuple[str, dict[str, Any]]] = [(WIPE, {})] if replace else []
    for row, vector in zip(new, vectors, strict=True):
        params = {
            "title": row.title,
            "abstract": row.abstract,
            "date": row.date,
            "year": row.year,
            "embedding": [float(x) for x in vector],
            "topic": row.topic,
            "subtopic": row.subtopic,
            "authors": list(row.authors),
        }
        statements.append((ADD_ROW, params))
    store.ensure_vector_index("Article", "embedding", EMBEDDING_DIM)
    if statements:
        store.write(statements)
    return {
        "rows": len(rows),
        "added": len(new),
        "kept": kept,
        "replaced": replace,
        "graph": graph_counts(store),
    }


def _existing_titles(store: GraphStore, titles: list[str]) -> set[str]:
    """Those of `titles` that articles in the graph already have."""
    return set(store.read(EXISTING_TITLES, {"titles": titles}).rows[0][0])


def load_csv(store: GraphStore, path: Path, *, replace: bool = False) -> dict[str, Any]:
    """Validate then load one CSV file; ToolInputError if it is malformed."""
    return load_articles(store, parse_articles(path), replace=replace)


def load_csv_upload(settings: Settings, path: str | Path) -> dict[str, Any]:
    """For the UI's CSV upload: add its new articles to the app's graph, return the counts.

    A graph that cannot be reached or refuses the write becomes a ToolInputError that names
    only the error's type (the server's details go to the log, not to the chat). Retrying is
    safe: the load is one transaction, and articles already in the graph are kept.
    """
    from neo4j.exceptions import DriverError, Neo4jError

    from knowledge.graph_store import GraphStoreError, shared_store

    rows = parse_articles(Path(path))  # before starting anything: a bad file costs nothing
    try:
        return load_articles(shared_store(settings), rows)
    except (GraphStoreError, Neo4jError, DriverError, OSError) as exc:
        log.warning("loading %s into the graph failed", path, exc_info=exc)
        raise ToolInputError(
            f"The article graph could not be reached or refused the load ({type(exc).__name__})."
            " Try again in a minute (articles already in the graph are kept, never doubled); if"
            " it keeps failing, the server log says why."
        ) from exc


def ensure_dataset(store: GraphStore) -> None:
    """Load the project's own dataset into an empty graph, so the tool works on first run."""
    if store.read("MATCH (a:Article) RETURN a.title LIMIT 1").rows:
        return
    load_csv(store, DATASET)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "load-graph", help="load a research-article CSV (Title;Abstract;...) into the graph"
    )
    cmd.add_argument("csv", type=Path, help=f"CSV file (default data: {DATASET.name})")
    cmd.add_argument("--replace", action="store_true", help="wipe the article graph first")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=_cmd_load_graph)


def _cmd_load_graph(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    from knowledge.graph_store import GraphStore, GraphStoreError

    try:
        rows = parse_articles(args.csv)
        with GraphStore.open(settings) as store:
            result = load_articles(store, rows, replace=args.replace)
    except (ToolInputError, GraphStoreError) as exc:
        print(f"genai101 load-graph: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        graph = ", ".join(f"{k}: {v}" for k, v in result["graph"].items())
        kept = f"; kept {len(result['kept'])} already in the graph" if result["kept"] else ""
        print(f"Added {result['added']} articles from {args.csv}{kept}. Graph now has {graph}.")
    return 0
