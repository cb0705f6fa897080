"""The paraphrase dataset builder and the loaders (project jsonl, MSR TSV)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from knowledge import paraphrase_data
from knowledge.paraphrase_data import Pair, accuracy_f1, load_pairs

REPO = Path(__file__).resolve().parents[1]
SMALL = {"train": 300, "dev": 60, "test": 60}


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_paraphrase_data", REPO / "scripts" / "build_paraphrase_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return _builder()


def test_same_seed_same_bytes_other_seed_other_pairs(builder, tmp_path: Path) -> None:
    builder.write(builder.build(SMALL, seed=7), tmp_path / "a")
    builder.write(builder.build(SMALL, seed=7), tmp_path / "b")
    builder.write(builder.build(SMALL, seed=8), tmp_path / "c")
    for split in SMALL:
        a = (tmp_path / "a" / f"{split}.jsonl").read_bytes()
        assert a == (tmp_path / "b" / f"{split}.jsonl").read_bytes()
        assert a != (tmp_path / "c" / f"{split}.jsonl").read_bytes()


def test_labels_balanced_and_every_kind_present(builder) -> None:
    splits = builder.build(SMALL, seed=7)
    for split, rows in splits.items():
        assert len(rows) == SMALL[split]
        assert sum(r["label"] for r in rows) == SMALL[split] // 2
    train = splits["train"]
    negatives = {r["kind"] for r in train if r["label"] == 0}
    positives = {r["kind"] for r in train if r["label"] == 1}
    assert negatives == {"swap", "number", "entity", "negation", "antonym"}
    assert positives == {"reword", "symmetric"}


def test_splits_are_disjoint_and_eval_uses_unseen_names_and_frames(builder) -> None:
    splits = builder.build(SMALL, seed=7)
    keys = {s: {(r["sentence1"], r["sentence2"]) for r in rows} for s, rows in splits.items()}
    assert not keys["train"] & keys["dev"] and not keys["train"] & keys["test"]
    assert not keys["dev"] & keys["test"]
    assert not {r["frame"] for r in splits["train"]} & builder.HELD_OUT
    assert {r["frame"] for r in splits["test"]} & builder.HELD_OUT
    train_text = " ".join(r["sentence1"] + r["sentence2"] for r in splits["train"])
    eval_people = builder._pools("test")["person"]
    assert not [name for name in eval_people if name in train_text]


def test_word_overlap_does_not_give_the_label_away(builder) -> None:
    rows = builder.build({"train": 1000}, seed=7)["train"]
    pos = [builder._overlap(r) for r in rows if r["label"] == 1]
    neg = [builder._overlap(r) for r in rows if r["label"] == 0]
    assert abs(sum(pos) / len(pos) - sum(neg) / len(neg)) < 0.05


def test_a_swap_negative_has_the_same_words_and_another_meaning(builder) -> None:
    rows = builder.build({"train": 600}, seed=7)["train"]
    same_words = [r for r in rows if r["kind"] == "swap" and builder._overlap(r) == 1.0]
    assert same_words, "some swaps use the same wording with the roles exchanged"
    assert all(r["sentence1"] != r["sentence2"] for r in same_words)


def test_committed_splits_are_the_builder_output(builder) -> None:
    """The shipped jsonl files are exactly what the script makes: anyone can rebuild them."""
    splits = builder.build()
    for split, rows in splits.items():
        shipped = load_pairs(split)
        assert [(p.sentence1, p.sentence2, p.label) for p in shipped] == [
            (r["sentence1"], r["sentence2"], r["label"]) for r in rows
        ]


def _write_msr(folder: Path, name: str, rows: list[tuple[int, str, str]]) -> None:
    lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    lines += [f"{q}\t{i}\t{i + 1}\t{s1}\t{s2}" for i, (q, s1, s2) in enumerate(rows)]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_msr_tsv_loader_reads_the_original_format(tmp_path: Path, monkeypatch) -> None:
    train = [
        (1, 'He said "yes" to the plan.', "He agreed to the plan."),
        (0, "Sales rose 5%.", 'Sales fell 5%, the "report" said.'),
        (1, "It's raining.", "Rain is falling."),
    ]
    _write_msr(tmp_path, "msr_paraphrase_train.txt", train)
    _write_msr(tmp_path, "msr_paraphrase_test.txt", [(0, "A beat B.", "B beat A.")])
    monkeypatch.setattr(paraphrase_data, "MRPC_DEV_SIZE", 1)

    got = load_pairs("train", "mrpc-tsv", tmp_path)
    assert got == [Pair(s1, s2, q) for q, s1, s2 in train[:2]]  # stray quotes kept as text
    assert load_pairs("dev", "mrpc-tsv", tmp_path) == [Pair(train[2][1], train[2][2], 1)]
    assert load_pairs("test", "mrpc-tsv", tmp_path) == [Pair("A beat B.", "B beat A.", 0)]


def test_msr_tsv_loader_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="msr_paraphrase_train.txt"):
        load_pairs("train", "mrpc-tsv", tmp_path)
    (tmp_path / "msr_paraphrase_test.txt").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="MSR header"):
        load_pairs("test", "mrpc-tsv", tmp_path)
    with pytest.raises(ValueError, match="needs the folder"):
        load_pairs("test", "mrpc-tsv")
    with pytest.raises(ValueError, match="Unknown source"):
        load_pairs("test", "paws")


def test_project_splits_load_with_kinds() -> None:
    test = load_pairs("test")
    assert len(test) == 800 and sum(p.label for p in test) == 400
    assert {p.kind for p in test} >= {"swap", "negation", "reword"}


def test_accuracy_and_f1_of_the_paraphrase_class() -> None:
    scores = accuracy_f1([1, 1, 0, 0], [1, 0, 1, 0])
    assert scores == {"accuracy": 0.5, "f1": 0.5}
    assert accuracy_f1([0, 0], [0, 0]) == {"accuracy": 1.0, "f1": 0.0}
