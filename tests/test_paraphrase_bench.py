"""The paraphrase benchmark's scoring: per kind of pair, and the first held-out run kept."""

from __future__ import annotations

from bench import paraphrase_bench
from knowledge.paraphrase_data import Pair, load_jsonl


def test_scores_per_kind_count_right_answers_against_each_kind_label() -> None:

    pairs = [
        Pair("a", "b", 1, "reword"),
        Pair("c", "d", 1, "reword"),
        Pair("e", "f", 0, "negation"),
        Pair("g", "h", 0, "negation"),
    ]
    out = paraphrase_bench.score(pairs, [1, 0, 0, 1])
    assert out["accuracy"] == 0.5 and out["f1"] == 0.5
    assert out["by_kind"] == {
        "negation": {"label": 0, "pairs": 2, "accuracy": 0.5},
        "reword": {"label": 1, "pairs": 2, "accuracy": 0.5},
    }


def test_the_held_out_set_loads_balanced_with_its_kinds() -> None:
    """Only counts are looked at here: the pairs stay unread by whoever builds the data."""
    pairs = load_jsonl(paraphrase_bench.HELDOUT)
    assert len(pairs) == 240 and sum(p.label for p in pairs) == 120
    assert len({p.kind for p in pairs}) == 9


def test_each_held_out_set_keeps_its_own_first_run() -> None:
    held2 = paraphrase_bench.ROOT / "bench" / "data" / "paraphrase_heldout2.jsonl"
    assert paraphrase_bench.first_results_file(paraphrase_bench.HELDOUT) == (
        paraphrase_bench.FIRST_HELDOUT
    )
    assert paraphrase_bench.first_results_file(held2).name == "paraphrase-heldout2-first.json"
    assert paraphrase_bench.set_name(paraphrase_bench.HELDOUT) == "held-out"
    assert paraphrase_bench.set_name(held2) == "paraphrase_heldout2"
