"""The embedded ArcadeDB server, run as a child process of the app.

Started by `knowledge.graph_store.EmbeddedArcadeDB`; not meant to be run by hand. It lives in
its own process because a failed query in an in-process server once left Python hanging at
exit, and because the parent can then always stop it by PID. It serves until its stdin closes
(the parent stopped it, or the parent died) or it gets SIGTERM, then shuts the server down
cleanly so the data folder stays consistent.

Beside Bolt it answers one question on a Unix socket: does ArcadeDB's own Cypher parser
take this statement for a read? That is the read-only guard's second gate, asked of the
parser that will run the query and answered without running anything. One JSON line in,
`{"cypher": ...}`; one JSON line out, `{"read_only": bool}` or `{"error": message}`.

argv[1] is a JSON object: root, password_file, database, http_port, bolt_port,
command_timeout_ms, gate_socket. The password travels in a file, never on the command line
(visible in ps).
"""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def classify(engine: Any, cypher: str) -> dict[str, Any]:
    """ArcadeDB's verdict on one statement, from its parser alone (`analyze` runs nothing).

    `isIdempotent` is the parser's "only reads" flag (the one ArcadeDB's own read-only
    `query()` API enforces); a DDL statement is never a read. A statement it cannot parse is
    an error carrying the parser's innermost message, which the model can repair from.
    """
    import jpype

    try:
        analyzed = engine.analyze(cypher)
        return {"read_only": bool(analyzed.isIdempotent()) and not bool(analyzed.isDDL())}
    except jpype.JException as exc:
        messages = []
        cause = exc
        while cause is not None:
            if cause.getMessage() is not None:
                messages.append(str(cause.getMessage()))
            cause = cause.getCause()
        return {"error": messages[-1] if messages else str(exc)}


def serve_gate(path: Path, engine: Any) -> socketserver.BaseServer:
    """Answer `classify` requests on the Unix socket at path (owner-only), in a thread."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                cypher = str(json.loads(self.rfile.readline())["cypher"])
            except (ValueError, KeyError, TypeError) as exc:
                reply: dict[str, Any] = {"error": f"bad gate request: {exc}"}
            else:
                reply = classify(engine, cypher)
            self.wfile.write(json.dumps(reply).encode() + b"\n")

    path.unlink(missing_ok=True)  # left by a child that was killed
    server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
    server.daemon_threads = True
    path.chmod(0o600)
    threading.Thread(target=server.serve_forever, name="read-only-gate", daemon=True).start()
    return server


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    password = Path(cfg["password_file"]).read_text(encoding="utf-8").strip()

    import arcadedb_embedded as arcadedb
    import jpype
    from arcadedb_embedded.jvm import start_jvm

    start_jvm()
    # The per-command deadline is read from the global configuration, not the server's.
    config = jpype.JClass("com.arcadedb.GlobalConfiguration")
    config.COMMAND_TIMEOUT.setValue(cfg["command_timeout_ms"])
    server = arcadedb.create_server(
        cfg["root"],
        root_password=password,
        config={
            "host": "127.0.0.1",
            "http_port": cfg["http_port"],
            "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "bolt_port": cfg["bolt_port"],
        },
    )
    server.start()
    try:
        # After the JVM started: its own SIGTERM handler would skip our clean stop.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            database = server.get_database(cfg["database"])
        except arcadedb.ArcadeDBError:
            database = server.create_database(cfg["database"])
        engine = database.get_java_database().getQueryEngine("opencypher")
        serve_gate(Path(cfg["gate_socket"]), engine)
        sys.stdin.read()
    finally:
        server.stop()
        Path(cfg["gate_socket"]).unlink(missing_ok=True)
        # A query still running (one that ignored its deadline) keeps a non-daemon JVM
        # thread alive after stop(): leave without waiting for it.
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
