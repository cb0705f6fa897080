"""Attention lesson: extraction + render time at 10, 30 and 100 tokens, model loaded.

Extraction is tokenize + forward pass with attentions + head summaries; render is the view
props (attention rounded to nested lists), their JSON (what the chat element receives) and
the standalone HTML page. Goal: under 0.5 s in total at 30 tokens.

Run: .venv/bin/python bench/attention_bench.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from core.settings import Settings
from tools.attention import extract_attention, load_model, render_html, view_props

TEXT = "the cat sat on a mat and it was very tired so we let it sleep all day long"


def sentence_of(tokenizer, tokens: int) -> str:
    """A sentence that is exactly `tokens` WordPiece tokens with [CLS] and [SEP]."""
    vocabulary = TEXT.split()
    words = [vocabulary[i % len(vocabulary)] for i in range(tokens - 2)]
    text = " ".join(words)
    assert len(tokenizer(text)["input_ids"]) == tokens
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    settings = Settings.from_env()
    tokenizer, _ = load_model(settings)
    extract_attention(settings, "Warm up the model once.")

    print(f"torch threads {settings.torch_threads}, median of {args.repeats} runs\n")
    print(f"{'tokens':>6} {'extract ms':>11} {'render ms':>10} {'total ms':>9} {'props KB':>9}")
    for tokens in (10, 30, 100):
        text = sentence_of(tokenizer, tokens)
        extract, render, total = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = extract_attention(settings, text)
            t1 = time.perf_counter()
            props = view_props(result, 0, 2, settings.attention_max_tokens)
            payload = json.dumps(props)
            render_html(props)
            t2 = time.perf_counter()
            extract.append(t1 - t0)
            render.append(t2 - t1)
            total.append(t2 - t0)
        print(
            f"{tokens:>6} {1000 * statistics.median(extract):>11.1f} "
            f"{1000 * statistics.median(render):>10.1f} {1000 * statistics.median(total):>9.1f} "
            f"{len(payload) / 1024:>9.0f}"
        )


if __name__ == "__main__":
    main()
