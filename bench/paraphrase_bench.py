"""Paraphrase benchmark: what fine-tuning buys and what int8 costs, on the hard test split.

1. Zero-shot baseline: cosine similarity of all-MiniLM-L6-v2 sentence embeddings, with the
   threshold that maximises accuracy on train. The embedding model was trained for
   similarity, so it scores "A hired B" and "B hired A" as near-identical: the baseline
   shows why the task needs a pair classifier that reads both sentences together.
2. The fine-tuned classifier in fp32 (torch, ONNX) and int8 (torch dynamic, ONNX Runtime):
   size, batch-1 latency (median, p10-p90), accuracy and F1, and ratios to fp32 torch.

Goals (printed, never asserted): fine-tuned > baseline; ONNX int8 <= 0.3x size and
<= 0.6x latency of fp32 with at most 1 point of accuracy lost.

    python bench/paraphrase_bench.py        # needs data/models/paraphrase/fp32 (fine-tuning)

Writes knowledge/paraphrase/bench.json (baseline and ratios; the tool shows the baseline).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from agent.settings import Settings
from knowledge.paraphrase_data import (
    PARAPHRASE_DIR,
    Pair,
    accuracy_f1,
    fp32_model_dir,
    load_pairs,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
BENCH_JSON = PARAPHRASE_DIR / "bench.json"


def _script(name: str) -> ModuleType:
    """A script of scripts/ as a module: the benchmark reuses its code instead of copying it."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cosine_baseline(threads: int) -> dict:
    """Embedding cosine similarity with a threshold tuned on train, scored on test."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(_script("finetune_paraphrase").base_model_dir()), device="cpu")

    def similarities(pairs):
        a = model.encode([p.sentence1 for p in pairs], normalize_embeddings=True, batch_size=64)
        b = model.encode([p.sentence2 for p in pairs], normalize_embeddings=True, batch_size=64)
        return (a * b).sum(axis=1)

    train, test = load_pairs("train"), load_pairs("test")
    sims, labels = similarities(train), np.array([p.label for p in train])
    candidates = np.unique(sims)
    accs = [((sims >= t).astype(int) == labels).mean() for t in candidates]
    threshold = float(candidates[int(np.argmax(accs))])
    preds = (similarities(test) >= threshold).astype(int).tolist()
    return {
        "name": "zero-shot cosine (MiniLM embeddings)",
        "threshold": round(threshold, 4),
        "train_accuracy": round(float(max(accs)), 4),
        "predictions": preds,
    } | {k: round(v, 4) for k, v in accuracy_f1([p.label for p in test], preds).items()}


def per_kind(pairs: list[Pair], columns: dict[str, list[int]]) -> list[tuple[str, int, dict]]:
    """Accuracy by how a pair was made: which kinds of hard pair each model gets wrong."""
    kinds = sorted({(p.label, p.kind) for p in pairs}, key=lambda k: (-k[0], k[1]))
    rows = []
    for label, kind in kinds:
        idx = [i for i, p in enumerate(pairs) if (p.label, p.kind) == (label, kind)]
        rows.append(
            (
                f"{kind} ({'same' if label else 'different'})",
                len(idx),
                {n: sum(preds[i] == label for i in idx) / len(idx) for n, preds in columns.items()},
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="batch-1 latency samples")
    parser.add_argument("--threads", type=int, default=settings.torch_threads)
    args = parser.parse_args(argv)

    fp32_dir = fp32_model_dir(settings)
    if not (fp32_dir / "config.json").exists():
        print(f"No fine-tuned model in {fp32_dir}: run scripts/finetune_paraphrase.py first.")
        return 1
    quant = _script("quantize_paraphrase")
    results = quant.benchmark(
        fp32_dir, settings.path("models", "paraphrase", "onnx"), args.threads, args.runs
    )
    baseline = cosine_baseline(args.threads)
    rows = results["rows"]
    ref = rows[0]
    print(
        f"\nParaphrase test split ({results['setup']['test_pairs']} pairs), batch-1 latency on "
        f"{args.threads} thread over {results['setup']['latency_runs']} pairs\n"
    )
    print(
        f"{'model':<38} {'MB':>6} {'x size':>6} {'ms med':>7} {'p10-p90':>12} {'x lat':>6} "
        f"{'acc %':>6} {'F1 %':>6} {'d acc':>6}"
    )
    for r in rows:
        spread = f"{r['latency_ms_p10']:.1f}-{r['latency_ms_p90']:.1f}"
        r["size_ratio"] = round(r["size_mb"] / ref["size_mb"], 3)
        r["latency_ratio"] = round(r["latency_ms_median"] / ref["latency_ms_median"], 3)
        r["accuracy_drop_points"] = round((ref["accuracy"] - r["accuracy"]) * 100, 2)
        print(
            f"{r['variant']:<38} {r['size_mb']:>6.1f} {r['size_ratio']:>6.2f} "
            f"{r['latency_ms_median']:>7.2f} {spread:>12} {r['latency_ratio']:>6.2f} "
            f"{r['accuracy'] * 100:>6.1f} {r['f1'] * 100:>6.1f} {(r['accuracy'] - ref['accuracy']) * 100:>+6.1f}"
        )
    print(
        f"{baseline['name']:<38} {'':>6} {'':>6} {'':>7} {'':>12} {'':>6} "
        f"{baseline['accuracy'] * 100:>6.1f} {baseline['f1'] * 100:>6.1f}"
        f"   (threshold {baseline['threshold']} tuned on train)"
    )
    onnx = next(r for r in rows if r["variant"] == quant.SHIPPED)
    goals = {
        "fine-tuned beats baseline": ref["accuracy"] > baseline["accuracy"],
        "ONNX int8 size <= 0.3x": onnx["size_ratio"] <= 0.3,
        "ONNX int8 latency <= 0.6x": onnx["latency_ratio"] <= 0.6,
        "ONNX int8 accuracy drop <= 1 point": onnx["accuracy_drop_points"] <= 1.0,
    }
    test = load_pairs("test")
    int8 = quant.OnnxRunner(Path(results["onnx_int8"]), quant.load_fp32(fp32_dir)[1], args.threads)
    columns = {"baseline": baseline.pop("predictions"), "ONNX int8": quant.predictions(int8, test)}
    print(
        f"\naccuracy by kind of pair (test)\n{'kind':<24} {'pairs':>5} "
        + " ".join(f"{name:>10}" for name in columns)
    )
    by_kind = per_kind(test, columns)
    for kind, n, accs in by_kind:
        print(f"{kind:<24} {n:>5} " + " ".join(f"{accs[c] * 100:>9.1f}%" for c in columns))
    print()
    for goal, met in goals.items():
        print(f"  [{'met' if met else 'MISSED'}] {goal}")
    BENCH_JSON.write_text(
        json.dumps(
            {
                "rows": rows,
                "baseline": baseline,
                "by_kind": [{"kind": k, "pairs": n} | a for k, n, a in by_kind],
                "goals": goals,
                "setup": results["setup"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
