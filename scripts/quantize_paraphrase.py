"""Quantize the fine-tuned paraphrase classifier to int8 and measure what it costs.

The quantization lesson, on our model: post-training *dynamic* quantization stores the
weights of every Linear layer as int8 with one scale (and zero point) per tensor and
quantizes activations on the fly, so no calibration data is needed. Two toolchains:

- PyTorch `torch.ao.quantization.quantize_dynamic` (as in the lesson; deprecated in recent
  torch, still working): Linear layers only, the embedding table stays fp32.
- ONNX Runtime: export with `torch.onnx.export`, then `onnxruntime.quantization.
  quantize_dynamic` (QInt8 weights): every MatMul, a smaller file and a faster runtime;
  once with one scale per tensor (as the lesson) and once per channel (the shipped model).

Analysis (the lesson's): the weight distribution of one attention projection in fp32 and
int8 with its scale and zero point (`quantization_weights.png`); size, batch-1 latency
(median and spread) and test accuracy/F1 for fp32, torch int8, ONNX fp32 and both ONNX int8
(`quantization.json`, `quantization_tradeoff.png`). The per-channel ONNX int8 model, its
tokenizer and a model card go to `knowledge/paraphrase/model-int8/`: the model the app ships.

    python scripts/quantize_paraphrase.py     # reads data/models/paraphrase/fp32
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from core.settings import Settings
from knowledge.paraphrase_data import (
    PARAPHRASE_DIR,
    SHIPPED_MODEL_DIR,
    Pair,
    accuracy_f1,
    fp32_model_dir,
    load_pairs,
)

ATTENTION_WEIGHT = "bert.encoder.layer.0.attention.self.query"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
RESULTS_JSON = PARAPHRASE_DIR / "quantization.json"
WEIGHTS_PNG = PARAPHRASE_DIR / "quantization_weights.png"
TRADEOFF_PNG = PARAPHRASE_DIR / "quantization_tradeoff.png"
MAX_LENGTH = 128
SHIPPED = "int8 (ONNX Runtime, per channel)"  # the variant the app ships


def load_fp32(folder: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def quantize_torch(model):
    """Dynamic int8 of every nn.Linear: weights int8 now, activations quantized per batch."""
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8
        )


def export_onnx(model, tokenizer, out: Path) -> Path:
    """fp32 ONNX graph with dynamic batch and sequence axes, inputs named as the tokenizer's.

    Three outputs: `logits`; `cls_attention`, the last layer's attention from [CLS] to every
    token averaged over its heads (batch x sequence): the classification head reads the
    [CLS] vector, so this row shows which tokens fed the verdict most directly; and
    `attentions`, every layer and head (batch x layer x head x from x to), so the attention
    lesson can show the fine-tuned model without the fp32 weights, which do not ship.
    """
    import torch

    class LogitsAndAttention(torch.nn.Module):
        """Plain tensor outputs keep the graph simple."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                output_attentions=True,
            )
            last = out.attentions[-1][:, :, 0, :].mean(dim=1)
            return out.logits, last, torch.stack(out.attentions, dim=1)

    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # under sdpa, attentions come back empty
    sample = tokenizer("A hired B.", "B was hired by A.", return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {
        "logits": {0: "batch"},
        "cls_attention": {0: "batch", 1: "sequence"},
        "attentions": {0: "batch", 3: "sequence", 4: "sequence"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)  # the work folder under the data dir
    torch.onnx.export(
        LogitsAndAttention(model).eval(),
        tuple(sample[n] for n in names),
        str(out),
        input_names=names,
        output_names=["logits", "cls_attention", "attentions"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,  # the TorchScript exporter: no onnxscript dependency
    )
    model.set_attn_implementation(previous)  # the torch rows are timed as they run in the app
    return out


def quantize_onnx(fp32_onnx: Path, out: Path, per_channel: bool = True) -> Path:
    """ONNX Runtime dynamic quantization: int8 weights (symmetric), uint8 activations.

    `per_channel` gives every output row of a weight matrix its own scale: one outlier row no
    longer coarsens the grid of all the others. Here it costs 0.1 MB and keeps the accuracy of
    fp32, where one scale per tensor (as in the lesson) lost between 2 and 3 points.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_onnx), str(out), weight_type=QuantType.QInt8, per_channel=per_channel)
    return out


def weight_analysis(model, qmodel, png: Path) -> dict[str, Any]:
    """Histogram of one attention projection in fp32 and as int8 codes; scale and zero point.

    Per-tensor symmetric int8: scale = max|w| / 127.5 (torch's observer), zero point 0; each
    weight becomes round(w / scale), and dequantizing gives back w up to scale / 2. Per
    channel, each output row gets the scale of its own largest weight: smaller steps for most
    rows, hence a smaller rounding error (third panel).
    """
    import matplotlib
    import torch

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = model.get_submodule(ATTENTION_WEIGHT).weight.detach()
    q = qmodel.get_submodule(ATTENTION_WEIGHT).weight()
    codes = q.int_repr().flatten().numpy()
    error = (q.dequantize() - w).abs()
    row_scales = w.abs().amax(dim=1) / 127.5
    per_row = torch.quantize_per_channel(
        w, row_scales.double(), torch.zeros(len(row_scales), dtype=torch.long), 0, torch.qint8
    )
    row_error = (per_row.dequantize() - w).abs()
    info = {
        "layer": ATTENTION_WEIGHT,
        "shape": list(w.shape),
        "fp32_min": float(w.min()),
        "fp32_max": float(w.max()),
        "scale": float(q.q_scale()),
        "zero_point": int(q.q_zero_point()),
        "int8_min": int(codes.min()),
        "int8_max": int(codes.max()),
        "max_abs_error": float(error.max()),
        "mean_abs_error": float(error.mean()),
        "per_channel_scale_min": float(row_scales.min()),
        "per_channel_scale_max": float(row_scales.max()),
        "per_channel_mean_abs_error": float(row_error.mean()),
    }
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 3.8))
    a.hist(w.flatten().numpy(), bins=120, color="#4C72B0")
    a.set_title(f"fp32 weights ({info['shape'][0]}x{info['shape'][1]})")
    a.set_xlabel("value")
    b.hist(codes, bins=range(-128, 129), color="#DD8452")
    b.set_title(f"int8 codes: scale {info['scale']:.5f}, zero point {info['zero_point']}")
    b.set_xlabel("integer")
    c.hist(row_scales.numpy(), bins=40, color="#55A868")
    c.axvline(info["scale"], color="#DD8452", linestyle="--", label="per-tensor scale")
    c.set_title("per-channel scales (one per output row)")
    c.set_xlabel("scale")
    c.legend(fontsize=8)
    fig.suptitle(f"{ATTENTION_WEIGHT}.weight: fp32 vs dynamic int8 (symmetric)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return info


def file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def torch_size_mb(model, tmp: Path) -> float:
    """Size of the serialized state dict: what a user would store for this model."""
    import torch

    torch.save(model.state_dict(), tmp)
    size = file_mb(tmp)
    tmp.unlink()
    return size


class TorchRunner:
    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def inputs(self, pairs: list[Pair]):
        return self.tokenizer(
            [p.sentence1 for p in pairs],
            [p.sentence2 for p in pairs],
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
        )

    def logits(self, inputs):
        import torch

        with torch.inference_mode():
            return self.model(**inputs).logits.numpy()


class OnnxRunner(TorchRunner):
    def __init__(self, path: Path, tokenizer, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer

    def inputs(self, pairs: list[Pair]):
        enc = super().inputs(pairs)
        return {k: v.numpy() for k, v in enc.items()}

    def logits(self, inputs):
        return self.session.run(["logits"], inputs)[0]


def predictions(runner, pairs: list[Pair], batch: int = 32) -> list[int]:
    preds: list[int] = []
    for i in range(0, len(pairs), batch):
        preds += runner.logits(runner.inputs(pairs[i : i + batch])).argmax(-1).tolist()
    return preds


def accuracy(runner, pairs: list[Pair]) -> dict[str, float]:
    return accuracy_f1([p.label for p in pairs], predictions(runner, pairs))


def latency_ms(runners: dict[str, Any], pairs: list[Pair], warmup: int = 10) -> dict[str, dict]:
    """Batch-1 forward time per runner (tokenization excluded): median, p10 and p90.

    The runners take turns on each pair, so a burst of load from other processes on a shared
    machine hits every variant alike instead of whichever was being measured.
    """
    inputs = {name: [r.inputs([p]) for p in pairs] for name, r in runners.items()}
    for name, runner in runners.items():
        for x in inputs[name][:warmup]:
            runner.logits(x)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for i in range(len(pairs)):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner.logits(inputs[name][i])
            times[name].append((time.perf_counter() - start) * 1000)
    out = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=10)
        out[name] = {"median": statistics.median(ts), "p10": q[0], "p90": q[-1]}
    return out


def benchmark(fp32_dir: Path, work: Path, threads: int, runs: int = 100) -> dict[str, Any]:
    """Quantize, export and measure every variant; returns the results dict (see module doc)."""
    import torch

    torch.set_num_threads(threads)
    model, tokenizer = load_fp32(fp32_dir)
    qmodel = quantize_torch(model)
    fp32_onnx = export_onnx(model, tokenizer, work / "model-fp32.onnx")
    tensor_onnx = quantize_onnx(fp32_onnx, work / "model-int8-per-tensor.onnx", per_channel=False)
    int8_onnx = quantize_onnx(fp32_onnx, work / "model-int8.onnx")
    test = load_pairs("test")
    timing_pairs = test[:runs]
    variants = {
        "fp32 (torch)": (TorchRunner(model, tokenizer), file_mb(fp32_dir / "model.safetensors")),
        "int8 (torch dynamic)": (
            TorchRunner(qmodel, tokenizer),
            torch_size_mb(qmodel, work / "q.pt"),
        ),
        "fp32 (ONNX Runtime)": (OnnxRunner(fp32_onnx, tokenizer, threads), file_mb(fp32_onnx)),
        "int8 (ONNX Runtime, per tensor)": (
            OnnxRunner(tensor_onnx, tokenizer, threads),
            file_mb(tensor_onnx),
        ),
        SHIPPED: (OnnxRunner(int8_onnx, tokenizer, threads), file_mb(int8_onnx)),
    }
    print(f"timing {len(timing_pairs)} pairs x {len(variants)} variants", file=sys.stderr)
    latency = latency_ms({name: runner for name, (runner, _) in variants.items()}, timing_pairs)
    rows = []
    for name, (runner, size) in variants.items():
        print(f"test accuracy: {name}", file=sys.stderr)
        rows.append(
            {"variant": name, "size_mb": round(size, 1)}
            | {f"latency_ms_{k}": round(v, 2) for k, v in latency[name].items()}
            | {k: round(v, 4) for k, v in accuracy(runner, test).items()}
        )
    return {
        "rows": rows,
        "weights": weight_analysis(model, qmodel, WEIGHTS_PNG),
        "setup": {
            "threads": threads,
            "latency_runs": len(timing_pairs),
            "test_pairs": len(test),
            "max_length": MAX_LENGTH,
            "torch": torch.__version__,
            "onnxruntime": __import__("onnxruntime").__version__,
        },
        "onnx_int8": str(int8_onnx),
    }


def tradeoff_plot(rows: list[dict[str, Any]], png: Path) -> None:
    """Latency vs accuracy, bubble area = size: the price of each variant at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7, 4.5))
    handles = []
    for i, row in enumerate(rows):
        color = f"C{i}"
        xy = (row["latency_ms_median"], row["accuracy"] * 100)
        ax.scatter(*xy, s=row["size_mb"] * 25, alpha=0.5, color=color)
        ax.annotate(f"{row['size_mb']:.0f} MB", xy, ha="center", va="center", fontsize=8)
        # Names in a legend with small markers: labels on the bubbles would overlap.
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=color, alpha=0.5, label=row["variant"])
        )
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    accs = [r["accuracy"] * 100 for r in rows]
    ax.set_ylim(min(accs) - 4, max(accs) + 4)
    lats = [r["latency_ms_median"] for r in rows]
    ax.set_xlim(0, max(lats) * 1.3)
    ax.set_xlabel("latency, batch 1, median (ms)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Paraphrase classifier: latency vs accuracy (bubble area = size)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def ship(int8_onnx: Path, fp32_dir: Path, out: Path) -> None:
    """The int8 model the app loads: model.onnx, tokenizer files and config (label names)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8_onnx, out / "model.onnx")
    for name in (*TOKENIZER_FILES, "config.json"):
        if (fp32_dir / name).exists():
            shutil.copyfile(fp32_dir / name, out / name)


def model_card(results: dict[str, Any], training: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {r['variant']} | {r['size_mb']} | {r['latency_ms_median']} "
        f"({r['latency_ms_p10']}-{r['latency_ms_p90']}) | {r['accuracy']:.3f} | {r['f1']:.3f} |"
        for r in results["rows"]
    )
    epochs = "\n".join(
        f"| {h['epoch']} | {h['train_loss']:.3f} | {h['dev_accuracy']:.3f} | {h['dev_f1']:.3f} |"
        for h in training["history"]
    )
    kept = [e for h in training["history"] for e in h.get("dev_evals", []) if e.get("kept")]
    if kept:
        last = training["history"][-1]
        stop = " (stopped at its deadline)" if last.get("stopped_at_deadline") else ""
        epochs += (
            f"\n\nDev was also scored every few steps{stop}; the weights kept are those of "
            f"{kept[0]['at']}: dev accuracy {kept[0]['dev_accuracy']:.3f}, F1 "
            f"{kept[0]['dev_f1']:.3f}."
        )
    distinct = training.get("train_pairs_distinct")
    pairs_text = f"{training['train_pairs']} training pairs" + (
        f" ({distinct} distinct, some kinds repeated)" if distinct else ""
    )
    cfg = training["config"]
    setup = results["setup"]
    continued = ""
    before = training.get("continued_from")
    while before:  # each earlier run this one continued, newest first
        over = f", {before['oversample']} oversampled" if before.get("oversample") else ""
        continued += (
            f" It continued a run of {before['config']['epochs']} epochs on "
            f"{before['train_pairs']} pairs{over} at lr {before['config']['lr']} "
            f"({before['train_minutes']} minutes; dev accuracy "
            f"{max(h['dev_accuracy'] for h in before['history']):.3f})."
        )
        before = before.get("continued_from")
    if training.get("continued_from"):
        continued += " (Each run's dev accuracy is on its own data's dev split.)"
    if training.get("oversample"):
        continued = f" Pairs of these kinds were repeated: {training['oversample']}." + continued
    return f"""# Paraphrase classifier, int8 (ONNX)

`model.onnx`: all-MiniLM-L6-v2 (a 6-layer BERT, 22.7M parameters) fine-tuned as a sentence
pair classifier (label 1 = paraphrase, 0 = not), then dynamically quantized to int8 with
ONNX Runtime. Inputs `input_ids`, `attention_mask`, `token_type_ids` from the tokenizer in
this folder (`[CLS] s1 [SEP] s2 [SEP]`, at most {setup["max_length"]} tokens); outputs
`logits`, `cls_attention` (last layer, attention from [CLS] to each token, mean of the 12
heads) and `attentions` (every layer and head: batch x 6 x 12 x tokens x tokens), which the
paraphrase and attention lessons show.

## How it was made

1. Data: the project's paraphrase pairs made from real sentences (Wikipedia extracts, the
   course corpus; `knowledge/paraphrase/DATA.md`): {pairs_text},
   among them role swaps made of a paraphrase's own words in another order (contrast
   pairs); dev and test come from articles training never saw.
