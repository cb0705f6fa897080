"""Shared fixtures: the real local LLM server (once per session), a real Chainlit server per
test (`agent.launcher.AppProcess`), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from agent.launcher import AppProcess
from agent.llm_server import LocalLLMServer, free_port
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """A script of scripts/ (not a package) as a module, for tests of its functions; it is
    registered under its name, since its dataclasses look their module up by it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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


@pytest.fixture(scope="session")
def llm_settings() -> Iterator[Settings]:
    """The real local LLM on a free port; the model file is assembled once under ./data."""
    settings = Settings.from_env({"data_dir": REPO / "data", "llm_port": free_port()})
    with LocalLLMServer(settings):
        yield settings


@pytest.fixture
def app_server(tmp_path, llm_settings) -> Iterator[callable]:
    started: list[AppProcess] = []

    def make(**env: str) -> AppProcess:
        base = {
            "GENAI101_LLM_PORT": str(llm_settings.llm_port),
            "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40,
            "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
            "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
        }
        server = AppProcess(tmp_path / "app", tmp_path / "data", {**base, **env})
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
