"""The text-to-Cypher example bank: questions with the Cypher that answers them, read from
`cypher_examples.md`. `text2cypher` puts them in its prompts (the `always` ones in every
prompt, the others chosen by similarity); `cypher_checks` compares a query with them (a
name copied from an example)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EXAMPLE_BANK = Path(__file__).resolve().parent / "cypher_examples.md"
ALWAYS_SHOWN = "## Always shown"  # the bank's section of examples that every prompt holds


@dataclass(frozen=True)
class Example:
    """A question and the Cypher that answers it: one question shape for the model to copy."""

    question: str
    cypher: str
    always: bool = False  # in every prompt, not chosen by similarity

    def render(self, index: str) -> str:
        cypher = self.cypher.replace("{index}", index)
        return f"Question: {self.question}\n```cypher\n{cypher}\n```"


def parse_examples(text: str) -> tuple[Example, ...]:
    """The examples of a bank file: each `Question: ...` line with the ```cypher block after
    it; those under the `## Always shown` heading (up to the next heading) are `always`.
    A question without its block is an error, not a silently shorter bank."""
    headings = [(m.start(), m.group(0).strip()) for m in re.finditer(r"^## .*$", text, re.M)]
    examples = tuple(
        Example(
            m.group(1).strip(),
            m.group(2).strip(),
            always=max(((s, h) for s, h in headings if s < m.start()), default=(0, ""))[1]
            == ALWAYS_SHOWN,
        )
        for m in re.finditer(r"^Question:([^\n]+)\n```cypher\n(.*?)\n```", text, re.M | re.S)
    )
    if len(examples) != len(re.findall(r"^Question:", text, re.M)):
        raise ValueError("every 'Question:' line needs a ```cypher block right after it")
    return examples


@lru_cache(maxsize=2)
def example_bank(path: Path = EXAMPLE_BANK) -> tuple[Example, ...]:
    return parse_examples(path.read_text(encoding="utf-8"))
