"""Optional stage 1 of the paraphrase data: the local LLM rewords real sentences.

Why a separate stage: generation is slow (~13 tokens/s here) and not bit-reproducible across
llama.cpp builds, so its output is cached in `knowledge/paraphrase/rewrites.jsonl` (shipped)
and `scripts/build_paraphrase_data.py` reads only that file: the dataset rebuilds offline,
without the LLM, from the same seed.

Sentences come from the offline Wikipedia extracts (`knowledge.wiki_offline`) and the course
corpus (`knowledge/corpus`), chosen with a seed (`source_sentences`). Each prompt holds
one sentence after a few written examples (the 1.5B model copies its input or garbles a
numbered list of several), in one of two styles, alternating:

- `reword`: the same meaning in other words and another structure;
- `condense`: a shorter sentence that keeps every fact (summary style).

The cache is appended to after every call, so a run can be stopped at any time and resumed.
Every reply is kept as it came; the build script filters them (copies, lost names or numbers).

    python scripts/generate_paraphrase_rewrites.py --sentences 400 --minutes 18
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import time
import urllib.request
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


def complete(base_url: str, messages: list[dict[str, str]], max_tokens: int) -> str:
    body = json.dumps(
        {"messages": messages, "temperature": 0.7, "seed": SEED, "max_tokens": max_tokens}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())["choices"][0]["message"]["content"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=360)
    parser.add_argument("--minutes", type=float, default=18.0, help="stop after this long")
    parser.add_argument("--out", type=Path, default=REWRITES_FILE)
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="start later in the list (a second worker uses a "
        "second llama.cpp slot: two sequences decode together for little more than one)",
    )
    args = parser.parse_args(argv)

    from agent.llm_server import LocalLLMServer

    done = set()
    if args.out.exists():
        done = {json.loads(line)["sentence"] for line in args.out.open(encoding="utf-8")}
    todo = [r for r in source_sentences(args.sentences) if r["sentence"] not in done]
    todo = todo[args.skip :]
    print(f"{len(done)} cached, {len(todo)} to rewrite", file=sys.stderr)
    server = LocalLLMServer(Settings.from_env())
    server.start(timeout_s=300)
    deadline = time.monotonic() + args.minutes * 60
    try:
        with args.out.open("a", encoding="utf-8") as out:
            for i, row in enumerate(todo):
                if time.monotonic() > deadline:
                    print("time budget reached", file=sys.stderr)
                    break
                style = STYLES[(i + args.skip) % len(STYLES)]
                t0 = time.perf_counter()
                try:
                    reply = complete(server.base_url, prompt(style, row["sentence"]), 80)
                except (OSError, http.client.HTTPException) as exc:
                    # a shared server can be restarted under us: skip this one, go on
                    print(f"{i}: {exc!r}; restarting the server if needed", file=sys.stderr)
                    server.ensure_running()
                    continue
                rewrite = reply.strip().splitlines()[0].strip().strip('"') if reply.strip() else ""
                out.write(json.dumps(row | {"style": style, "rewrite": rewrite}) + "\n")
                out.flush()
                print(f"{i} {style} {time.perf_counter() - t0:.1f} s: {rewrite}", file=sys.stderr)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
