"""Entities lesson: NER quality per recognizer, linking precision/recall, latency per sentence.

Gold: bench/data/entities_gold.jsonl (50 sentences written for this benchmark, the set the
code is tuned on) or, with --gold heldout, bench/data/entities_heldout.jsonl (162 sentences
written blind by someone who never saw the linker). A gold title where the article is in the
offline set, null where the right answer is "no link". Labels are compared lowercase; labels
outside the lesson's 15 (NORP, ORDINAL, CARDINAL) are dropped from the gold.

- NER: precision/recall/F1 over the distinct (entity, label) pairs of each sentence; a
  leading "the" is ignored on both sides.
- Linking end to end: on the recognizer's entities. A link is right when its span overlaps
  a gold entity with that title ("Charles Babbage's" for "Charles Babbage"); a link for an
  entity whose gold title is null, or for a span that overlaps no gold entity, is wrong.
  Recall: gold entities with a title covered by a right link.
- Linking with gold entities: the linker alone, fed the gold spans and labels.
- Latency: wall time per sentence, models loaded, article-embedding cache cold (each
  sentence is new to the linker, as in a chat).
- LLM modes (llm-zero, llm-one): the in-context recognizer without and with the worked
  example, on the first --llm-sentences sentences, if a chat model answers.

Goals: spaCy mode link recall >= 0.95 at precision >= 0.95, NER F1 >= 0.90, <= 50 ms per
sentence; LLM one-shot NER F1 >= 0.85.

Run: .venv/bin/python bench/entities_bench.py [--gold own|heldout] [--modes spacy,llm-zero,llm-one]
     [--llm-sentences N] [--limit N] [--pipeline PACKAGE_OR_PATH] [--no-gazetteer]
     [--save NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from core.settings import Settings
from knowledge.wiki_offline import LINK_THRESHOLD, offline_index
from tools.entities import (
    LABELS,
    LINKABLE,
    SPACY_PACKAGE,
    Entity,
    Recognition,
    embedding_similarity,
    link_entities,
    llm_entities,
    locate,
    spacy_entities,
    spacy_pipeline,
)

DATA = Path(__file__).parent / "data"
GOLD = {"own": DATA / "entities_gold.jsonl", "heldout": DATA / "entities_heldout.jsonl"}
RESULTS = Path(__file__).parent / "results"


def load_gold(name: str = "own") -> list[dict[str, Any]]:
    """The sentences, with gold labels lowercased and only the lesson's 15 kept."""
    sentences = []
    for line in GOLD[name].read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        sentence = json.loads(line)
        sentence["entities"] = [
            {**g, "label": g["label"].lower()}
            for g in sentence["entities"]
            if g["label"].lower() in LABELS
        ]
        sentences.append(sentence)
    return sentences


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
        self.ner_errors: list[str] = []  # missed gold pairs (-) and spurious ones (+)

    def add(self, sentence: dict[str, Any], entities: tuple[Entity, ...], links: Any) -> None:
        gold_pairs = {(key(g["text"]), g["label"]) for g in sentence["entities"]}
        pred_pairs = {(key(e.text), e.label) for e in entities}
        self.ner[0] += len(gold_pairs & pred_pairs)
        self.ner[1] += len(pred_pairs)
        self.ner[2] += len(gold_pairs)
        self.ner_errors += [f"-{t} ({lab})" for t, lab in sorted(gold_pairs - pred_pairs)]
        self.ner_errors += [f"+{t} ({lab})" for t, lab in sorted(pred_pairs - gold_pairs)]

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

        model = make_chat_model(settings, slot=1)  # the tools' slot, as in the app
        model.invoke("Say OK.")
        return model, ""
    except Exception as exc:  # no server, no key, no network: report and skip the mode
        return None, f"{type(exc).__name__}: {exc}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(mode: str, n: int, tally: Tally, ner_ms: list[float], total_ms: list[float]) -> dict:
    p, r, f = prf(*tally.ner)
    lp, lr = tally.linking()
    return {
        "mode": mode,
        "sentences": n,
        "ner_precision": round(p, 3),
        "ner_recall": round(r, 3),
        "ner_f1": round(f, 3),
        "link_precision": round(lp, 3),
        "link_recall": round(lr, 3),
        "links_right": tally.links_right,
        "links_made": tally.links_made,
        "gold_titled": tally.gold_titled,
        "ner_ms_median": round(statistics.median(ner_ms), 1) if ner_ms else None,
        "ner_ms_p90": round(percentile(ner_ms, 0.9), 1) if ner_ms else None,
        "total_ms_median": round(statistics.median(total_ms), 1) if total_ms else None,
        "total_ms_p90": round(percentile(total_ms, 0.9), 1) if total_ms else None,
        "wrong_links": tally.wrong,
        "ner_errors": tally.ner_errors,
    }


