"""The paraphrase dataset builder and the loaders (project jsonl, MSR TSV)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from knowledge import paraphrase_data
from knowledge.paraphrase_data import Pair, accuracy_f1, load_pairs, write_splits
from tests.conftest import load_script


@pytest.fixture(scope="module")
def builder():
    return load_script("build_paraphrase_data")


@pytest.fixture(scope="module")
def nlp(builder):
    return builder._nlp()


def _rng() -> random.Random:
    return random.Random(7)


def test_voice_turns_active_into_passive_and_back(builder, nlp) -> None:
    active = "Gustave Eiffel designed the tower in 1887."
    passive = builder.voice(nlp(active), _rng())
    assert passive == "The tower was designed by Gustave Eiffel in 1887."
    assert builder.voice(nlp(passive), _rng()) == active
    # a second verb keeps its subject: no half-passive sentence
    assert builder.voice(nlp("The firm opened a shop in Ohio and hired 20 people."), _rng()) is None


def test_reorder_moves_a_phrase_without_losing_words(builder, nlp) -> None:
    out = builder.reorder(nlp("In 1887, Gustave Eiffel designed the tower."), _rng())
    assert out == "Gustave Eiffel designed the tower in 1887."
    back = builder.reorder(nlp(out), _rng())
    assert back == "In 1887, Gustave Eiffel designed the tower."


def test_negatives_change_one_thing(builder, nlp) -> None:
    doc = nlp("Paris is the capital of France.")
    assert builder.role_swap(doc, _rng()) == "France is the capital of Paris."
    assert builder.negation(doc, _rng()) == "Paris is not the capital of France."
    assert builder.negation(nlp("Paris is not the capital of France."), _rng()) == (
        "Paris is the capital of France."
    )
    assert builder.negation(nlp("Eiffel designed the tower."), _rng()) == (
        "Eiffel did not design the tower."
    )
    assert builder.antonym(nlp("It is the largest city."), _rng()) == "It is the smallest city."
    changed = builder.number_date(nlp("The bridge opened in 1932."), _rng())
    assert changed != "The bridge opened in 1932." and "1932" not in changed
    swap = builder.make_entity_change({"GPE": ["Lisbon", "Paris"]})
    assert swap(doc, _rng()) == "Paris is the capital of Lisbon."


def test_role_swaps_exchange_who_did_what_with_the_same_words(builder, nlp) -> None:
    active = nlp("Germany defeated Brazil in the final.")
    swaps = {builder.role_swap(active, random.Random(i)) for i in range(8)}
    # the mirror of the voice paraphrase "Brazil was defeated by Germany in the final."
    assert swaps == {
        "Brazil defeated Germany in the final.",
        "Germany was defeated by Brazil in the final.",
    }
    assert (
        builder.voice(active, _rng(), swap=True) == "Germany was defeated by Brazil in the final."
    )
    assert builder.role_swap(nlp("The cat chased the dog."), random.Random(1)) in (
        "The dog chased the cat.",
        "The cat was chased by the dog.",
    )
    assert builder.role_swap(nlp("Water is heavier than oil."), _rng()) == (
        "Oil is heavier than water."
    )
    # names in one list keep the meaning when swapped: no role swap from them
    assert (
        builder.role_swap(nlp("He worked with Smith, Jones and Brown in London."), _rng()) is None
    )


def test_llm_rewrites_that_lose_or_invent_facts_are_dropped(builder) -> None:
    src = "The museum in Lyon opened in 1975 with 300 paintings."
    good = "Opened in 1975, the Lyon museum started out with 300 paintings."
    assert builder.rewrite_problem(src, good, "reword") is None
    assert builder.rewrite_problem(src, good.replace("300", "200"), "reword") == (
        "number lost or changed"
    )
    assert "new name" in builder.rewrite_problem(
        src, "Opened in 1975, the Paris museum had 300 paintings.", "reword"
    )
    assert builder.rewrite_problem(src, src.replace(" with", ", with"), "reword") == "copy"
    assert builder.rewrite_problem(src, "1. Museum", "reword") == "not a sentence"


def test_description_positive_only_for_a_defining_first_sentence(builder) -> None:
    first = "Hathor was a major goddess in ancient Egyptian religion who played many roles."
    made = builder.description_sentence("Hathor", "Goddess of the sky in Egypt", first)
    assert made == "Hathor was a goddess of the sky in Egypt."
    assert builder.description_sentence("Hathor", "Goddess (1990)", first) is None
    assert builder.description_sentence("Isis", "Goddess", first) is None


def test_splits_are_by_article_and_seeded(builder) -> None:
    splits = [builder.split_of(f"wiki:T{i}", 101) for i in range(2000)]
    assert splits == [builder.split_of(f"wiki:T{i}", 101) for i in range(2000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "dev", "test")}
    assert 0.75 < share["train"] < 0.85 and 0.05 < share["dev"] < 0.11


@pytest.mark.slow
def test_small_build_is_reproducible_balanced_and_disjoint(builder, tmp_path: Path) -> None:
    sizes = {"train": 200, "dev": 40, "test": 40}
    a = builder.build(sizes, seed=7, n_sources=900)
    write_splits(a, tmp_path / "a")
    write_splits(builder.build(sizes, seed=7, n_sources=900), tmp_path / "b")
    for split in sizes:
        assert (tmp_path / "a" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "b" / f"{split}.jsonl"
        ).read_bytes()
    for rows in a.values():
        assert abs(sum(r["label"] for r in rows) - len(rows) / 2) <= 1
        assert all(r["origin"] for r in rows)
    origins = {s: {r["origin"] for r in rows} for s, rows in a.items()}
    assert not origins["train"] & origins["test"] and not origins["dev"] & origins["test"]
    kinds = {r["kind"] for r in a["train"]}
    assert set(builder.NEGATIVE_KINDS) <= kinds


@pytest.mark.slow
def test_committed_splits_are_the_builder_output(builder) -> None:
    """The shipped jsonl files are exactly what the script makes from the cached rewrites."""
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
    assert len(test) == 600 and sum(p.label for p in test) == 300
    assert {p.kind for p in test} >= {"role-swap", "negation", "partial-overlap", "synonym"}


def test_accuracy_and_f1_of_the_paraphrase_class() -> None:
    scores = accuracy_f1([1, 1, 0, 0], [1, 0, 1, 0])
    assert scores == {"accuracy": 0.5, "f1": 0.5}
    assert accuracy_f1([0, 0], [0, 0]) == {"accuracy": 1.0, "f1": 0.0}


def test_batched_rewrite_replies_go_to_their_sentence_by_number(tmp_path: Path) -> None:
    gen = load_script("generate_paraphrase_rewrites")
    reply = "1. First one.\n3) Third one.\n3. A repeat is ignored.\nchatter\n"
    assert gen.parse_numbered(reply, 3) == ["First one.", "", "Third one."]
    prompt = gen.batch_prompt("condense", ["A b c d.", "E f g h."])
    assert prompt[-1]["content"] == "1. A b c d.\n2. E f g h."
    cache = tmp_path / "rewrites.jsonl"
    rows = [{"sentence": s, "style": "reword", "rewrite": ""} for s in ("b", "a", "z")]
    cache.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gen.sort_cache(cache, [{"sentence": "a"}, {"sentence": "b"}])
    assert [json.loads(x)["sentence"] for x in cache.read_text().splitlines()] == ["z", "a", "b"]


def test_oversample_repeats_the_named_kinds_only() -> None:
    finetune = load_script("finetune_paraphrase")
    pairs = [Pair("a", "b", 0, "role-swap"), Pair("c", "d", 1, "synonym")]
    out = finetune.oversample(pairs, "role-swap=3", 1)
    assert sorted(p.kind for p in out) == ["role-swap"] * 3 + ["synonym"]
    assert finetune.oversample(pairs, "", 1) == pairs
