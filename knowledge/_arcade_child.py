"""The embedded ArcadeDB server, run as a child process of the app.

Started by `knowledge.graph_store.EmbeddedArcadeDB`; not meant to be run by hand. It lives in
its own process because a failed query in an in-process server once left Python hanging at
exit, and because the parent can then always stop it by PID. It serves until its stdin closes
(the parent stopped it, or the parent died) or it gets SIGTERM, then shuts the server down
cleanly so the data folder stays consistent.

argv[1] is a JSON object: root, password_file, database, http_port, bolt_port,
command_timeout_ms. The password travels in a file, never on the command line (visible in ps).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


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
            server.get_database(cfg["database"])
        except arcadedb.ArcadeDBError:
            server.create_database(cfg["database"])
        sys.stdin.read()
    finally:
        server.stop()
        # A query still running (one that ignored its deadline) keeps a non-daemon JVM
        # thread alive after stop(): leave without waiting for it.
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