def row(s: dict) -> str:
    ms = (
        f"{s['ner_ms_median']} / {s['ner_ms_p90']} | {s['total_ms_median']} / {s['total_ms_p90']}"
        if s["ner_ms_median"] is not None
        else "- | -"
    )
    return (
        f"| {s['mode']} | {s['sentences']} | {s['ner_precision']:.2f} | {s['ner_recall']:.2f} | "
        f"{s['ner_f1']:.2f} | {s['link_precision']:.2f} | {s['link_recall']:.2f} | "
        f"{s['links_right']}/{s['links_made']} | {ms} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", choices=sorted(GOLD), default="own")
    parser.add_argument("--modes", default="spacy,llm-zero,llm-one")
    parser.add_argument("--llm-sentences", type=int, default=10, help="LLM modes on the first N")
    parser.add_argument("--limit", type=int, help="only the first N sentences, every mode")
    parser.add_argument("--pipeline", default=SPACY_PACKAGE, help="spaCy package to compare")
    parser.add_argument(
        "--no-gazetteer", action="store_true", help="spaCy's entities alone, no article names"
    )
    parser.add_argument("--save", help="write the results to bench/results/NAME.json")
    parser.add_argument(
        "--show-errors", action="store_true", help="print misses (keep off on the held-out set)"
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    commit = subprocess.run(  # at the start: others may commit while the LLM modes run
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    gold = load_gold(args.gold)[: args.limit]
    similarity = embedding_similarity(settings)

    start = time.perf_counter()
    offline_index()
    spacy_pipeline(args.pipeline)
    similarity("Warm up the embedding model.", [offline_index().articles["Moon"]])
    load_s = time.perf_counter() - start
    print(f"load (index, spaCy {args.pipeline}, MiniLM): {load_s:.1f} s")
    print(
        f"{args.gold}: {len(gold)} sentences, {sum(len(s['entities']) for s in gold)} gold "
        f"entities, threshold {LINK_THRESHOLD}, torch threads {settings.torch_threads}\n"
    )

    results = []
    notes = []
    model = None
    server = contextlib.ExitStack()
    if settings.provider == "local" and "llm" in args.modes:
        from agent.llm_server import LLMServerError, LocalLLMServer

        try:
            server.enter_context(LocalLLMServer(settings))  # ours on the port, or one we start
        except LLMServerError as exc:
            notes.append(f"local LLM server: {exc}")
    for mode in args.modes.split(","):
        if mode.startswith("llm"):
            if model is None:
                model, reason = chat_model_or_reason(settings)
            if model is None:
                notes.append(f"{mode} skipped: no chat model ({reason})")
                continue
            sentences = gold[: args.llm_sentences]
            shots = 0 if mode == "llm-zero" else 1

            def recognize(text: str, model: Any = model, shots: int = shots) -> Recognition:
                return llm_entities(text, model, shots=shots)
        else:
            sentences = gold

            def recognize(text: str) -> Recognition:
                return spacy_entities(text, args.pipeline, not args.no_gazetteer)

        tally = Tally()
        ner_ms, total_ms = [], []
        for n, sentence in enumerate(sentences, 1):
            t0 = time.perf_counter()
            try:
                recognition = recognize(sentence["text"])
            except Exception as exc:  # the LLM server went away: no result for this mode
                notes.append(f"{mode} stopped at sentence {n}: {type(exc).__name__}: {exc}")
                break
            t1 = time.perf_counter()
            if mode.startswith("llm"):
                print(f"  {mode} {n}/{len(sentences)}: {t1 - t0:.1f} s", flush=True)
            links, _ = link_entities(sentence["text"], recognition.entities, settings, similarity)
            t2 = time.perf_counter()
            ner_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            tally.add(sentence, recognition.entities, links)
        meta = spacy_pipeline(args.pipeline).meta
        pipeline = f"{meta['lang']}_{meta['name']} {meta['version']}"
        if len(ner_ms) < len(sentences):
            continue
        gazetteer = "" if args.no_gazetteer else " + gazetteer"
        name = f"{mode} ({pipeline}{gazetteer})" if mode == "spacy" else mode
        results.append(summary(name, len(sentences), tally, ner_ms, total_ms))

    server.close()
    oracle = Tally()
    for sentence in gold:
        entities = gold_entities(sentence)
        links, _ = link_entities(sentence["text"], entities, settings, similarity)
        oracle.add(sentence, entities, links)
    results.append(summary("gold entities", len(gold), oracle, [], []))

    print(
        "| mode | sentences | NER P | NER R | NER F1 | link P | link R | links | "
        "NER ms (median / p90) | NER+link ms (median / p90) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(row(result))
    linkable_null = [
        g for s in gold for g in s["entities"] if g["label"] in LINKABLE and not g["title"]
    ]
    print(f"\ngold entities that must stay unlinked: {len(linkable_null)}")
    if args.show_errors:
        for result in results:
            if result["wrong_links"]:
                print(f"wrong links ({result['mode']}): " + "; ".join(result["wrong_links"]))
            if result["ner_errors"]:
                print(f"NER errors ({result['mode']}): " + "; ".join(result["ner_errors"]))
    for note in notes:
        print(note)
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        record = {
            "gold": args.gold,
            "pipeline": args.pipeline,
            "gazetteer": not args.no_gazetteer,
            "commit": commit,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_s": round(load_s, 1),
            "threshold": LINK_THRESHOLD,
            "results": results,
            "notes": notes,
        }
        out = RESULTS / f"{args.save}.json"
        out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"saved {out}")


if __name__ == "__main__":
    main()
