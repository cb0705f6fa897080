"""Parallel slots of the local llama.cpp server: throughput, first token, memory (issue 16).

llama.cpp batches the sequences of several slots into one decode step, so on a CPU whose
decode is bound by reading the weights, N streams may cost little more than one. Two
questions decide the app's server settings:

* streams: aggregate generation tokens/s and time to first token for 1, 2 and 4
  simultaneous streams on one 4-slot server (the ratios against 1 stream on that same
  server), with 1 and with 2 generation threads, and the resident memory each slot costs;
* realistic context: the app's conversation bench generated at ~7.5 tok/s and read prompts
  at ~35 tok/s, against 11.5-20 and 53-62 for a short prompt. Suspected: with a unified KV
  buffer each decode step attends over every used cell of all slots (masked), so a slot pays
  for the others' cached prompts; and one generation thread leaves a core idle. So slot 0
  gets a ~2,500-token prefix, is timed with ~100 new prompt tokens and 100 generated tokens
  while the other slots are empty, then again after slots 1 and 2 each cache a ~3,000-token
  prompt: unified vs per-slot KV, 1 vs 2 generation threads, flash attention on / off.

Each configuration is a fresh server process (`python -m agent.llm_server`, the app's own
entry point, with its slot, KV and flash-attention options) on a free port; the model's
timings come from the responses' `timings` (`prompt_n`, `cache_n`, `prompt_per_second`,
`predicted_per_second`), first-token times from the client's stream.

    python -m bench.llm_slots [--parts realistic,streams,memory] [--configs NAMES]
                              [--stream-threads 1,2] [--no-fill] [--reps 3] [--out FILE]

All defaults (four realistic configurations, streams with 1 and 2 threads, memory) take
~30 min on the quiet machine, much longer on a busy one; the committed results came from six
shorter invocations (see `note` and `runs` in bench/results/llm_slots.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from agent.llm_server import assemble_model, free_port
from bench.report import machine, markdown_table, spread
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "llm_slots.json"
STREAM_TOKENS = 64
REAL_PREFIX, REAL_NEW, REAL_GEN, REAL_FILL = 2500, 100, 100, 3000

WORDS = [
    "model",
    "token",
    "attention",
    "layer",
    "vector",
    "gradient",
    "batch",
    "cache",
    "prompt",
    "server",
    "query",
    "graph",
    "entity",
    "corpus",
    "index",
    "embedding",
    "decoder",
    "encoder",
    "softmax",
    "weight",
    "learner",
    "lesson",
    "course",
    "question",
    "answer",
    "router",
    "tool",
    "memory",
    "thread",
    "kernel",
    "matrix",
    "sequence",
    "context",
    "window",
]


def filler(seed: int, n_words: int) -> str:
    """Deterministic prose-like text, different for each seed (so no two prompts share a
    prefix beyond the chat template)."""
    out, x = [], seed * 7919 + 17
    for i in range(n_words):
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append(WORDS[x % len(WORDS)])
        if i % 12 == 11:
            out.append(f"({seed}.{i}).")
    return " ".join(out)


class Server:
    """One `python -m agent.llm_server` child with the given options, killed on exit."""

    def __init__(self, model: Path, **opts: Any) -> None:
        self.opts = opts
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="llm-slots-", suffix=".log")[1])
        args = [sys.executable, "-m", "agent.llm_server", str(model), str(self.port)]
        args += ["--ctx", str(opts["ctx"]), "--threads", str(opts["threads"])]
        args += ["--batch-threads", "2", "--parallel", str(opts["parallel"])]
        args += [] if opts.get("unified", True) else ["--no-unified"]
        args += ["--flash-attn", opts.get("flash_attn", "auto")]
        self.args = args

    def __enter__(self) -> Server:
        t0 = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        while time.perf_counter() - t0 < 120:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if self.get("/health").get("status") == "ok":
                    self.ready_s = time.perf_counter() - t0
                    return self
            except OSError:
                pass
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError("server not ready in 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.unlink(missing_ok=True)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def slot_line(self) -> str:
        m = re.search(r"n_slots = \d+, n_ctx_slot = \d+, kv_unified = '\w+'", self.log.read_text())
        return m.group(0) if m else "?"

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=900) as r:
            return json.loads(r.read())

    def text_of(self, seed: int, n_tokens: int) -> str:
        """Filler text cut to exactly n_tokens tokens."""
        tokens = self.post("/tokenize", {"content": filler(seed, n_tokens)})["tokens"]
        assert len(tokens) >= n_tokens
        return self.post("/detokenize", {"tokens": tokens[:n_tokens]})["content"]

    def chat(self, messages: list[dict], slot: int, max_tokens: int) -> dict:
        """One streamed chat completion on a slot: client first-token and total seconds and
        the server's timings (from the last chunk)."""
        body = {
            "model": "local", "messages": messages, "stream": True, "max_tokens": max_tokens,
            "temperature": 0, "ignore_eos": True, "id_slot": slot, "cache_prompt": True,
        }  # fmt: skip
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/chat/completions", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        start, first, timings = time.perf_counter(), None, {}
        with urllib.request.urlopen(req, timeout=900) as r:
            for raw in r:
                line = raw.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                delta = (chunk.get("choices") or [{}])[0].get("delta", {})
                if first is None and delta.get("content"):
                    first = time.perf_counter() - start
                timings = chunk.get("timings", timings)
        end = time.perf_counter()
        return {"first_token_s": first, "start": start, "end": end,
                "seconds": end - start, "timings": timings}  # fmt: skip


