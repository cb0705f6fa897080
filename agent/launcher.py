"""`genai101 run`: prepare what the app needs, then hand over to Chainlit.

The model is assembled here, with a progress bar in the terminal, so the first start shows
what it is doing; the LLM server itself is started by the app (see app.py's startup)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agent.llm_server import (
    LLMServerError,
    LocalLLMServer,
    assemble_model,
    free_port,
    port_in_use,
)
from agent.providers import provider_problem
from core.settings import Settings, private_file

APP_ROOT = Path(__file__).resolve().parents[1]
APP_FILES = ("app.py", "chainlit.md", ".chainlit", "public")
SHUTDOWN_S = 30  # closing the LLM server, graph database and history takes a few seconds


def auth_secret(settings: Settings) -> str:
    """Chainlit signs its session tokens with this; keep one per data folder so logins and
    thread history survive restarts."""
    if settings.auth_secret:
        return settings.auth_secret
    path = settings.path("chat", "auth_secret")
    if not path.exists():
        private_file(path, secrets.token_urlsafe(48).encode())
    return path.read_text().strip()


def run_app(settings: Settings) -> int:
    problem = provider_problem(settings)
    if problem:
        print(f"genai101: {problem}", file=sys.stderr)
        return 2
    if port_in_use(settings.host, settings.port):
        print(
            f"genai101: port {settings.port} is already in use: stop the other program or "
            "run `genai101 run --port N` (or set GENAI101_PORT).",
            file=sys.stderr,
        )
        return 2
    if settings.provider == "local":
        conflict = LocalLLMServer(settings).port_conflict()
        if conflict:
            print(f"genai101: {conflict}", file=sys.stderr)
            return 2
        try:
            assemble_model(settings)
        except LLMServerError as exc:
            print(f"genai101: {exc}", file=sys.stderr)
            return 2
    env = dict(os.environ)
    env["CHAINLIT_AUTH_SECRET"] = auth_secret(settings)
    env["GENAI101_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    env["GENAI101_PORT"] = str(settings.port)
    cmd = [
        sys.executable, "-m", "chainlit", "run", "app.py", "--headless",
        "--host", settings.host, "--port", str(settings.port),
    ]  # fmt: skip
    print(f"genai101: starting on http://{settings.host}:{settings.port}", flush=True)
    app = subprocess.Popen(cmd, cwd=APP_ROOT, env=env)
    # A service manager stops us with SIGTERM to this process alone: pass it on, or the app,
    # its LLM server and graph database outlive us and keep their ports.
    signal.signal(signal.SIGTERM, lambda signum, _: app.send_signal(signum))
    try:
        return app.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the app too: let it shut down cleanly
        try:
            app.wait(timeout=SHUTDOWN_S)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):  # or a second Ctrl-C
            app.kill()
        return 0


class AppProcess:
    """The app as its own process, from a copy of the app folder (Chainlit deletes `.files`
    there on shutdown) with its own data folder and port: for tests and benchmarks."""

    def __init__(self, root: Path, data_dir: Path, env: dict[str, str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for name in APP_FILES:
            src, dst = APP_ROOT / name, root / name
            if not dst.exists():
                (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
        self.root, self.data_dir, self.port = root, data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GENAI101_DATA_DIR": str(data_dir), **env}
        self.proc: subprocess.Popen | None = None
        self.log = root / "server.log"

    def start(self, timeout_s: float = 180) -> AppProcess:
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
                raise RuntimeError(f"the app exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
