"""Entities lesson: NER quality per recognizer, linking precision/recall, latency per sentence.

Gold: bench/data/entities_gold.jsonl (50 sentences written for this benchmark; a gold title
where the article is in the offline set, null where the right answer is "no link").

- NER: precision/recall/F1 over the distinct (entity, label) pairs of each sentence; a
  leading "the" is ignored on both sides. Only the 15 labels of the lesson count.
- Linking end to end: on the recognizer's entities. A link is right when its span overlaps
  a gold entity with that title ("Charles Babbage's" for "Charles Babbage"); a link for an
  entity whose gold title is null, or for a span that overlaps no gold entity, is wrong.
  Recall: gold entities with a title covered by a right link.
- Linking with gold entities: the linker alone, fed the gold spans and labels.
- Latency: wall time per sentence, models loaded, article-embedding cache cold (each
  sentence is new to the linker, as in a chat). LLM mode runs only if a chat model answers.

Goals: linking precision >= 0.9; spaCy mode < 50 ms per sentence excluding model load.

Run: .venv/bin/python bench/entities_bench.py [--modes spacy,llm] [--llm-sentences N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

from agent.settings import Settings
from knowledge.wiki_offline import LINK_THRESHOLD, offline_index
from tools.entities import (
    LINKABLE,
    Entity,
    Recognition,
    embedding_similarity,
    link_entities,
    llm_entities,
    locate,
    spacy_entities,
    spacy_pipeline,
)

GOLD = Path(__file__).parent / "data" / "entities_gold.jsonl"


def load_gold() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line]


def key(text: str) -> str:
    return re.sub(r"^the\s+", "", text.strip(), flags=re.IGNORECASE)


def prf(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
    p = tp / predicted if predicted else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


class Tally:
    """Counts for NER and linking over a run."""

    def __init__(self) -> None:
        self.ner = [0, 0, 0]  # true positives, predicted, gold
        self.links_right = 0  # links whose span overlaps a gold entity of that title
        self.links_made = 0  # distinct linked spans
        self.gold_found = 0  # gold entities with a title that some right link covers
        self.gold_titled = 0  # gold entities with a title
        self.wrong: list[str] = []

    def add(self, sentence: dict[str, Any], entities: tuple[Entity, ...], links: Any) -> None:
        gold_pairs = {(key(g["text"]), g["label"]) for g in sentence["entities"]}
        pred_pairs = {(key(e.text), e.label) for e in entities}
        self.ner[0] += len(gold_pairs & pred_pairs)
        self.ner[1] += len(pred_pairs)
        self.ner[2] += len(gold_pairs)

        titles = {g["text"]: g["title"] for g in sentence["entities"]}
        gold_spans = gold_entities(sentence)
        decided = {(link.text, link.label): link for link in links}
        seen: set[str] = set()
        found: set[str] = set()
        for entity in entities:
            link = decided.get((entity.text, entity.label))
            if link is None or not link.linked or entity.text in seen:
                continue
            seen.add(entity.text)
            overlapping = [
                g.text for g in gold_spans if g.start < entity.end and entity.start < g.end
            ]
            hits = [g for g in overlapping if titles[g] == link.title]
            found.update(hits)
            if hits:
                self.links_right += 1
            else:
                gold_title = " / ".join(str(titles[g]) for g in overlapping) or "not an entity"
                self.wrong.append(f"{entity.text} -> {link.title} (gold: {gold_title})")
        self.links_made += len(seen)
        self.gold_found += len(found)
        self.gold_titled += sum(1 for title in titles.values() if title)

    def linking(self) -> tuple[float, float]:
        precision = self.links_right / self.links_made if self.links_made else 0.0
        recall = self.gold_found / self.gold_titled if self.gold_titled else 0.0
        return precision, recall


def gold_entities(sentence: dict[str, Any]) -> tuple[Entity, ...]:
    spans, _ = locate(sentence["text"], [(g["text"], g["label"]) for g in sentence["entities"]])
    return spans


def chat_model_or_reason(settings: Settings) -> tuple[Any, str]:
    try:
        from agent.providers import make_chat_model

        model = make_chat_model(settings)
        model.invoke("Say OK.")
        return model, ""
    except Exception as exc:  # no server, no key, no network: report and skip the mode
        return None, f"{type(exc).__name__}: {exc}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="spacy,llm")
    parser.add_argument("--llm-sentences", type=int, default=10, help="LLM mode on the first N")
    args = parser.parse_args()
    settings = Settings.from_env()
    gold = load_gold()
    similarity = embedding_similarity(settings)

    start = time.perf_counter()
    offline_index()
    spacy_pipeline()
    similarity("Warm up the embedding model.", [offline_index().articles["Moon"]])
    print(f"load (index, spaCy, MiniLM): {time.perf_counter() - start:.1f} s")
    print(
        f"{len(gold)} sentences, {sum(len(s['entities']) for s in gold)} gold entities, "
        f"threshold {LINK_THRESHOLD}, torch threads {settings.torch_threads}\n"
    )

    rows = []
    notes = []
    for mode in args.modes.split(","):
        if mode == "llm":
            model, reason = chat_model_or_reason(settings)
            if model is None:
                notes.append(f"llm mode skipped: no chat model ({reason})")
                continue
            sentences = gold[: args.llm_sentences]

            def recognize(text: str, model: Any = model) -> Recognition:
                return llm_entities(text, model)
        else:
            sentences = gold

            def recognize(text: str) -> Recognition:
                return spacy_entities(text)

        tally = Tally()
        ner_ms, total_ms = [], []
        for sentence in sentences:
            t0 = time.perf_counter()
            recognition = recognize(sentence["text"])
            t1 = time.perf_counter()
            links, _ = link_entities(sentence["text"], recognition.entities, settings, similarity)
            t2 = time.perf_counter()
            ner_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            tally.add(sentence, recognition.entities, links)
        rows.append((mode, len(sentences), tally, ner_ms, total_ms))

    oracle = Tally()
    for sentence in gold:
        entities = gold_entities(sentence)
        links, _ = link_entities(sentence["text"], entities, settings, similarity)
        oracle.add(sentence, entities, links)

    print(
        "| mode | sentences | NER P | NER R | NER F1 | link P | link R | links | "
        "NER ms (median / p90) | NER+link ms (median / p90) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, n, tally, ner_ms, total_ms in rows:
        p, r, f = prf(*tally.ner)
        lp, lr = tally.linking()
        print(
            f"| {mode} | {n} | {p:.2f} | {r:.2f} | {f:.2f} | {lp:.2f} | {lr:.2f} | "
            f"{tally.links_right}/{tally.links_made} | {statistics.median(ner_ms):.1f} / "
            f"{percentile(ner_ms, 0.9):.1f} | {statistics.median(total_ms):.1f} / "
            f"{percentile(total_ms, 0.9):.1f} |"
        )
    lp, lr = oracle.linking()
    print(
        f"| gold entities | {len(gold)} | - | - | - | {lp:.2f} | {lr:.2f} | "
        f"{oracle.links_right}/{oracle.links_made} | - | - |"
    )
    linkable_null = [
        g for s in gold for g in s["entities"] if g["label"] in LINKABLE and not g["title"]
    ]
    print(f"\ngold entities that must stay unlinked: {len(linkable_null)}")
    for mode, _, tally, _, _ in rows:
        if tally.wrong:
            print(f"wrong links ({mode}): " + "; ".join(tally.wrong))
    if oracle.wrong:
        print("wrong links (gold entities): " + "; ".join(oracle.wrong))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
