"""Concurrent chat sessions against the real Chainlit app, as Socket.IO clients.

The app runs as `chainlit run app.py` in a temporary copy of the app folder with its own
data folder (the model files linked in, everything else built fresh) and the harness's LLM
server. Each simulated learner logs in like the browser does without configured users
(POST /auth/header sets the access-token cookie), opens a socket on /ws/socket.io, sends one
message and waits for the end of its task. Afterwards every thread is read back through the
REST API: a turn is "lost" when its user message or a non-empty reply is not in the
persisted thread. Sessions of a level connect first, then all send at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from agent.launcher import AppProcess
from agent.llm_server import free_port
from bench.report import markdown_table, spread
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = ("models",)  # read-only model files: linked, not rebuilt
LEVELS = (1, 3, 10)
TURN_TIMEOUT_S = 900.0
# One per tool and one plain chat; session i sends PROMPTS[i % 6].
PROMPTS = (
    "Hi! In one sentence, what is a transformer?",
    "Find the entities in: Marie Curie won the Nobel Prize in Paris in 1911.",
    "Using the course documents, what is dynamic quantization?",
    "How many articles did Amara Okafor publish?",
    "Show me the attention of BERT on: The cat sat on the mat.",
    'Do these mean the same? "The company hired Anna." and "Anna was hired by the company."',
)


class ChainlitApp:
    """The app in a temporary folder, stopped (and the folder removed) on exit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tmp = Path(tempfile.mkdtemp(prefix="genai101-bench-app-"))

    def __enter__(self) -> AppProcess:
        data = self.tmp / "data"
        data.mkdir()
        source_data = Path(self.settings.data_dir).resolve()
        for name in SHARED_DATA:
            if (source_data / name).exists():
                (data / name).symlink_to(source_data / name)
        env = {
            "GENAI101_LLM_PORT": str(self.settings.llm_port),
            "GENAI101_USERS": "",
            "CHAINLIT_AUTH_SECRET": "bench-secret-" + uuid.uuid4().hex * 2,
            "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
            "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
            "PYTHONPATH": str(REPO),
        }
        self.app = AppProcess(self.tmp / "app", data, env)
        try:
            return self.app.start(240.0)
        except RuntimeError:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def __exit__(self, *exc: object) -> None:
        self.app.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


async def login(http: Any, url: str) -> str:
    """The access token the header-auth login sets as a cookie (the app's one local user)."""
    async with http.post(f"{url}/auth/header") as r:
        r.raise_for_status()
        return r.cookies["access_token"].value


class Learner:
    """One browser tab: a Socket.IO session that sends a message and waits for its task."""

    def __init__(self, url: str, token: str) -> None:
        import socketio

        self.url, self.token = url, token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.thread_id: str | None = None
        self.done = asyncio.Event()
        self.state = "idle"  # idle -> sent -> started (task_start seen) -> idle
        self.sio.on("first_interaction", self._first_interaction)
        self.sio.on("task_start", self._task_start)
        self.sio.on("task_end", self._task_end)

    async def _first_interaction(self, data: dict[str, Any]) -> None:
        self.thread_id = data.get("thread_id")

    async def _task_start(self, *args: Any) -> None:
        if self.state == "sent":
            self.state = "started"

    async def _task_end(self, *args: Any) -> None:
        """Only the end of the task our message started: the server also sends a task_end
        when the socket connects, which may arrive after the message was sent."""
        if self.state == "started":
            self.state = "idle"
            self.done.set()

    async def connect(self) -> None:
        auth = {
            "sessionId": str(uuid.uuid4()),
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": None,
            "threadId": None,
        }
        await self.sio.connect(
            self.url,
            socketio_path="/ws/socket.io",
            headers={"Cookie": f"access_token={self.token}"},
            auth=auth,
            transports=["websocket"],
        )
        await self.sio.emit("connection_successful")

    async def send(self, text: str) -> float:
        """Seconds from sending to the end of the task the message started."""
        message = {
            "id": str(uuid.uuid4()),
            "threadId": "",
            "name": "learner",
            "type": "user_message",
            "output": text,
            "createdAt": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
        self.done.clear()
        self.state = "sent"
        started = time.perf_counter()
        await self.sio.emit("client_message", {"message": message, "fileReferences": []})
        await asyncio.wait_for(self.done.wait(), TURN_TIMEOUT_S)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.sio.disconnect()


async def kept(http: Any, url: str, token: str, thread_id: str | None, text: str) -> bool:
    """Whether the persisted thread holds the user's message and a non-empty reply."""
    if not thread_id:
        return False
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{url}/project/thread/{thread_id}", headers=headers) as r:
        if r.status != 200:
            return False
        thread = await r.json()
    steps = (thread or {}).get("steps") or []
    asked = any(s["type"] == "user_message" and s.get("output") == text for s in steps)
    answered = any(s["type"] == "assistant_message" and (s.get("output") or "") for s in steps)
    return asked and answered


async def run_level(url: str, sessions: int, progress: bool) -> dict[str, Any]:
    """`sessions` learners connect, then send one message each at the same moment."""
    import aiohttp
    from tqdm import tqdm

    async with aiohttp.ClientSession() as http:
        token = await login(http, url)
        learners = [Learner(url, token) for _ in range(sessions)]
        await asyncio.gather(*(learner.connect() for learner in learners))
        await asyncio.sleep(1.0)  # on_chat_start (chat settings) runs after the connection
        bar = tqdm(total=sessions, desc=f"{sessions} sessions", unit="turn", disable=not progress)
        texts = [PROMPTS[i % len(PROMPTS)] for i in range(sessions)]

        async def one(learner: Learner, text: str) -> float | BaseException:
            try:
                return await learner.send(text)
            except Exception as exc:  # a timeout or a dropped socket is a result here
                return exc
            finally:
                bar.update()

        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(x, t) for x, t in zip(learners, texts, strict=True)))
        wall = time.perf_counter() - started
        bar.close()
        await asyncio.sleep(2.0)  # the data layer writes steps in background tasks
        await asyncio.gather(*(learner.close() for learner in learners), return_exceptions=True)
        checks = await asyncio.gather(
            *(kept(http, url, token, x.thread_id, t) for x, t in zip(learners, texts, strict=True))
        )
    times = [o for o in outcomes if isinstance(o, float)]
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if not isinstance(o, float)]
    return {
        "sessions": sessions,
        "turns": sessions,
        "completed": len(times),
        "errors": len(errors),
        "error_messages": errors,
        "lost": sum(1 for ok in checks if not ok),
        "turn_seconds": spread(times),
        "wall_seconds": wall,
    }


async def measure_concurrency(
    settings: Settings, levels: tuple[int, ...] = LEVELS, progress: bool = True
) -> dict[str, Any]:
    """Start the app, warm every tool up with one session (not counted), then each level."""
    with ChainlitApp(settings) as app:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            learner = Learner(app.url, await login(http, app.url))
            await learner.connect()
            warm = [await learner.send(text) for text in PROMPTS]
            await learner.close()
        results = [await run_level(app.url, n, progress) for n in levels]
    return {"warmup_seconds": warm, "levels": results}


def concurrency_table(result: dict[str, Any]) -> str:
    rows = [
        [
            level["sessions"],
            f"{level['completed']}/{level['turns']}",
            level["turn_seconds"]["median"],
            level["turn_seconds"]["p90"],
            level["wall_seconds"],
            level["errors"],
            level["lost"],
        ]
        for level in result["levels"]
    ]
    headers = ["sessions", "completed", "turn med s", "turn p90 s", "wall s", "errors", "lost"]
    return markdown_table(headers, rows)
