"""Paraphrase pairs: the project's own splits (offline, default) or GLUE MRPC (for users who
have it), behind one loader so the fine-tuning script and the benchmark switch with a flag.

Every source yields `Pair`s with label 1 = "same meaning", as in MRPC.
"""

from __future__ import annotations

import csv
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

PARAPHRASE_DIR = Path(__file__).resolve().parent / "paraphrase"
PROJECT_DATA_DIR = PARAPHRASE_DIR / "pairs"
REWRITES_FILE = PARAPHRASE_DIR / "rewrites.jsonl"  # the LLM's cached rewrites (stage 1)
CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
SHIPPED_MODEL_DIR = PARAPHRASE_DIR / "model-int8"
SOURCES = ("project", "mrpc", "mrpc-tsv")
SPLITS = ("train", "dev", "test")
MRPC_DEV_SIZE = 408  # GLUE's MRPC validation split: the size of our dev cut of the MSR train file


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
UNUSABLE = re.compile(r"[()\[\];:\"`*#|]|\b(e\.g|i\.e|etc|approx|St|Dr|Mr|Mrs|No)\.")


def split_sentences(text: str) -> list[str]:
    """Sentence split good enough for encyclopedic prose: a stop followed by a capital."""
    return [s.strip() for s in SENTENCE_SPLIT.split(text) if s.strip()]


def usable(sentence: str) -> bool:
    """Plain declarative sentences of 8-24 words: long enough to reword, short enough for the
    generation budget, without brackets, quotes or lists that a rewrite mangles."""
    return (
        8 <= len(sentence.split()) <= 24
        and sentence.endswith(".")
        and sentence.isascii()
        and not UNUSABLE.search(sentence)
    )


def corpus_sentences() -> list[tuple[str, str]]:
    """(origin, sentence) from the course corpus, prose only (no headings, code, lists)."""
    out = []
    for md in sorted(CORPUS_DIR.glob("*.md")):
        in_code = False
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                in_code = not in_code
            if in_code or not line or line[0] in "#-|>*0123456789`":
                continue
            out += [(f"corpus:{md.stem}", s) for s in split_sentences(line) if usable(s)]
    return out


def wiki_sentences() -> list[tuple[str, str]]:
    """(origin, sentence) from the offline Wikipedia extracts, in title order."""
    from knowledge.wiki_offline import load_articles

    articles = load_articles()
    return [
        (f"wiki:{title}", s)
        for title in sorted(articles)
        for s in split_sentences(articles[title].extract)
        if usable(s)
    ]


def fp32_model_dir(settings: Settings) -> Path:
    """Where `scripts/finetune_paraphrase.py` saves the fp32 model: made, not shipped."""
    return settings.path("models", "paraphrase", "fp32")


@dataclass(frozen=True)
class Pair:
    sentence1: str
    sentence2: str
    label: int
    kind: str = ""  # for the project data: how the pair was made (swap, negation, reword...)


def load_pairs(split: str, source: str = "project", path: Path | None = None) -> list[Pair]:
    """One split from a source.

    - `project`: `knowledge/paraphrase/pairs/{split}.jsonl` (or `path`), built by
      `scripts/build_paraphrase_data.py`.
    - `mrpc`: GLUE MRPC through `datasets.load_dataset("glue", "mrpc")` (needs the network
      once, then the Hugging Face cache); its `validation` split is our `dev`.
    - `mrpc-tsv`: the original MSR files `msr_paraphrase_{train,test}.txt` in the folder
      `path`. MSR has no dev split: `dev` is the last 408 pairs of the train file (the size
      of GLUE's validation split) and `train` the rest, so no pair is in both.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    if source == "project":
        return load_jsonl((path or PROJECT_DATA_DIR) / f"{split}.jsonl")
    if source == "mrpc":
        return load_mrpc_hub(split)
    if source == "mrpc-tsv":
        if path is None:
            raise ValueError("The mrpc-tsv source needs the folder holding msr_paraphrase_*.txt.")
        return load_mrpc_tsv(path, split)
    raise ValueError(f"Unknown source {source!r}: choose one of {', '.join(SOURCES)}.")


def write_splits(splits: dict[str, list[dict]], out_dir: Path) -> None:
    """Each split as `<split>.jsonl` under `out_dir`, one pair a line: what `load_jsonl`
    reads back, written by both data builders."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        with (out_dir / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of two sentences' word sets (case and punctuation ignored): high for
    hard negatives, which the data cards report per split."""
    wa, wb = word_set(a), word_set(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def word_set(text: str) -> set[str]:
    return set(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def load_jsonl(file: Path) -> list[Pair]:
    with Path(file).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Pair(r["sentence1"], r["sentence2"], int(r["label"]), r.get("kind", "")) for r in rows]


def load_mrpc_tsv(folder: Path, split: str) -> list[Pair]:
    """MSR Paraphrase Corpus TSV: `Quality  #1 ID  #2 ID  #1 String  #2 String`.

    The files contain stray quote characters, so quoting is off (as in GLUE's own reader).
    """
    name = "msr_paraphrase_test.txt" if split == "test" else "msr_paraphrase_train.txt"
    file = Path(folder) / name
    if not file.exists():
        raise FileNotFoundError(f"{file} not found: download the MSR Paraphrase Corpus there.")
    with file.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if not header or header[0].strip().lower() != "quality":
            raise ValueError(f"{file} does not start with the MSR header (Quality, #1 ID, ...).")
        pairs = [Pair(row[3], row[4], int(row[0])) for row in reader if len(row) >= 5]
    if split == "train":
        return pairs[:-MRPC_DEV_SIZE]
    if split == "dev":
        return pairs[-MRPC_DEV_SIZE:]
    return pairs


def load_mrpc_hub(split: str) -> list[Pair]:
    from datasets import load_dataset

    hub_split = {"train": "train", "dev": "validation", "test": "test"}[split]
    ds = load_dataset("glue", "mrpc", split=hub_split)
    return [Pair(r["sentence1"], r["sentence2"], int(r["label"])) for r in ds]


def accuracy_f1(labels: list[int], predictions: list[int]) -> dict[str, float]:
    """Accuracy and F1 of the positive class (paraphrase), the two numbers GLUE reports."""
    tp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and p == 1)
    fp = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, predictions, strict=True) if y == 1 and p == 0)
    correct = sum(1 for y, p in zip(labels, predictions, strict=True) if y == p)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"accuracy": correct / len(labels) if labels else 0.0, "f1": f1}
