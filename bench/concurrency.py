"""Concurrent chat sessions against the real Chainlit app, as Socket.IO clients.

The app runs as `chainlit run app.py` in a temporary copy of the app folder with its own
data folder (the model files linked in, everything else built fresh) and the harness's LLM
server. Each simulated learner logs in like the browser does without configured users
(POST /auth/header sets the access-token cookie), opens a socket on /ws/socket.io and holds
a conversation: it sends a message, waits for the end of its task, then sends the next
(`--turns`, from `CONVERSATIONS`). Afterwards every thread is read back through the REST
API: a turn is "lost" when its user message or a non-empty reply is not in the persisted
thread. Sessions of a level connect first, then all start at once.

With `--processes 2` two app processes serve the learners (learner i talks to process
i mod 2, as a sticky load balancer would place them) on one throwaway PostgreSQL
(`bench.pg_cluster`) and share the one LLM server.

    python -m bench.concurrency [--levels 1,3,10] [--turns 3] [--processes 1|2] [--save NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
RESULTS = REPO / "bench" / "results"
# One per tool and one plain chat, each the start of a conversation: session i holds
# CONVERSATIONS[i % 6], as many turns of it as asked.
CONVERSATIONS = (
    (
        "Hi! In one sentence, what is a transformer?",
        "And what is self-attention, in two sentences?",
        "thanks!",
    ),
    (
        "Find the entities in: Marie Curie won the Nobel Prize in Paris in 1911.",
        "Find the entities in: Ada Lovelace worked with Charles Babbage in London.",
        "what did we just look at?",
    ),
    (
        "Using the course documents, what is dynamic quantization?",
        "and what does static quantization need that dynamic does not?",
        "how big was the BERT model after int8 quantization?",
    ),
    (
        "How many articles did Amara Okafor publish?",
        "which of them is the newest?",
        "who has she co-authored with?",
    ),
    (
        "Show me the attention of BERT on: The cat sat on the mat.",
        "Show me the attention of BERT on: The bank by the river was steep.",
        "what do the heads you showed me tend to learn?",
    ),
    (
        'Do these mean the same? "The company hired Anna." and "Anna was hired by the company."',
        'And these? "Paris is the capital of France." and "France is the capital of Paris."',
        "ok, bye",
    ),
)
PROMPTS = tuple(c[0] for c in CONVERSATIONS)  # the first turns: every tool once


class ChainlitApp:
    """The app in a temporary folder, stopped (and the folder removed) on exit."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.extra_env = env or {}
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
            **self.extra_env,
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


async def kept(http: Any, url: str, token: str, thread_id: str | None, texts: list[str]) -> int:
    """How many of `texts` the persisted thread holds, each with a non-empty reply after it."""
    if not thread_id:
        return 0
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{url}/project/thread/{thread_id}", headers=headers) as r:
        if r.status != 200:
            return 0
        thread = await r.json()
    steps = sorted((thread or {}).get("steps") or [], key=lambda s: s.get("createdAt") or "")
    held, waiting = 0, None
    for step in steps:
        if step["type"] == "user_message" and step.get("output") in texts:
            waiting = step["output"]
        elif step["type"] == "assistant_message" and (step.get("output") or "") and waiting:
            held, waiting = held + 1, None
    return held