2. Fine-tuning: `scripts/finetune_paraphrase.py`, base
   {training["base_model"]}, {cfg["epochs"]} epochs, batch {cfg["batch_size"]}, AdamW lr
   {cfg["lr"]} with 10% warm-up and linear decay, seed {cfg["seed"]}, {training["threads"]}
   CPU thread: {training["train_minutes"]} minutes. The epoch with the best dev accuracy is
   kept.{continued}
3. Quantization: `scripts/quantize_paraphrase.py`: `torch.onnx.export` (opset 17) and
   `onnxruntime.quantization.quantize_dynamic` (QInt8 weights, one scale per output
   channel; activations quantized to uint8 at run time).

| epoch | train loss | dev accuracy | dev F1 |
|---|---|---|---|
{epochs}

## Metrics (test split, {setup["test_pairs"]} pairs; latency batch 1, {setup["threads"]} thread, median (p10-p90) of {setup["latency_runs"]})

| variant | size (MB) | latency (ms) | accuracy | F1 |
|---|---|---|---|---|
{rows}

## Limits

Most training positives are rule-made rewordings close to the original wording; the freer
LLM rewrites are few (the local LLM writes a few a minute on this shared CPU), so rewordings
that change most words are its weak side. Accuracy by kind of pair, on the splits and on two
blind held-out sets: `python bench/paraphrase_bench.py --heldout --heldout-file
bench/data/paraphrase_heldout2.jsonl` (`bench/results/paraphrase.json`). A teaching model,
not a production paraphrase detector.

