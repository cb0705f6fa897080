"""Optional stage 1 of the paraphrase data: the local LLM rewords real sentences.

Why a separate stage: generation is slow (~13 tokens/s here) and not bit-reproducible across
llama.cpp builds, so its output is cached in `knowledge/paraphrase/rewrites.jsonl` (shipped)
and `scripts/build_paraphrase_data.py` reads only that file: the dataset rebuilds offline,
without the LLM, from the same seed.

Sentences come from the offline Wikipedia extracts (`knowledge.wiki_offline`) and the course
corpus (`knowledge/corpus`), chosen with a seed (`source_sentences`). Each call holds
`--batch` numbered sentences (default 6) after the written examples shown as one numbered
exchange, in one of two styles, alternating by batch:

- `reword`: the same meaning in other words and another structure;
- `condense`: a shorter sentence that keeps every fact (summary style).

A reply line goes to its sentence by its number only; a missing number leaves that rewrite
empty (kept, dropped by the build script). `--batch 1` is the old one-sentence prompt.
`--workers` sends that many calls at once (llama.cpp slots). The cache is appended to after
every call, so a run can be stopped at any time and resumed; at the end it is rewritten in
the seeded sentence order, so the same replies give the same file whatever the workers'
timing. Every reply is kept as it came; the build script filters them (copies, lost names
or numbers).

    python scripts/generate_paraphrase_rewrites.py --sentences 2400 --minutes 30 --workers 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.settings import Settings
from knowledge.paraphrase_data import REWRITES_FILE, corpus_sentences, wiki_sentences

SEED = 101
SYSTEM = {
    "reword": "You paraphrase one sentence. Write the same meaning with clearly different "
    "words and a different structure. Keep every name, number and date. Reply with the "
    "paraphrase only.",
    "condense": "You shorten one sentence. State the same facts in fewer, different words. "
    "Keep every name, number and date. Reply with the short sentence only.",
}
# Few-shot examples written for this project: the 1.5B model copies its input when only told
# to reword, and mangles numbered lists of several sentences, so each call shows examples
# and rewrites one sentence (llama.cpp caches the shared prefix, so they cost little).
SHOTS = {
    "reword": [
        (
            "The committee approved the new budget on Friday.",
            "On Friday, the new budget was given the committee's approval.",
        ),
        (
            "Because the river flooded, the village was evacuated in 1953.",
            "The village had to be evacuated in 1953 after the river burst its banks.",
        ),
        (
            "Marie Curie was the first woman to win a Nobel Prize.",
            "No woman had won a Nobel Prize before Marie Curie did.",
        ),
        (
            "Most of the city's residents speak two languages.",
            "The majority of people living in the city are bilingual.",
        ),
    ],
    "condense": [
        (
            "The committee, after a long debate that lasted several hours, finally approved "
            "the new budget on Friday.",
            "On Friday the committee approved the new budget.",
        ),
        (
            "Because the river flooded, all of the residents of the village had to be "
            "evacuated in 1953.",
            "A 1953 flood forced the village's evacuation.",
        ),
    ],
}
STYLES = tuple(SYSTEM)


def source_sentences(n: int, seed: int = SEED, corpus_share: float = 0.1) -> list[dict]:
    """`n` sentences for the LLM: a seeded sample, one per article, about a tenth from the
    course corpus so the lesson's own vocabulary appears too."""
    rng = random.Random(seed)
    wiki = wiki_sentences()
    by_article: dict[str, list[str]] = {}
    for origin, s in wiki:
        by_article.setdefault(origin, []).append(s)
    titles = sorted(by_article)
    rng.shuffle(titles)
    n_corpus = int(n * corpus_share)
    picked = [(t, rng.choice(by_article[t])) for t in titles[: n - n_corpus]]
    corpus = corpus_sentences()
    picked += rng.sample(corpus, min(n_corpus, len(corpus)))
    return [{"origin": o, "sentence": s} for o, s in picked]


def prompt(style: str, sentence: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM[style]}]
    for source, rewrite in SHOTS[style]:
        messages += [
            {"role": "user", "content": source},
            {"role": "assistant", "content": rewrite},
        ]
    return [*messages, {"role": "user", "content": sentence}]


# Batched prompts: several numbered sentences per call cut the per-call overhead (prompt
# reading, HTTP, the model's start-up tokens): measured here on a shared machine, 6 sentences
# in one call took 54 s against 28 s for each single call. The examples are the same
# written pairs, shown as one numbered exchange; a reply line is matched to its sentence by
# its number only, and a sentence whose number is missing gets an empty rewrite (kept, and
# dropped by the build script's filter).
BATCH_NOTE = (
    " You get several numbered sentences: rewrite each one on its own, independently of the "
    "others, and reply with one numbered line per sentence, the same numbers, nothing else."
)
EXTRA_CONDENSE_SHOTS = [
    (
        "Marie Curie, who was born in Warsaw, was the first woman to win a Nobel Prize.",
        "Warsaw-born Marie Curie was the first female Nobel laureate.",
    ),
    (
        "Most of the residents of the city are able to speak two different languages.",
        "Most city residents are bilingual.",
    ),
]


