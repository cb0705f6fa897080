"""`genai101 run`: prepare what the app needs, then hand over to Chainlit.

The model is assembled here, with a progress bar in the terminal, so the first start shows
what it is doing; the LLM server itself is started by the app (see app.py's startup)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from agent.llm_server import LLMServerError, LocalLLMServer, assemble_model, port_in_use
from agent.providers import provider_problem
from agent.settings import Settings

APP_ROOT = Path(__file__).resolve().parents[1]


def auth_secret(settings: Settings) -> str:
    """Chainlit signs its session tokens with this; keep one per data folder so logins and
    thread history survive restarts."""
    if settings.auth_secret:
        return settings.auth_secret
    path = settings.path("chat", "auth_secret")
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
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
    try:
        return subprocess.call(cmd, cwd=APP_ROOT, env=env)
    except KeyboardInterrupt:
        return 0
