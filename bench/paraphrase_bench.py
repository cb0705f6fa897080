"""Paraphrase benchmark: what fine-tuning buys and what int8 costs, on our splits and on a
blind held-out set.

Models, side by side on the same pairs:

1. Zero-shot baseline: cosine similarity of all-MiniLM-L6-v2 sentence embeddings, with the
   threshold that maximises accuracy on dev. The embedding model was trained for
   similarity, so it scores "A hired B" and "B hired A" as near-identical: the baseline
   shows why the task needs a pair classifier that reads both sentences together.
2. The previous shipped model (int8, trained on template pairs), when its file is given
   (`--old`; by default `data/models/paraphrase/old-int8/model.onnx`, which
   `git show 7a0e1cc:knowledge/paraphrase/model-int8/model.onnx` restores).
3. The fine-tuned classifier in fp32 (torch) and int8 (ONNX Runtime, the shipped one), plus
   the quantization variants of `scripts/quantize_paraphrase.py`: size, batch-1 latency
   (median, p10-p90), ratios to fp32 torch.

Sets: the project's dev and test splits (`knowledge/paraphrase/pairs/`) and, with
`--heldout`, `bench/data/paraphrase_heldout.jsonl` (240 natural pairs written by someone who
saw neither the generator nor the training data); `--heldout-file FILE` adds another blind
set (`bench/data/paraphrase_heldout2.jsonl`, see its card). Accuracy and F1 per set and per
kind of pair. A held-out set's first run is kept apart
(`bench/results/paraphrase-heldout-first.json`, `paraphrase-heldout2-first.json`): later
runs never overwrite it, so the blind number stays on record. `--previous` adds the model
shipped before this one (default `data/models/paraphrase/prev-int8/model.onnx`).

Goals (printed, never asserted): fine-tuned > baseline; ONNX int8 <= 0.3x size and
<= 0.6x latency of fp32 with at most 1 point of accuracy lost; on the held-out set int8
accuracy and F1 >= 85% and no kind below 70%.

    python bench/paraphrase_bench.py --heldout     # needs data/models/paraphrase/fp32

Writes bench/results/paraphrase.json and knowledge/paraphrase/bench.json (the tool shows it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from core.settings import Settings
from knowledge.paraphrase_data import (
    PARAPHRASE_DIR,
    Pair,
    accuracy_f1,
    fp32_model_dir,
    load_jsonl,
    load_pairs,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
BENCH_JSON = PARAPHRASE_DIR / "bench.json"
HELDOUT = ROOT / "bench" / "data" / "paraphrase_heldout.jsonl"
RESULTS = ROOT / "bench" / "results" / "paraphrase.json"
FIRST_HELDOUT = ROOT / "bench" / "results" / "paraphrase-heldout-first.json"
BASELINE = "cosine baseline"
OLD = "old int8 (templates)"
PREVIOUS = "previous int8"
NEW_FP32 = "new fp32"
NEW_INT8 = "new int8"


def _script(name: str) -> ModuleType:
    """A script of scripts/ as a module: the benchmark reuses its code instead of copying it."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cosine_predictor(threads: int, tune: list[Pair]):
    """Embedding cosine similarity with the threshold that is best on `tune` (dev)."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(_script("finetune_paraphrase").base_model_dir()), device="cpu")

    def similarities(pairs: list[Pair]):
        a = model.encode([p.sentence1 for p in pairs], normalize_embeddings=True, batch_size=64)
        b = model.encode([p.sentence2 for p in pairs], normalize_embeddings=True, batch_size=64)
        return (a * b).sum(axis=1)

    sims, labels = similarities(tune), np.array([p.label for p in tune])
    candidates = np.unique(sims)
    accs = [((sims >= t).astype(int) == labels).mean() for t in candidates]
    threshold = float(candidates[int(np.argmax(accs))])

    def predict(pairs: list[Pair]) -> list[int]:
        return (similarities(pairs) >= threshold).astype(int).tolist()

    return predict, round(threshold, 4)


def per_kind(pairs: list[Pair], preds: list[int]) -> dict[str, dict[str, float]]:
    """Accuracy (and pairs) by how a pair was made: which kinds a model gets wrong."""
    out = {}
    for kind in sorted({p.kind for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p.kind == kind]
        label = pairs[idx[0]].label
        right = sum(preds[i] == pairs[i].label for i in idx)
        out[kind] = {"label": label, "pairs": len(idx), "accuracy": round(right / len(idx), 4)}
    return out


def score(pairs: list[Pair], preds: list[int]) -> dict[str, Any]:
    metrics = accuracy_f1([p.label for p in pairs], preds)
    return {k: round(v, 4) for k, v in metrics.items()} | {"by_kind": per_kind(pairs, preds)}


def print_set(name: str, results: dict[str, dict[str, Any]]) -> None:
    models = list(results)
    print(f"\n{name}: accuracy % (F1 %)")
    print(f"{'kind':<26} {'pairs':>5} " + " ".join(f"{m:>20}" for m in models))
    first = results[models[0]]
    for kind, info in first["by_kind"].items():
        label = "same" if info["label"] else "different"
        cells = " ".join(f"{results[m]['by_kind'][kind]['accuracy'] * 100:>20.1f}" for m in models)
        print(f"{kind + ' (' + label + ')':<26} {info['pairs']:>5} {cells}")
    n = sum(info["pairs"] for info in first["by_kind"].values())
    cells = " ".join(
        f"{results[m]['accuracy'] * 100:>12.1f} ({results[m]['f1'] * 100:>4.1f})" for m in models
    )
    print(f"{'all':<26} {n:>5} {cells}")


def first_results_file(heldout: Path) -> Path:
    """Where a held-out set's first run is kept: `paraphrase_heldout2.jsonl` ->
    `bench/results/paraphrase-heldout2-first.json`."""
    stem = heldout.stem.removeprefix("paraphrase_").replace("_", "-")
    return ROOT / "bench" / "results" / f"paraphrase-{stem}-first.json"


def set_name(heldout: Path) -> str:
    return "held-out" if heldout.resolve() == HELDOUT.resolve() else heldout.stem


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="batch-1 latency samples")
    parser.add_argument("--threads", type=int, default=settings.torch_threads)
    parser.add_argument("--heldout", action="store_true", help="also score the held-out set")
    parser.add_argument(
        "--heldout-file",
        type=Path,
        action="append",
        default=[],
        help="also score this blind set (repeatable); its first run is kept in "
        "bench/results/paraphrase-<name>-first.json",
    )
    parser.add_argument(
        "--old", type=Path, default=settings.path("models", "paraphrase", "old-int8", "model.onnx")
    )
    parser.add_argument(
        "--previous",
        type=Path,
        default=settings.path("models", "paraphrase", "prev-int8", "model.onnx"),
        help="the model shipped before this one, for its column (left out if absent)",
    )
    parser.add_argument("--fp32", type=Path, help="default: data/models/paraphrase/fp32")
    parser.add_argument(
        "--work", type=Path, help="ONNX files made here; default: data/models/paraphrase/onnx"
    )
    args = parser.parse_args(argv)

    fp32_dir = args.fp32 or fp32_model_dir(settings)
    if not (fp32_dir / "config.json").exists():
        print(f"No fine-tuned model in {fp32_dir}: run scripts/finetune_paraphrase.py first.")
        return 1
    quant = _script("quantize_paraphrase")
    quantization = quant.benchmark(
        fp32_dir,
        args.work or settings.path("models", "paraphrase", "onnx"),
        args.threads,
        args.runs,
    )
    rows = quantization["rows"]
    ref = rows[0]
    for r in rows:
        r["size_ratio"] = round(r["size_mb"] / ref["size_mb"], 3)
        r["latency_ratio"] = round(r["latency_ms_median"] / ref["latency_ms_median"], 3)
        r["accuracy_drop_points"] = round((ref["accuracy"] - r["accuracy"]) * 100, 2)

    sets = {"dev": load_pairs("dev"), "test": load_pairs("test")}
    heldouts = ([HELDOUT] if args.heldout else []) + [
        f for f in args.heldout_file if not (args.heldout and f.resolve() == HELDOUT.resolve())
    ]
    for file in heldouts:
        sets[set_name(file)] = load_jsonl(file)
    model, tokenizer = quant.load_fp32(fp32_dir)
    baseline, threshold = cosine_predictor(args.threads, sets["dev"])
    predictors = {BASELINE: baseline}
    if args.old.exists():
        old = quant.OnnxRunner(args.old, tokenizer, args.threads)
        predictors[OLD] = lambda pairs: quant.predictions(old, pairs)
    else:
        print(f"note: no old model at {args.old}; its column is left out", file=sys.stderr)
    if args.previous.exists():
        prev = quant.OnnxRunner(args.previous, tokenizer, args.threads)
        predictors[PREVIOUS] = lambda pairs: quant.predictions(prev, pairs)
    fp32 = quant.TorchRunner(model, tokenizer)
    int8 = quant.OnnxRunner(Path(quantization["onnx_int8"]), tokenizer, args.threads)
    predictors[NEW_FP32] = lambda pairs: quant.predictions(fp32, pairs)
    predictors[NEW_INT8] = lambda pairs: quant.predictions(int8, pairs)
    scores = {
        name: {m: score(pairs, predict(pairs)) for m, predict in predictors.items()}
        for name, pairs in sets.items()
    }

    print(
        f"\nQuantization (test split, {quantization['setup']['test_pairs']} pairs; batch-1 "
        f"latency on {args.threads} thread over {quantization['setup']['latency_runs']} pairs)\n"
    )
    print(f"{'model':<34} {'MB':>6} {'x size':>6} {'ms med':>7} {'x lat':>6} {'acc %':>6}")
    for r in rows:
        print(
            f"{r['variant']:<34} {r['size_mb']:>6.1f} {r['size_ratio']:>6.2f} "
            f"{r['latency_ms_median']:>7.2f} {r['latency_ratio']:>6.2f} {r['accuracy'] * 100:>6.1f}"
        )
    for name, results in scores.items():
        print_set(f"{name} ({len(sets[name])} pairs)", results)
    print(f"\n(baseline threshold {threshold}, tuned on dev)")

    shipped = next(r for r in rows if r["variant"] == quant.SHIPPED)
    test = scores["test"]
    goals = {
        "fine-tuned beats baseline (test)": test[NEW_FP32]["accuracy"] > test[BASELINE]["accuracy"],
        "ONNX int8 size <= 0.3x": shipped["size_ratio"] <= 0.3,
        "ONNX int8 latency <= 0.6x": shipped["latency_ratio"] <= 0.6,
        "ONNX int8 accuracy drop <= 1 point": shipped["accuracy_drop_points"] <= 1.0,
    }
    for name in (set_name(f) for f in heldouts):
        held = scores[name][NEW_INT8]
        goals |= {
            f"{name} int8 accuracy >= 85%": held["accuracy"] >= 0.85,
            f"{name} int8 F1 >= 85%": held["f1"] >= 0.85,
            f"{name}: no kind below 70%": min(k["accuracy"] for k in held["by_kind"].values())
            >= 0.70,
        }
    print()
    for goal, met in goals.items():
        print(f"  [{'met' if met else 'MISSED'}] {goal}")

    report = {
        "quantization": rows,
        "sets": scores,
        "baseline_threshold": threshold,
        "goals": goals,
        "setup": quantization["setup"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    for file in heldouts:
        first = first_results_file(file)
        if not first.exists():
            first.write_text(json.dumps({"note": f"first run of {file.name}"} | report, indent=2))
    BENCH_JSON.write_text(
        json.dumps(
            {
                "rows": rows,
                "baseline": {
                    "name": "zero-shot cosine (MiniLM embeddings)",
                    "threshold": threshold,
                }
                | {k: test[BASELINE][k] for k in ("accuracy", "f1")},
                "sets": {
                    name: {m: {k: r[k] for k in ("accuracy", "f1")} for m, r in res.items()}
                    for name, res in scores.items()
                },
                "goals": goals,
                "setup": quantization["setup"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
