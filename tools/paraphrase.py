"""The paraphrase lesson as a tool: "do these two sentences mean the same?"

A BERT pair classifier (all-MiniLM-L6-v2 fine-tuned on the project's hard pairs) answers.
By default the int8 ONNX model shipped in `knowledge/paraphrase/model-int8/` (works on a
fresh machine, no torch needed); on request the fp32 model that
`scripts/finetune_paraphrase.py` saves under the data folder, so the learner can compare the
two, and the stored quantization benchmark shows what int8 costs and saves.

Both models get the same token ids, built here the way BERT reads a pair:
`[CLS] sentence 1 [SEP] sentence 2 [SEP]`, segment 0 then 1, cut to `MAX_LENGTH` tokens by
trimming the longer sentence first (the "longest first" rule of Hugging Face tokenizers).

What the model weighed, two ways, both shown: the last layer's attention from [CLS] (the
vector the classification head reads; the shipped ONNX model returns it as a second output,
`cls_attention`), and the change in P(paraphrase) when each word is removed. Attention is
where the model looked; removal is what changed its mind, the causal test of the two.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import ToolInputError
from knowledge.paraphrase_data import PARAPHRASE_DIR, SHIPPED_MODEL_DIR, fp32_model_dir
from tools import artifacts

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from core.settings import Settings
    from tools import ToolContext

LESSON = {
    "title": "Paraphrase detection",
    "shows": "whether two sentences mean the same, by a small BERT fine-tuned for it and "
    "quantized to int8, with its probability and the fp32 model to compare",
    "example": 'Do these mean the same? "The company hired Anna." and "Anna was hired by the '
    'company."',
}
MAX_LENGTH = 128
PUNCTUATION = ".,;:!?\"'()"
ModelChoice = Literal["int8", "fp32"]
MODEL_NAMES = {"int8": "int8 (ONNX Runtime)", "fp32": "fp32 (PyTorch)"}
BENCHMARK_JSON = PARAPHRASE_DIR / "quantization.json"
BASELINE_JSON = PARAPHRASE_DIR / "bench.json"
BENCHMARK_PNGS = {
    "latency vs accuracy": PARAPHRASE_DIR / "quantization_tradeoff.png",
    "weights fp32 vs int8": PARAPHRASE_DIR / "quantization_weights.png",
}


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    token_type_ids: list[int]
    tokens_before: int  # length of the full pair before cutting

    @property
    def truncated(self) -> bool:
        return self.tokens_before > len(self.input_ids)


@dataclass(frozen=True)
class Verdict:
    label: str  # "paraphrase" | "not paraphrase"
    probability: float  # P(paraphrase)
    model: str  # which model answered
    latency_ms: float  # the model's forward pass, tokenization excluded
    tokens: int
    truncated: bool
    notes: tuple[str, ...] = ()
    # (token, sentence 0/1, last-layer attention from [CLS], mean over heads), in order
    attention: tuple[tuple[str, int, float], ...] = ()


@dataclass(frozen=True)
class WordEffect:
    word: str
    sentence: int  # 1 or 2
    without: float  # P(paraphrase) with this word removed
    change: float  # without - P(paraphrase) of the full pair


@lru_cache(maxsize=2)
def _tokenizer(folder: Path):
    """The fast tokenizer from `tokenizer.json` alone: no transformers import on the int8 path."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def encode_pair(folder: Path, sentence1: str, sentence2: str, max_length: int) -> Encoded:
    tok = _tokenizer(folder)
    a = tok.encode(sentence1, add_special_tokens=False).ids
    b = tok.encode(sentence2, add_special_tokens=False).ids
    before = len(a) + len(b) + 3
    budget = max_length - 3
    while len(a) + len(b) > budget:  # longest first: trim the longer sentence's tail
        if len(a) >= len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    ids = [cls, *a, sep, *b, sep]
    return Encoded(ids, [0] * (len(a) + 2) + [1] * (len(b) + 1), before)


@lru_cache(maxsize=2)
def _onnx_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _torch_model(folder: Path):
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a loading bar would garble the CLI's output
    # eager attention: under sdpa, output_attentions comes back empty
    return AutoModelForSequenceClassification.from_pretrained(
        folder, attn_implementation="eager"
    ).eval()


