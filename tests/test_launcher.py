"""`genai101 run` as a service manager runs it: SIGTERM to the launcher alone must stop the
app and everything it started (before, they outlived it and kept the port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from agent.llm_server import free_port, port_in_use
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_the_launcher_stops_the_app_and_its_children(tmp_path, llm_settings):
    (tmp_path / "models").symlink_to(REPO / "data" / "models", target_is_directory=True)
    port = free_port()
    env = {
        **os.environ,
        "GENAI101_DATA_DIR": str(tmp_path),
        "GENAI101_PORT": str(port),
        "GENAI101_LLM_PORT": str(llm_settings.llm_port),  # the session's server is adopted
        "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
        "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
    }
    cli = Path(sys.executable).with_name("genai101")
    launcher = subprocess.Popen(
        [str(cli), "run"], cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not start")
        time.sleep(5)  # the app's startup (graph database, warm-up) is under way

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while _group_alive(launcher.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _group_alive(launcher.pid), "a process the app started outlived it"
        assert not port_in_use("127.0.0.1", port)
    finally:
        if _group_alive(launcher.pid):
            os.killpg(launcher.pid, signal.SIGKILL)