def batch_prompt(style: str, sentences: list[str]) -> list[dict[str, str]]:
    shots = SHOTS[style] + (EXTRA_CONDENSE_SHOTS if style == "condense" else [])
    numbered = lambda items: "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))  # noqa: E731
    return [
        {"role": "system", "content": SYSTEM[style] + BATCH_NOTE},
        {"role": "user", "content": numbered([s for s, _ in shots])},
        {"role": "assistant", "content": numbered([r for _, r in shots])},
        {"role": "user", "content": numbered(sentences)},
    ]


def parse_numbered(reply: str, n: int) -> list[str]:
    """Line `k. text` -> slot k-1; missing or repeated numbers leave "" (no guessing)."""
    out = [""] * n
    seen: set[int] = set()
    for line in reply.splitlines():
        m = re.match(r"\s*(\d+)[.)]\s+(.*\S)", line)
        if not m:
            continue
        k = int(m.group(1))
        if 1 <= k <= n and k not in seen:
            seen.add(k)
            out[k - 1] = m.group(2).strip().strip('"')
    return out


def complete(base_url: str, messages: list[dict[str, str]], max_tokens: int) -> str:
    body = json.dumps(
        {"messages": messages, "temperature": 0.7, "seed": SEED, "max_tokens": max_tokens}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())["choices"][0]["message"]["content"]


def sort_cache(path: Path, order: list[dict]) -> None:
    """Rewrite the cache in the seeded sentence order (workers finish in any order), so the
    same cached replies always give the same file."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    rank = {r["sentence"]: i for i, r in enumerate(order)}
    rows.sort(key=lambda r: (rank.get(r["sentence"], -1), r["style"]))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=360)
    parser.add_argument("--minutes", type=float, default=18.0, help="stop after this long")
    parser.add_argument("--out", type=Path, default=REWRITES_FILE)
    parser.add_argument("--batch", type=int, default=6, help="sentences per call (1: one each)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="concurrent calls (llama.cpp slots; the app's server has 3)",
    )
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="start later in the list",
    )
    args = parser.parse_args(argv)

    from agent.llm_server import LocalLLMServer

    done = set()
    if args.out.exists():
        done = {json.loads(line)["sentence"] for line in args.out.open(encoding="utf-8")}
    order = source_sentences(args.sentences)
    todo = [r for r in order if r["sentence"] not in done]
    todo = todo[args.skip :]
    print(f"{len(done)} cached, {len(todo)} to rewrite", file=sys.stderr)
    # styles alternate by position in the seeded list, so a resumed run keeps the same mix
    index = {r["sentence"]: i for i, r in enumerate(order)}
    batches = [todo[i : i + args.batch] for i in range(0, len(todo), args.batch)]
    server = LocalLLMServer(Settings.from_env())
    server.start(timeout_s=300)
    deadline = time.monotonic() + args.minutes * 60
    lock = threading.Lock()

    def run(batch: list[dict]) -> None:
        if time.monotonic() > deadline:
            return
        style = STYLES[(index[batch[0]["sentence"]] // args.batch) % len(STYLES)]
        sentences = [r["sentence"] for r in batch]
        t0 = time.perf_counter()
        try:
            if len(batch) == 1:
                reply = complete(server.base_url, prompt(style, sentences[0]), 80)
                first = reply.strip().splitlines()[0] if reply.strip() else ""
                rewrites = [first.strip().strip('"')]
            else:
                reply = complete(server.base_url, batch_prompt(style, sentences), 70 * len(batch))
                rewrites = parse_numbered(reply, len(batch))
        except (OSError, http.client.HTTPException) as exc:
            # a shared server can be restarted under us: skip this batch, go on
            print(f"{exc!r}; restarting the server if needed", file=sys.stderr)
            with lock:
                server.ensure_running()
            return
        with lock, args.out.open("a", encoding="utf-8") as out:
            for row, rewrite in zip(batch, rewrites, strict=True):
                out.write(json.dumps(row | {"style": style, "rewrite": rewrite}) + "\n")
        dt = time.perf_counter() - t0
        print(f"{index[sentences[0]]} {style} x{len(batch)} {dt:.1f} s", file=sys.stderr)

    try:
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(run, batches))
        if time.monotonic() > deadline:
            print("time budget reached", file=sys.stderr)
    finally:
        server.stop()
        if args.out.exists():
            sort_cache(args.out, order)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