def _t(run: dict, key: str) -> float:
    return float(run["timings"].get(key, float("nan")))


def concurrent(srv: Server, texts: list[str]) -> list[dict]:
    """One streamed request per text, all at once, text i on slot i."""
    runs: list[dict] = [{}] * len(texts)

    def go(i: int) -> None:
        runs[i] = srv.chat([{"role": "user", "content": texts[i]}], i, STREAM_TOKENS)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return runs


def measure_streams(model: Path, threads: int, reps: int) -> dict:
    """1, 2 and 4 simultaneous streams on one 4-slot server: short distinct prompts, 64
    generated tokens each."""
    with Server(model, ctx=16384, threads=threads, parallel=4) as srv:
        out: dict[str, Any] = {"config": srv.opts, "slots": srv.slot_line(),
                               "rss_load_mib": srv.rss_mib(), "load_start": os.getloadavg()}  # fmt: skip
        prompts = [srv.text_of(100 + i, 60) for i in range(4 * (reps + 1) * 3)]
        srv.chat([{"role": "user", "content": "warm up"}], 0, 4)
        k = 0
        for n in (1, 2, 4):
            rounds = []
            for _ in range(reps):
                runs = concurrent(srv, prompts[k : k + n])
                k += n
                wall = max(r["end"] for r in runs) - min(r["start"] for r in runs)
                gen = sum(_t(r, "predicted_n") for r in runs)
                gen_wall = wall - statistics.median(r["first_token_s"] for r in runs)
                rounds.append({
                    "wall_s": wall, "aggregate_tok_s": gen / wall,
                    "aggregate_gen_tok_s": gen / gen_wall,
                    "first_token_s": statistics.median(r["first_token_s"] for r in runs),
                    "per_stream_gen_tok_s": statistics.median(
                        _t(r, "predicted_per_second") for r in runs),
                })  # fmt: skip
            out[str(n)] = {key: spread([r[key] for r in rounds]) for key in rounds[0]}
            out[str(n)]["rounds"] = rounds
        out["rss_end_mib"] = srv.rss_mib()
        out["load_end"] = os.getloadavg()
    base = out["1"]["aggregate_gen_tok_s"]["median"]
    for n in ("2", "4"):
        out[n]["speedup_vs_1"] = out[n]["aggregate_gen_tok_s"]["median"] / base
    return out


def measure_memory(model: Path) -> list[dict]:
    """RSS after load for 1, 2 and 4 per-slot KV streams of 8,192 tokens each, and after one
    slot caches a 300-token prompt."""
    rows = []
    for n in (1, 2, 4):
        with Server(model, ctx=8192 * n, threads=1, parallel=n, unified=False) as srv:
            load = srv.rss_mib()
            srv.chat([{"role": "user", "content": srv.text_of(7, 300)}], 0, 1)
            rows.append({"parallel": n, "slots": srv.slot_line(), "ready_s": srv.ready_s,
                         "rss_load_mib": load, "rss_filled_mib": srv.rss_mib()})  # fmt: skip
    return rows


def measure_realistic(model: Path, opts: dict, reps: int, fill: bool = True) -> dict:
    """Slot 0: a cached ~2,500-token prefix plus ~100 new tokens, 100 generated, timed with
    the other slots empty and then each holding a ~3,000-token cached prompt."""
    with Server(model, **opts) as srv:
        out: dict[str, Any] = {"config": srv.opts, "slots": srv.slot_line(),
                               "rss_load_mib": srv.rss_mib(), "load_start": os.getloadavg()}  # fmt: skip
        system = {"role": "system", "content": srv.text_of(1, REAL_PREFIX)}
        questions = [srv.text_of(50 + i, REAL_NEW) for i in range(2 * reps)]
        t0 = time.perf_counter()
        srv.chat([system, {"role": "user", "content": "Hi"}], 0, 1)
        out["prefix_s"] = time.perf_counter() - t0

        def timed(qs: list[str]) -> dict:
            runs = [srv.chat([system, {"role": "user", "content": q}], 0, REAL_GEN) for q in qs]
            res = {
                "first_token_s": spread([r["first_token_s"] for r in runs]),
                "prompt_tok_s": spread([_t(r, "prompt_per_second") for r in runs]),
                "gen_tok_s": spread([_t(r, "predicted_per_second") for r in runs]),
                "prompt_n": [_t(r, "prompt_n") for r in runs],
                "cache_n": [_t(r, "cache_n") for r in runs],
            }
            res["runs"] = [r["timings"] for r in runs]
            return res

        out["empty"] = timed(questions[:reps])
        if not fill:
            out["load_end"] = os.getloadavg()
            return out
        t0 = time.perf_counter()
        for slot in (1, 2):
            fill = {"role": "system", "content": srv.text_of(10 + slot, REAL_FILL)}
            srv.chat([fill, {"role": "user", "content": "Hi"}], slot, 1)
        out["fill_s"] = time.perf_counter() - t0
        out["rss_filled_mib"] = srv.rss_mib()
        out["filled"] = timed(questions[reps:])
        out["load_end"] = os.getloadavg()
    return out


