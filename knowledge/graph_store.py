"""The knowledge graph's database: one code path over the official `neo4j` driver.

With `NEO4J_URI` set the store talks to that server (Neo4j, Aura). Without it, the app runs
its own embedded ArcadeDB with the Bolt plugin in a child process on 127.0.0.1, so learners
need no database install: the same driver, the same Cypher. The child's data lives under
`settings.path("graph")` with a generated password beside it, so the graph survives restarts.

What differs between the two backends stays in here: creating the vector index (ArcadeDB
refuses Cypher's `CREATE VECTOR INDEX`, so it gets SQL over its HTTP API) and the index's
name. Querying it is `CALL db.index.vector.queryNodes(name, k, $v)` on both.

Every read passes two gates that must agree it only reads: the static guard in
`knowledge/cypher_guard.py` (the caller's), then the database's own parser here
(`check_read_only`): ArcadeDB's Cypher parser's read-only flag, asked of the embedded
server over a Unix socket, or the query type of Neo4j's `EXPLAIN`. ArcadeDB does not enforce
READ access mode over Bolt; Neo4j does, so READ routing is a third line there. Each read also
has a deadline on both sides: the server's transaction timeout and the client's own wait.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import ToolInputError
from knowledge.cypher_guard import WriteRefused

if TYPE_CHECKING:
    from collections.abc import Callable

    from neo4j import Driver

    from core.settings import Settings

DATABASE = "genai101"
ARCADE_USER = "root"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
HIDDEN_PROPERTIES = frozenset({"embedding"})
# How long past the server's transaction timeout the client still waits for an answer: the
# server should stop the query first, but one that ignores its deadline must not hang us.
CLIENT_GRACE_S = 2.0
MAX_SOCKET_PATH = 100  # bytes: AF_UNIX paths are cut at 104 (macOS) or 108 (Linux)
T = TypeVar("T")


class GraphStoreError(RuntimeError):
    """The graph database cannot be reached or started; the message says what to do."""


class QueryTimeout(ToolInputError):
    """The database did not answer within the client's deadline (a question the model may
    rephrase, like the server's own timeout)."""


@dataclass
class ReadResult:
    """Rows of a read query as JSON-safe values, plus the graph elements they contained."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    # (start label, start name, relationship type, end label, end name) of every relationship
    # or path in the rows: what the UI draws.
    edges: list[tuple[str, str, str, str, str]] = field(default_factory=list)


def node_name(node: Any) -> str:
    """The human name of a node of this graph: `name` for people and topics, else `title`."""
    props = dict(node)
    return str(props.get("name") or props.get("title") or node.element_id)


def _first_label(node: Any) -> str:
    return sorted(node.labels)[0] if node.labels else ""


def to_plain(value: Any, edges: list[tuple[str, str, str, str, str]]) -> Any:
    """A driver value as JSON-safe data; relationships met on the way are appended to edges.

    Embeddings are dropped: 384 floats in a table teach nothing.
    """
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        props = {k: v for k, v in dict(value).items() if k not in HIDDEN_PROPERTIES}
        return {"labels": sorted(value.labels), **props}
    if isinstance(value, Relationship):
        start, end = value.start_node, value.end_node
        if start is not None and end is not None:
            edges.append(
                (
                    _first_label(start),
                    node_name(start),
                    value.type,
                    _first_label(end),
                    node_name(end),
                )
            )
        return {"type": value.type, **dict(value)}
    if isinstance(value, Path):
        return [to_plain(r, edges) for r in value.relationships]
    if isinstance(value, list):
        return [to_plain(v, edges) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v, edges) for k, v in value.items() if k not in HIDDEN_PROPERTIES}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # temporal and spatial values


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def gate_socket(settings: Settings) -> Path:
    """Where the embedded server answers the read-only gate: beside the graph, owner-only."""
    return settings.path("graph", "gate.sock")


def within(seconds: float, work: Callable[[], T]) -> T:
    """work's result, or QueryTimeout after seconds.

    The driver has no deadline of its own on an answer, only the transaction timeout it asks
    the server to keep. work runs in a daemon thread, left to finish on its own if it
    overruns: it cannot hold up the app's exit.
    """
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # re-raised in the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="graph-read", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise QueryTimeout(
            f"The query did not finish within the {seconds:g} s timeout and was abandoned. "
            "Ask for less: add a LIMIT, or match connected patterns instead of unrelated ones."
        )
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _password(path: Path) -> str:
    """The embedded server's root password: generated once, kept owner-readable only."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()