Forward = tuple[list[float], float, list[float]]  # logits, ms, attention from [CLS]


def _logits_int8(settings: Settings, enc: Encoded) -> Forward:
    import numpy as np

    session = _onnx_session(SHIPPED_MODEL_DIR / "model.onnx", settings.torch_threads)
    feed = {
        "input_ids": np.array([enc.input_ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(enc.input_ids)), dtype=np.int64),
        "token_type_ids": np.array([enc.token_type_ids], dtype=np.int64),
    }
    outputs = [o.name for o in session.get_outputs()]
    start = time.perf_counter()
    result = session.run(outputs, feed)
    ms = (time.perf_counter() - start) * 1000
    # an older model file without the attention output still answers
    attention = result[1][0].tolist() if len(result) > 1 else []
    return result[0][0].tolist(), ms, attention


def _logits_fp32(settings: Settings, folder: Path, enc: Encoded) -> Forward:
    import torch

    torch.set_num_threads(settings.torch_threads)
    model = _torch_model(folder)
    ids = torch.tensor([enc.input_ids])
    with torch.inference_mode():
        start = time.perf_counter()
        out = model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            token_type_ids=torch.tensor([enc.token_type_ids]),
            output_attentions=True,
        )
        elapsed = (time.perf_counter() - start) * 1000
    attention = out.attentions[-1][0, :, 0, :].mean(dim=0).tolist() if out.attentions else []
    return out.logits[0].tolist(), elapsed, attention


def check_paraphrase(
    settings: Settings, sentence1: str, sentence2: str, model: str | None = None
) -> Verdict:
    """Classify a sentence pair; `model` is int8 or fp32 (default: the setting, int8).

    fp32 exists only where the fine-tuning script has run; without it the shipped int8 model
    answers and a note says how to make fp32, so the lesson never stops on a missing file.
    """
    s1, s2 = sentence1.strip(), sentence2.strip()
    missing = [name for name, s in (("first", s1), ("second", s2)) if not s]
    if missing:
        raise ToolInputError(
            f"The {' and '.join(missing)} sentence is empty: give two sentences to compare."
        )
    choice = model or settings.paraphrase_model
    if choice not in MODEL_NAMES:
        raise ToolInputError(f"Unknown model {choice!r}: choose 'int8' (default) or 'fp32'.")
    if not (SHIPPED_MODEL_DIR / "model.onnx").exists():
        raise ToolInputError(
            f"The paraphrase model is missing from {SHIPPED_MODEL_DIR}: reinstall the project or "
            "run scripts/finetune_paraphrase.py then scripts/quantize_paraphrase.py."
        )
    notes: list[str] = []
    enc = encode_pair(SHIPPED_MODEL_DIR, s1, s2, MAX_LENGTH)
    if enc.truncated:
        notes.append(
            f"The pair has {enc.tokens_before} tokens; the model reads at most {MAX_LENGTH}, "
            "so the end of the longer sentence was cut before classifying."
        )
    fp32_dir = fp32_model_dir(settings)
    if choice == "fp32" and not (fp32_dir / "config.json").exists():
        notes.append(
            "The fp32 model is not on this machine (only int8 ships with the app). Make it with "
            "`python scripts/finetune_paraphrase.py` (about 25 minutes on one busy CPU thread); "
            "the int8 model answered instead."
        )
        choice = "int8"
    logits, ms, attention = _forward(settings, choice, enc)
    p = _softmax(logits)[1]
    tok = _tokenizer(SHIPPED_MODEL_DIR)
    tokens = [tok.id_to_token(i) for i in enc.input_ids]
    return Verdict(
        label="paraphrase" if p >= 0.5 else "not paraphrase",
        probability=p,
        model=MODEL_NAMES[choice],
        latency_ms=ms,
        tokens=len(enc.input_ids),
        truncated=enc.truncated,
        notes=tuple(notes),
        attention=tuple(
            zip(tokens, enc.token_type_ids, [round(a, 4) for a in attention], strict=False)
        ),
    )