async def run_level(urls: list[str], sessions: int, turns: int, progress: bool) -> dict[str, Any]:
    """`sessions` learners connect (learner i to `urls[i % len(urls)]`), then all start their
    conversations at the same moment, each turn sent when its previous one has ended."""
    import aiohttp
    from tqdm import tqdm

    async with aiohttp.ClientSession() as http:
        tokens = {url: await login(http, url) for url in urls}
        places = [urls[i % len(urls)] for i in range(sessions)]
        learners = [Learner(url, tokens[url]) for url in places]
        await asyncio.gather(*(learner.connect() for learner in learners))
        await asyncio.sleep(1.0)  # on_chat_start (chat settings) runs after the connection
        total = sessions * turns
        bar = tqdm(total=total, desc=f"{sessions} sessions", unit="turn", disable=not progress)
        scripts = [list(CONVERSATIONS[i % len(CONVERSATIONS)][:turns]) for i in range(sessions)]

        async def converse(learner: Learner, script: list[str]) -> list[float | BaseException]:
            outcomes: list[float | BaseException] = []
            for text in script:
                try:
                    outcomes.append(await learner.send(text))
                except Exception as exc:  # a timeout or a dropped socket is a result here
                    outcomes.append(exc)
                    break  # the socket is gone or the turn hangs: the rest are not sent
                finally:
                    bar.update()
            return outcomes

        started = time.perf_counter()
        per_learner = await asyncio.gather(
            *(converse(x, script) for x, script in zip(learners, scripts, strict=True))
        )
        wall = time.perf_counter() - started
        bar.close()
        await asyncio.sleep(2.0)  # the data layer writes steps in background tasks
        await asyncio.gather(*(learner.close() for learner in learners), return_exceptions=True)
        held = await asyncio.gather(
            *(
                kept(http, url, tokens[url], x.thread_id, script)
                for x, url, script in zip(learners, places, scripts, strict=True)
            )
        )
    outcomes = [o for per in per_learner for o in per]
    times = [o for o in outcomes if isinstance(o, float)]
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if not isinstance(o, float)]
    by_turn = [
        spread([per[t] for per in per_learner if len(per) > t and isinstance(per[t], float)])
        for t in range(turns)
    ]
    return {
        "sessions": sessions,
        "processes": len(urls),
        "turns": total,
        "completed": len(times),
        "errors": len(errors),
        "error_messages": errors,
        "lost": total - sum(held),
        "turn_seconds": spread(times),
        "turn_seconds_by_position": by_turn,
        "wall_seconds": wall,
    }


@contextlib.contextmanager
def app_processes(settings: Settings, processes: int) -> Any:
    """One app process on its own SQLite, or several on one throwaway PostgreSQL."""
    if processes == 1:
        with ChainlitApp(settings) as app:
            yield [app]
        return
    from bench.pg_cluster import throwaway_postgres
    from knowledge import pg

    with throwaway_postgres() as server, contextlib.ExitStack() as stack:
        with pg.connect(f"{server}/postgres") as con:
            con.execute("CREATE DATABASE genai101")
        env = {"GENAI101_DATABASE_URL": f"{server}/genai101"}
        yield [stack.enter_context(ChainlitApp(settings, env)) for _ in range(processes)]


async def measure_concurrency(
    settings: Settings,
    levels: tuple[int, ...] = LEVELS,
    progress: bool = True,
    turns: int = 1,
    processes: int = 1,
) -> dict[str, Any]:
    """Start the app, warm every tool up with one session per process (not counted), then
    each level."""
    with app_processes(settings, processes) as apps:
        import aiohttp

        urls = [app.url for app in apps]
        warm = []
        async with aiohttp.ClientSession() as http:
            for url in urls:
                learner = Learner(url, await login(http, url))
                await learner.connect()
                warm += [await learner.send(text) for text in PROMPTS]
                await learner.close()
        results = [await run_level(urls, n, turns, progress) for n in levels]
    return {"warmup_seconds": warm, "turns_per_session": turns, "levels": results}


def concurrency_table(result: dict[str, Any]) -> str:
    rows = [
        [
            level.get("processes", 1),
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
    headers = [
        "processes", "sessions", "turns done", "turn med s", "turn p90 s", "wall s", "errors",
        "lost",
    ]  # fmt: skip
    return markdown_table(headers, rows)


async def main(levels: tuple[int, ...], turns: int, processes: int, out: Path) -> int:
    from agent.llm_server import LocalLLMServer
    from bench.report import save

    settings = Settings.from_env({"llm_port": free_port()})
    with LocalLLMServer(settings):
        result = await measure_concurrency(settings, levels, True, turns, processes)
    result["llm"] = {"ctx": settings.llm_ctx, "threads": settings.llm_threads}
    print(concurrency_table(result))
    save(result, out)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)), help="e.g. 1,3,10")
    ap.add_argument(
        "--turns", type=int, default=3, help=f"per learner, at most {len(CONVERSATIONS[0])}"
    )
    ap.add_argument("--processes", type=int, default=1, choices=(1, 2))
    ap.add_argument("--save", default="concurrency", help="results file name, no .json")
    args = ap.parse_args()
    chosen = tuple(int(n) for n in args.levels.split(",") if n)
    out = RESULTS / f"{args.save}.json"
    raise SystemExit(asyncio.run(main(chosen, args.turns, args.processes, out)))
