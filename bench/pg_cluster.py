"""A throwaway PostgreSQL cluster for the tests and the benchmarks that need a real one.

Debian's `postgresql` package (`make test` installs it) keeps its programs out of PATH and
`initdb` refuses to run as root, so the cluster is made in a temporary folder, run as the
`postgres` user when we are root, listens on a free loopback port and trusts local
connections. The product never uses this: it connects to `GENAI101_DATABASE_URL`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agent.llm_server import free_port


class NoPostgres(RuntimeError):
    """Why no cluster could be started here (the caller skips, or says so)."""


def postgres_bin() -> Path | None:
    """The newest installed server's programs."""
    for initdb in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        return initdb.parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A running cluster's URL without a database name (`postgresql://genai101@host:port`),
    stopped and deleted on exit."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise NoPostgres("PostgreSQL is not installed (no initdb): `make test` installs it")
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="genai101-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            raise NoPostgres(
                "running as root and there is no postgres user to run PostgreSQL as"
            ) from None
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -F"
    try:
        for cmd in (
            ["initdb", "-D", data, "-A", "trust", "-U", "genai101", "-E", "UTF8", "--no-sync"],
            ["pg_ctl", "-D", data, "-l", folder / "log", "-w", "-t", "60", "-o", options, "start"],
        ):
            subprocess.run(
                [*run_as, bin_dir / cmd[0], *cmd[1:]], check=True, capture_output=True, text=True
            )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise NoPostgres(
            f"could not start a throwaway PostgreSQL: {exc.stderr.strip()[-300:]}"
        ) from None
    try:
        yield f"postgresql://genai101@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*run_as, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