def _forward(settings: Settings, choice: str, enc: Encoded) -> Forward:
    if choice == "fp32":
        return _logits_fp32(settings, fp32_model_dir(settings), enc)
    return _logits_int8(settings, enc)


def word_effects(
    settings: Settings, sentence1: str, sentence2: str, verdict: Verdict, max_words: int = 48
) -> list[WordEffect]:
    """P(paraphrase) with each word removed in turn (occlusion), by the model that answered.

    One forward pass per word (a few ms each in int8); pairs longer than `max_words` words
    are not probed, so a pasted paragraph does not cost seconds.
    """
    choice = "fp32" if verdict.model == MODEL_NAMES["fp32"] else "int8"
    words = [sentence1.split(), sentence2.split()]
    if sum(map(len, words)) > max_words:
        return []
    effects = []
    for n, (own, other) in enumerate([(words[0], words[1]), (words[1], words[0])]):
        for i, word in enumerate(own):
            core = word.strip(PUNCTUATION)
            if not core:
                continue
            # the word goes, its punctuation stays: "Paris." -> "."
            rest = " ".join([*own[:i], word.replace(core, "", 1), *own[i + 1 :]]).strip()
            pair = (rest, " ".join(other)) if n == 0 else (" ".join(other), rest)
            enc = encode_pair(SHIPPED_MODEL_DIR, *pair, MAX_LENGTH)
            p = _softmax(_forward(settings, choice, enc)[0])[1]
            effects.append(WordEffect(core, n + 1, p, p - verdict.probability))
    return effects