REALISTIC = {
    "unified t1 (today)": {"ctx": 16384, "threads": 1, "parallel": 3},
    "unified t2": {"ctx": 16384, "threads": 2, "parallel": 3},
    "per-slot t1": {"ctx": 24576, "threads": 1, "parallel": 3, "unified": False},
    "per-slot t2": {"ctx": 24576, "threads": 2, "parallel": 3, "unified": False},
    "unified t1 fa-on": {"ctx": 16384, "threads": 1, "parallel": 3, "flash_attn": "on"},
    "unified t1 fa-off": {"ctx": 16384, "threads": 1, "parallel": 3, "flash_attn": "off"},
    "unified t2 fa-on": {"ctx": 16384, "threads": 2, "parallel": 3, "flash_attn": "on"},
}


def report(res: dict) -> str:
    lines = []
    if "streams" in res:
        rows = []
        for th, s in res["streams"].items():
            for n in ("1", "2", "4"):
                rows.append([th, n, s[n]["aggregate_gen_tok_s"]["median"],
                             s[n].get("speedup_vs_1", 1.0), s[n]["per_stream_gen_tok_s"]["median"],
                             s[n]["first_token_s"]["median"], s[n]["wall_s"]["median"]])  # fmt: skip
        lines += ["Streams (4-slot unified server, 60-token prompts, 64 tokens each):",
                  markdown_table(["gen threads", "streams", "aggregate gen tok/s", "x 1 stream",
                                  "per-stream tok/s", "first token s", "wall s"], rows), ""]  # fmt: skip
    if "memory" in res:
        rows = [[m["parallel"], m["slots"], m["rss_load_mib"], m["rss_filled_mib"]]
                for m in res["memory"]]  # fmt: skip
        lines += ["Memory (per-slot KV, 8,192 tokens a slot):",
                  markdown_table(["slots", "server log", "RSS load MiB", "RSS +300-token prompt MiB"],
                                 rows), ""]  # fmt: skip
    if "realistic" in res:
        rows = []
        for name, r in res["realistic"].items():
            for state in ("empty", "filled"):
                if state in r:
                    s = r[state]
                    rows.append([name, state, s["prompt_tok_s"]["median"], s["gen_tok_s"]["median"],
                                 s["first_token_s"]["median"], statistics.median(s["prompt_n"]),
                                 statistics.median(s["cache_n"])])  # fmt: skip
        lines += ["Realistic context (slot 0: 2,500 cached + 100 new tokens, 100 generated; "
                  "filled = slots 1, 2 each hold a 3,000-token cached prompt):",
                  markdown_table(["config", "other slots", "prompt tok/s", "gen tok/s",
                                  "first token s", "prompt_n", "cache_n"], rows)]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="realistic,streams,memory")
    ap.add_argument(
        "--configs",
        default=",".join(list(REALISTIC)[:4]),
        help=f"realistic configs, comma-separated, of: {', '.join(REALISTIC)}",
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-fill", action="store_true", help="realistic: empty other slots only")
    ap.add_argument("--stream-threads", default="1,2", help="generation threads, streams part")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    model = assemble_model(Settings.from_env({}), progress=False)
    res: dict[str, Any] = {"machine": machine(), "reps": a.reps,
                           "load_before": {"uptime": subprocess.run(
                               ["uptime"], capture_output=True, text=True).stdout.strip(),
                               "top": subprocess.run(["ps", "aux", "--sort=-%cpu"],
                                   capture_output=True, text=True).stdout.splitlines()[:6]}}  # fmt: skip
    t_start = time.perf_counter()

    def save() -> None:
        res["seconds"] = time.perf_counter() - t_start
        res["load_after"] = os.getloadavg()
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1, default=str))

    parts = a.parts.split(",")
    for part in parts:
        if part == "realistic":
            res["realistic"] = {}
            for name in a.configs.split(","):
                t0 = time.perf_counter()
                res["realistic"][name] = measure_realistic(
                    model, REALISTIC[name], a.reps, not a.no_fill
                )
                print(f"[{time.strftime('%H:%M:%S')}] realistic {name}: "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
                save()
        elif part == "streams":
            res["streams"] = {}
            for th in map(int, a.stream_threads.split(",")):
                res["streams"][str(th)] = measure_streams(model, th, a.reps)
                print(f"[{time.strftime('%H:%M:%S')}] streams t{th}", flush=True)
                save()
        elif part == "memory":
            res["memory"] = measure_memory(model)
            save()
    print(report(res))
    save()
    print(f"\nsaved {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