class EmbeddedArcadeDB:
    """ArcadeDB with the Bolt plugin in a child process, stopped with the app.

    The child serves until its stdin closes, so it also stops when this process dies
    without running atexit handlers.
    """

    def __init__(self, settings: Settings) -> None:
        self.root = settings.path("graph", "server")
        self.root.mkdir(parents=True, exist_ok=True)
        self.password_file = settings.path("graph", "password")
        self.log_file = settings.path("graph", "server.log")
        self.bolt_port = settings.graph_bolt_port
        self.http_port = settings.graph_http_port
        self.command_timeout_ms = int(settings.cypher_timeout_s * 1000)
        self.gate_socket = gate_socket(settings)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (ARCADE_USER, _password(self.password_file))

    def start(self) -> None:
        """Start the child and wait until the database answers a query."""
        busy = [p for p in (self.bolt_port, self.http_port) if _port_open(p)]
        if busy:
            raise GraphStoreError(
                f"Port {busy[0]} on 127.0.0.1 is taken by another program, so the embedded graph "
                "database cannot start. Set GENAI101_GRAPH_BOLT_PORT / GENAI101_GRAPH_HTTP_PORT "
                "to free ports, or NEO4J_URI to use a Neo4j server."
            )
        if len(os.fsencode(self.gate_socket)) > MAX_SOCKET_PATH:
            raise GraphStoreError(
                f"The data folder's path is too long for the graph's read-only check socket "
                f"({self.gate_socket}). Set GENAI101_DATA_DIR to a shorter path."
            )
        cfg = {
            "root": str(self.root),
            "password_file": str(self.password_file),
            "database": DATABASE,
            "http_port": self.http_port,
            "bolt_port": self.bolt_port,
            "command_timeout_ms": self.command_timeout_ms,
            "gate_socket": str(self.gate_socket),
        }
        _password(self.password_file)
        self.gate_socket.unlink(missing_ok=True)  # a killed child's: not ready until rebound
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "knowledge._arcade_child", json.dumps(cfg)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,  # ArcadeDB writes ./log relative to its working directory
                start_new_session=True,  # ^C in a terminal goes to the app, which stops us
            )
        atexit.register(self.stop)

    def wait_ready(self, driver: Driver) -> None:
        """Poll until the database answers and its read-only gate listens, or fail with the
        end of the server log."""
        from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                with driver.session(database=DATABASE) as session:
                    session.run("RETURN 1").consume()
                if self.gate_socket.exists():
                    return
                time.sleep(0.1)
            except AuthError as exc:
                self.stop()
                raise GraphStoreError(
                    f"The embedded graph database refused the password in {self.password_file} "
                    f"({exc.message}). If that file was deleted, delete {self.root} too (the "
                    "graph is rebuilt from the CSV on the next start)."
                ) from exc
            except (ServiceUnavailable, Neo4jError, OSError):
                time.sleep(0.3)
        tail = self.log_file.read_text(encoding="utf-8", errors="replace")[-1500:]
        self.stop()
        raise GraphStoreError(f"The embedded graph database did not start. Server log:\n{tail}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Close the child's stdin (it stops cleanly), then terminate, then kill."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        for action in (None, proc.terminate, proc.kill):
            if action is not None:
                action()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
                return
            except subprocess.TimeoutExpired:
                continue


class GraphStore:
    """A driver plus what differs per backend. Use as a context manager, or `shared_store`."""

    def __init__(
        self,
        settings: Settings,
        driver: Driver,
        database: str | None,
        server: EmbeddedArcadeDB | None,
    ) -> None:
        self.settings = settings
        self.driver = driver
        self.database = database
        self.server = server
        self.closed = False

    @classmethod
    def open(cls, settings: Settings) -> GraphStore:
        """Connect to NEO4J_URI, or start (or join) the embedded ArcadeDB server."""
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

        if settings.neo4j_uri:
            driver = GraphDatabase.driver(
                settings.neo4j_uri, auth=(settings.neo4j_username, settings.neo4j_password)
            )
            try:
                driver.verify_connectivity()
            except (ServiceUnavailable, AuthError, Neo4jError, OSError) as exc:
                driver.close()
                raise GraphStoreError(
                    f"Cannot reach the graph database at {settings.neo4j_uri}: {exc}. Check "
                    "NEO4J_URI, NEO4J_USERNAME and NEO4J_PASSWORD, or unset NEO4J_URI to use "
                    "the embedded database."
                ) from exc
            return cls(settings, driver, settings.neo4j_database or None, None)

        server = EmbeddedArcadeDB(settings)
        driver = GraphDatabase.driver(server.uri, auth=server.auth)
        if _port_open(server.bolt_port) and _answers(driver):
            # Our own server, started by another genai101 process (the app while the CLI
            # runs, say): share it and leave stopping it to its owner.
            return cls(settings, driver, DATABASE, None)
        server.start()
        try:
            server.wait_ready(driver)
        except GraphStoreError:
            driver.close()
            raise
        store = cls(settings, driver, DATABASE, server)
        atexit.register(store.close)
        return store

    @property
    def backend(self) -> str:
        return "neo4j" if self.settings.neo4j_uri else "arcadedb"

    def close(self) -> None:
        """Close the driver and stop the embedded server if this store started it."""
        if self.closed:
            return
        self.closed = True
        self.driver.close()
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, cypher: str, params: dict[str, Any] | None = None) -> ReadResult:
        """Run a read query with READ routing, the timeout and the row limit of the settings,
        once the database's parser agreed it only reads (`check_read_only`).

        The timeout binds twice: the server is asked to stop the transaction, and the client
        stops waiting CLIENT_GRACE_S later (QueryTimeout) in case it did not. Only
        `row_limit + 1` records are pulled, to say whether the answer was cut.
        """
        from neo4j import READ_ACCESS, unit_of_work

        limit = self.settings.cypher_row_limit
        timeout = self.settings.cypher_timeout_s

        @unit_of_work(timeout=timeout)
        def work(tx: Any) -> tuple[list[str], list[Any]]:
            result = tx.run(cypher, params or {})
            records = [rec for _, rec in zip(range(limit + 1), result, strict=False)]
            return list(result.keys()), records

        def checked_read() -> tuple[list[str], list[Any]]:
            self.check_read_only(cypher, params)
            with self.driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                return session.execute_read(work)

        columns, records = within(timeout + CLIENT_GRACE_S, checked_read)
        edges: list[tuple[str, str, str, str, str]] = []
        rows = [[to_plain(v, edges) for v in rec.values()] for rec in records[:limit]]
        return ReadResult(columns, rows, len(records) > limit, list(dict.fromkeys(edges)))

    def check_read_only(self, cypher: str, params: dict[str, Any] | None = None) -> None:
        """Nothing if the database's own parser takes cypher for a read; WriteRefused if it
        does not, a ToolInputError (ArcadeDB) or Neo4jError (Neo4j) if it cannot parse it.

        The second gate, independent of the static guard: it asks the parser that will run
        the query, so text the two read differently is refused. Nothing runs: Neo4j plans the
        query under EXPLAIN (query type 'r' is a read; 'rw', 'w' and 's' write), ArcadeDB's
        parser answers over the embedded server's gate socket.
        """
        if self.backend == "neo4j":
            from neo4j import READ_ACCESS, Query

            with self.driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                explain = Query(f"EXPLAIN {cypher}", timeout=self.settings.cypher_timeout_s)
                kind = session.run(explain, params or {}).consume().query_type
            if kind != "r":
                raise WriteRefused(
                    f"Refused: Neo4j plans this query as type {kind!r}, not a read ('r')."
                )
            return
        reply = self._ask_gate(cypher)
        if "error" in reply:
            raise ToolInputError(str(reply["error"]))
        if reply.get("read_only") is not True:
            raise WriteRefused("Refused: ArcadeDB's Cypher parser says this query writes.")

    def _ask_gate(self, cypher: str) -> dict[str, Any]:
        """The embedded server's parser verdict on cypher (see knowledge/_arcade_child.py)."""
        path = gate_socket(self.settings)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.settings.cypher_timeout_s)
                s.connect(str(path))
                s.sendall(json.dumps({"cypher": cypher}).encode() + b"\n")
                with s.makefile("rb") as answer:
                    return json.loads(answer.readline())
        except (OSError, ValueError) as exc:
            # Fail closed: without the parser's word the query does not run.
            raise GraphStoreError(
                f"The embedded graph database's read-only check at {path} did not answer "
                f"({exc}). Restart the app (it restarts the database)."
            ) from exc

    def write(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        """Run write statements in one transaction: all of them or none."""
        from neo4j import WRITE_ACCESS

        def work(tx: Any) -> None:
            for cypher, params in statements:
                tx.run(cypher, params).consume()

        with self.driver.session(database=self.database, default_access_mode=WRITE_ACCESS) as s:
            s.execute_write(work)

    def vector_index_name(self, label: str = "Article", prop: str = "embedding") -> str:
        """The name `db.index.vector.queryNodes` takes for the index on label.prop."""
        return f"{label.lower()}_{prop}" if self.backend == "neo4j" else f"{label}[{prop}]"

    def ensure_vector_index(self, label: str, prop: str, dimensions: int) -> None:
        """Create the cosine vector index on label.prop if it is missing."""
        if self.backend == "neo4j":
            self.write(
                [
                    (
                        f"CREATE VECTOR INDEX {self.vector_index_name(label, prop)} IF NOT EXISTS "
                        f"FOR (n:{label}) ON (n.{prop}) OPTIONS {{indexConfig: {{"
                        f"`vector.dimensions`: {int(dimensions)}, "
                        "`vector.similarity_function`: 'cosine'}}",
                        {},
                    )
                ]
            )
            return
        for command in (
            f"CREATE VERTEX TYPE {label} IF NOT EXISTS",
            f"CREATE PROPERTY {label}.{prop} IF NOT EXISTS ARRAY_OF_FLOATS",
            f"CREATE INDEX IF NOT EXISTS ON {label} ({prop}) LSM_VECTOR "
            f"METADATA {{dimensions: {int(dimensions)}, similarity: 'COSINE'}}",
        ):
            self._arcade_sql(command)

    def _arcade_sql(self, command: str) -> Any:
        """One SQL command through ArcadeDB's HTTP API (schema work Cypher cannot do there)."""
        port = self.settings.graph_http_port
        user, password = self.server.auth if self.server else EmbeddedArcadeDB(self.settings).auth
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/command/{DATABASE}",
            data=json.dumps({"language": "sql", "command": command}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise GraphStoreError(f"ArcadeDB refused {command!r}: {detail}") from exc


def _answers(driver: Driver) -> bool:
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    try:
        with driver.session(database=DATABASE) as session:
            session.run("RETURN 1").consume()
        return True
    except (ServiceUnavailable, Neo4jError, OSError):
        return False


@lru_cache(maxsize=4)
def _cached_store(settings: Settings) -> GraphStore:
    return GraphStore.open(settings)


def shared_store(settings: Settings) -> GraphStore:
    """The process-wide store for these settings, opened on first use, closed at exit.

    The app may call it at startup to start the embedded server early, and
    `shared_store(settings).close()` at shutdown; a later call opens a fresh one, as it does
    when the embedded server died.
    """
    store = _cached_store(settings)
    if store.closed or (store.server is not None and not store.server.alive):
        store.close()  # closed by the app, or the child died: start afresh
        _cached_store.cache_clear()
        store = _cached_store(settings)
    return store