def _softmax(logits: list[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    return [e / sum(exps) for e in exps]


def load_benchmark() -> dict[str, Any] | None:
    """The stored quantization benchmark (and the baseline comparison when it was run)."""
    if not BENCHMARK_JSON.exists():
        return None
    results = json.loads(BENCHMARK_JSON.read_text())
    if BASELINE_JSON.exists():
        results["baseline"] = json.loads(BASELINE_JSON.read_text()).get("baseline")
    return results


def benchmark_parts() -> list[dict[str, Any]]:
    results = load_benchmark()
    if results is None:
        return [artifacts.markdown("No benchmark stored: run scripts/quantize_paraphrase.py.")]
    rows = [
        [
            r["variant"],
            r["size_mb"],
            r["latency_ms_median"],
            f"{r['latency_ms_p10']}-{r['latency_ms_p90']}",
            round(r["accuracy"] * 100, 1),
            round(r["f1"] * 100, 1),
        ]
        for r in results["rows"]
    ]
    if results.get("baseline"):
        b = results["baseline"]
        rows.append([b["name"], "", "", "", round(b["accuracy"] * 100, 1), round(b["f1"] * 100, 1)])
    w = results["weights"]
    setup = results["setup"]
    parts = [
        artifacts.table(
            ["model", "size MB", "latency ms (median)", "p10-p90", "accuracy %", "F1 %"],
            rows,
            name="quantization benchmark",
        ),
        artifacts.markdown(
            f"Test split ({setup['test_pairs']} hard pairs); latency: batch 1, "
            f"{setup['threads']} CPU thread, {setup['latency_runs']} pairs. Weights of "
            f"`{w['layer']}`: fp32 range [{w['fp32_min']:.3f}, {w['fp32_max']:.3f}] stored as "
            f"int8 with scale {w['scale']:.5f} and zero point {w['zero_point']} "
            f"(w ≈ scale × q); the largest rounding error is {w['max_abs_error']:.4f}. "
            f"The shipped model uses one scale per output channel "
            f"({w['per_channel_scale_min']:.5f} to {w['per_channel_scale_max']:.5f}): mean "
            f"rounding error {w['per_channel_mean_abs_error']:.5f} instead of "
            f"{w['mean_abs_error']:.5f} with one scale for the whole tensor."
        ),
    ]
    parts += [
        artifacts.image(str(png), name) for name, png in BENCHMARK_PNGS.items() if png.exists()
    ]
    return parts


def paraphrase_lesson(
    settings: Settings,
    sentence1: str,
    sentence2: str,
    model: str | None = None,
    show_benchmark: bool = False,
) -> tuple[str, artifacts.Artifact]:
    """The tool's answer: a line for the chat model and the artifact for the UI."""
    v = check_paraphrase(settings, sentence1, sentence2, model)
    verdict = "the same meaning" if v.label == "paraphrase" else "different meanings"
    # Token count and latency are for the eye (the artifact): in the model's text they
    # became the explanation ("it has 18 tokens and took 6.9 ms"), in the same form each turn.
    text = f"{v.model} model: {verdict} (P(paraphrase) = {v.probability:.2f})."
    text = " ".join([text, *v.notes])
    parts = [
        artifacts.markdown(
            f"**{v.label}** — P(paraphrase) = **{v.probability:.1%}**  \n"
            f"model: {v.model} · {v.tokens} tokens · {v.latency_ms:.1f} ms"
            + "".join(f"\n\n> {note}" for note in v.notes)
        ),
        artifacts.table(
            ["label", "probability"],
            [
                ["paraphrase", round(v.probability, 4)],
                ["not paraphrase", round(1 - v.probability, 4)],
            ],
            name="probabilities",
        ),
    ]
    effects = word_effects(settings, sentence1.strip(), sentence2.strip(), v)
    parts += weighed_parts(v, effects)
    if effects:
        top = max(effects, key=lambda e: abs(e.change))
        text += (
            f" The word the verdict leans on most: removing '{top.word}' (sentence "
            f"{top.sentence}) moves P(paraphrase) from {v.probability:.2f} to {top.without:.2f}."
        )
    if show_benchmark:
        parts += benchmark_parts()
        text += " The quantization benchmark (size, latency, accuracy of fp32 vs int8) is shown."
    result = artifacts.artifact(
        "check_paraphrase", parts, summary=f"{v.label} ({v.probability:.0%})"
    )
    result["facts"] = verdict_facts(
        v.model, v.label == "paraphrase", v.probability, (sentence1.strip(), sentence2.strip())
    )
    return text, result


def weighed_parts(v: Verdict, effects: list[WordEffect]) -> list[dict[str, Any]]:
    """What the model weighed: attention from [CLS] per token (a bar chart, the two
    sentences in two colours) and the words whose removal moves the verdict most."""
    parts: list[dict[str, Any]] = []
    if v.attention:
        shown = [(t, seg, a) for t, seg, a in v.attention if t != "[CLS]"]
        top = sorted(shown, key=lambda x: -x[2])[:5]
        parts.append(
            artifacts.markdown(
                "**Where the model looked**: attention from `[CLS]` in the last layer "
                "(mean of 12 heads; the classifier reads the `[CLS]` vector). Highest: "
                + ", ".join(f"`{t}` {a:.2f}" for t, _, a in top)
                + ". A high share on `[SEP]` is BERT's way of looking at nothing in particular."
            )
        )
        parts.append(artifacts.plotly(_attention_figure(shown), name="attention from [CLS]"))
    if effects:
        ranked = sorted(effects, key=lambda e: -abs(e.change))[:8]
        parts.append(
            artifacts.table(
                ["word", "sentence", "P(paraphrase) without it", "change"],
                [[e.word, e.sentence, round(e.without, 3), f"{e.change:+.3f}"] for e in ranked],
                name="words that moved the verdict",
            )
        )
        parts.append(
            artifacts.markdown(
                "Each word removed in turn, the pair classified again: the words whose removal "
                "changes P(paraphrase) most are the ones the verdict rests on (a causal test; "
                "attention only shows where the model looked)."
            )
        )
    return parts


def _attention_figure(shown: list[tuple[str, int, float]]) -> dict[str, Any]:
    """A plain plotly figure dict (JSON, no plotly import): one bar per token."""
    colors = ["#4c78a8", "#f58518"]
    return {
        "data": [
            {
                "type": "bar",
                "name": f"sentence {seg + 1}",
                "x": [f"{i}:{t}" for i, (t, s, _) in enumerate(shown) if s == seg],
                "y": [a for t, s, a in shown if s == seg],
                "marker": {"color": colors[seg]},
            }
            for seg in (0, 1)
        ],
        "layout": {
            "title": {"text": "Last-layer attention from [CLS], mean over heads"},
            "xaxis": {
                "tickangle": -45,
                "categoryorder": "array",
                "categoryarray": [f"{i}:{t}" for i, (t, _, _) in enumerate(shown)],
            },
            "yaxis": {"title": {"text": "attention"}},
            "height": 320,
            "margin": {"b": 90},
        },
    }


def verdict_facts(
    model: str, same: bool, p: float, pair: tuple[str, str] = ("", "")
) -> dict[str, Any]:
    """An answer must give the verdict and the probability, and not say the opposite. The
    lead quotes the pair, so two verdicts of one thread do not open alike."""
    words = (
        ["paraphrase", "same meaning", "mean the same", "means the same"]
        if same
        else [
            "not a paraphrase",
            "not paraphrase",
            "different meaning",
            "not mean the same",
            "n't mean the same",
            "not the same",
        ]
    )
    verdict = "the same meaning" if same else "different meanings"
    return artifacts.facts(
        must=[words, [f"{p:.2f}", f"{p:.0%}", f"{p * 100:.1f}%", f"{p:.3f}", f"{p:.1f}"]],
        stance=same,
        statement=f"The {model} paraphrase model says the two sentences have {verdict}: "
        f"P(paraphrase) = {p:.2f}.",
        lead=(f"“{pair[0]}” and “{pair[1]}”: " if all(pair) else "")
        + f"the {model} model gives P(paraphrase) = {p:.2f}, {verdict}.",
    )


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import StructuredTool

    def check_paraphrase_tool(
        sentence1: str,
        sentence2: str,
        model: ModelChoice | None = None,
        show_benchmark: bool = False,
    ) -> tuple[str, artifacts.Artifact]:
        """Decide whether two sentences mean the same (paraphrase detection) with a small BERT
        classifier fine-tuned for it, and give the probability. model='int8' (the quantized
        model, the default) or 'fp32' (full precision, to compare); leave it empty unless the
        user asks for one. show_benchmark=True also shows the stored fine-tuning and
        quantization results: size, speed and accuracy of fp32 vs int8."""
        chosen = model or ctx.call_settings().paraphrase_model  # this chat's default
        return paraphrase_lesson(ctx.settings, sentence1, sentence2, chosen, show_benchmark)

    return [
        StructuredTool.from_function(
            check_paraphrase_tool,
            name="check_paraphrase",
            response_format="content_and_artifact",
        )
    ]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "paraphrase", help="do two sentences mean the same? (fine-tuned BERT, int8 or fp32)"
    )
    cmd.add_argument("sentence1")
    cmd.add_argument("sentence2")
    cmd.add_argument("--model", choices=tuple(MODEL_NAMES), default=None, help="default: int8")
    cmd.add_argument("--benchmark", action="store_true", help="also print the stored benchmark")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=_cmd_paraphrase)


