"""Shared fixtures: the real local LLM server (once per session), a real Chainlit server per
test in its own copy of the app folder, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.llm_server import LocalLLMServer, free_port
from agent.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
APP_FILES = ("app.py", "chainlit.md", ".chainlit", "public")


@pytest.fixture(scope="session")
def llm_settings() -> Iterator[Settings]:
    """The real local LLM on a free port; the model file is assembled once under ./data."""
    settings = Settings.from_env({"data_dir": REPO / "data", "llm_port": free_port()})
    with LocalLLMServer(settings):
        yield settings


class AppServer:
    """`chainlit run app.py` in a copy of the app folder (Chainlit deletes `.files` there on
    shutdown), with its own data folder; stop and start again to test a restart."""

    def __init__(self, root: Path, data_dir: Path, env: dict[str, str]) -> None:
        self.root, self.data_dir, self.port = root, data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GENAI101_DATA_DIR": str(data_dir), **env}
        self.proc: subprocess.Popen | None = None
        self.log = root / "server.log"

    def start(self, timeout_s: float = 180) -> AppServer:
        cmd = [sys.executable, "-m", "chainlit", "run", "app.py", "--headless"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"app did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def app_server(tmp_path, llm_settings) -> Iterator[callable]:
    started: list[AppServer] = []

    def make(**env: str) -> AppServer:
        root = tmp_path / "app"
        root.mkdir()
        for name in APP_FILES:
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        base = {
            "GENAI101_LLM_PORT": str(llm_settings.llm_port),
            "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40,
            "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
            "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
        }
        server = AppServer(root, tmp_path / "data", {**base, **env})
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()