## License

Base model all-MiniLM-L6-v2: Apache-2.0 (sentence-transformers). Training data: CC BY-SA 4.0
(made from Wikipedia text, see DATA.md). Fine-tuning code: this project (Apache-2.0).
"""


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fp32", type=Path, default=None, help="default: data/models/paraphrase/fp32"
    )
    parser.add_argument("--runs", type=int, default=100, help="batch-1 latency samples")
    parser.add_argument("--threads", type=int, default=settings.torch_threads)
    parser.add_argument("--no-ship", action="store_true", help="do not update model-int8/")
    parser.add_argument(
        "--work", type=Path, help="ONNX files made here; default: data/models/paraphrase/onnx"
    )
    args = parser.parse_args(argv)

    fp32_dir = args.fp32 or fp32_model_dir(settings)
    if not (fp32_dir / "config.json").exists():
        print(f"No fine-tuned model in {fp32_dir}: run scripts/finetune_paraphrase.py first.")
        return 1
    results = benchmark(
        fp32_dir,
        args.work or settings.path("models", "paraphrase", "onnx"),
        args.threads,
        args.runs,
    )
    tradeoff_plot(results["rows"], TRADEOFF_PNG)
    RESULTS_JSON.write_text(
        json.dumps({k: v for k, v in results.items() if k != "onnx_int8"}, indent=2)
    )
    if not args.no_ship:
        ship(Path(results["onnx_int8"]), fp32_dir, SHIPPED_MODEL_DIR)
        training = json.loads((fp32_dir / "training.json").read_text())
        (SHIPPED_MODEL_DIR / "MODEL_CARD.md").write_text(model_card(results, training))
    for row in results["rows"]:
        print(json.dumps(row))
    print(json.dumps(results["weights"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