def _cmd_paraphrase(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    import sys

    try:
        v = check_paraphrase(settings, args.sentence1, args.sentence2, args.model)
    except ToolInputError as exc:
        print(f"genai101 paraphrase: {exc}", file=sys.stderr)
        return 2
    bench = load_benchmark() if args.benchmark else None
    if args.json:
        print(json.dumps(asdict(v) | ({"benchmark": bench} if bench else {}), indent=2))
        return 0
    print(
        f"{v.label}  P(paraphrase)={v.probability:.3f}  [{v.model}, {v.tokens} tokens, "
        f"{v.latency_ms:.1f} ms]"
    )
    for note in v.notes:
        print(f"note: {note}")
    effects = word_effects(settings, args.sentence1.strip(), args.sentence2.strip(), v)
    for e in sorted(effects, key=lambda e: -abs(e.change))[:3]:
        print(f"without '{e.word}' (sentence {e.sentence}): P={e.without:.3f} ({e.change:+.3f})")
    if bench:
        print(f"\n{'model':<34} {'MB':>6} {'ms':>7} {'acc %':>6} {'F1 %':>6}")
        for r in bench["rows"]:
            print(
                f"{r['variant']:<34} {r['size_mb']:>6.1f} {r['latency_ms_median']:>7.2f} "
                f"{r['accuracy'] * 100:>6.1f} {r['f1'] * 100:>6.1f}"
            )
    return 0
