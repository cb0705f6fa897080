"""A simple, explainable grounding check: are an answer's checkable facts in the evidence?

Facts are the two kinds of claim a small model most often invents and a string check can
verify: numbers (counts, years, percentages, sizes) and names (capitalised words and runs
of them: people, places, models, libraries). An answer is grounded when every fact it
states appears in the evidence: the passages it cites (all retrieved passages when it cites
none) for document search, the Cypher and returned rows for the graph, plus the user's own
question (repeating what the user wrote is not inventing). Plain prose ("quantization makes
models smaller") is not checked: this measures invented specifics, not paraphrase quality.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

# Answers from real benchmark turns, each with the evidence the check saw and a grounded
# yes/no given by a person who read both: how far the string check can be trusted.
LABELS = Path(__file__).resolve().parent / "data" / "grounding_labels.jsonl"
CITATION = re.compile(r"\[\d+(?:\s*[-–,]\s*\d+)*\]")
LIST_MARKER = re.compile(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+")
MARKUP = re.compile(r"[*_#>`|]")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")
NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|de\s+|da\s+|von\s+)?[A-Z][\w'’-]*)*")
# Capitalised only because they start a sentence or a clause: never names by themselves.
COMMON = frozenset({
    "a", "according", "all", "also", "an", "and", "as", "at", "based", "both", "but", "by",
    "each", "finally", "first", "for", "from", "great", "he", "here", "however", "i", "if", "in",
    "it", "its", "let", "my", "no", "note", "now", "of", "ok", "okay", "on", "or", "second",
    "she", "so", "some", "sure", "that", "the", "then", "there", "these", "they", "this",
    "those", "to", "using", "we", "what", "when", "which", "while", "yes", "you", "your",
})  # fmt: skip


def _normalise(text: str) -> str:
    return text.replace("’", "'").replace("'s ", " ").lower()


def numbers_in(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in NUMBER.findall(text.replace(",", ""))}


def facts(answer: str) -> list[str]:
    """The numbers and names an answer states, citation markers and list numbers removed."""
    text = MARKUP.sub(" ", LIST_MARKER.sub("\n", CITATION.sub(" ", answer)))
    found = NUMBER.findall(text.replace(",", ""))
    for match in NAME.finditer(text):
        words = match.group().split()
        while words and words[0].lower() in COMMON:
            words.pop(0)
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:\n"
        if not words or (len(words) == 1 and (sentence_start or len(words[0]) < 2)):
            continue
        found.append(" ".join(words))
    return list(dict.fromkeys(found))


def supported(fact: str, evidence: str) -> bool:
    """A number matches a number of the evidence by value (8 = 8.0, 1,000 = 1000); a name
    matches as a phrase, or when each of its words of 3+ letters is an evidence word
    (possessives and word order differ between a row and a sentence)."""
    if NUMBER.fullmatch(fact):
        return float(fact.replace(",", "")) in numbers_in(evidence)
    haystack = _normalise(evidence)
    phrase = _normalise(fact + " ").strip()
    if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", haystack):
        return True
    words = set(re.findall(r"[\w'-]+", haystack))
    long_words = [w for w in re.findall(r"[\w'-]+", phrase) if len(w) >= 3]
    return bool(long_words) and all(w in words for w in long_words)


def check(answer: str, evidence: str) -> dict[str, Any]:
    """Facts, the unsupported ones, and the verdict for one answer."""
    stated = facts(answer)
    missing = [f for f in stated if not supported(f, evidence)]
    return {"facts": stated, "unsupported": missing, "grounded": not missing}


def agreement(items: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the check's verdict matches the hand label, Cohen's kappa (agreement beyond
    what the two label rates give by chance), and every disagreement with its facts."""
    pairs = [(check(i["answer"], i["evidence"])["grounded"], bool(i["grounded"])) for i in items]
    n = len(pairs)
    agree = sum(c == h for c, h in pairs)
    if not n:
        return {"items": 0, "agree": 0, "accuracy": None, "kappa": None, "disagreements": []}
    check_yes = sum(c for c, _ in pairs) / n
    hand_yes = sum(h for _, h in pairs) / n
    chance = check_yes * hand_yes + (1 - check_yes) * (1 - hand_yes)
    observed = agree / n
    kappa = (observed - chance) / (1 - chance) if chance < 1 else None
    disagreements = [
        {"id": i["id"], "hand": h, "check": c, "facts": check(i["answer"], i["evidence"])}
        for i, (c, h) in zip(items, pairs, strict=True)
        if c != h
    ]
    return {
        "items": n,
        "agree": agree,
        "accuracy": observed,
        "kappa": kappa,
        "hand_grounded": sum(h for _, h in pairs),
        "check_grounded": sum(c for c, _ in pairs),
        "disagreements": disagreements,
    }


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def agreement_text(result: dict[str, Any]) -> str:
    if not result["items"]:
        return "grounding check vs hand labels: no labelled sample"
    kappa = "-" if result["kappa"] is None else f"{result['kappa']:.2f}"
    lines = [
        f"grounding check vs hand labels: {result['agree']}/{result['items']} agree "
        f"({100 * result['accuracy']:.0f}%), Cohen's kappa {kappa}; grounded by hand "
        f"{result['hand_grounded']}, by the check {result['check_grounded']}"
    ]
    lines += [
        f"- {d['id']}: hand {d['hand']}, check {d['check']} "
        f"(unsupported: {', '.join(d['facts']['unsupported']) or 'none'})"
        for d in result["disagreements"]
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="the grounding check against hand labels")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = agreement(load_labels(args.labels))
    print(json.dumps(result, indent=1) if args.json else agreement_text(result))


if __name__ == "__main__":
    main()
