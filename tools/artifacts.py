"""The artifact contract between tools and the UI.

A tool returns `(text_for_the_model, artifact)`; the artifact is a plain, JSON-serialisable
dict so it survives the LangGraph checkpointer and can be rendered again on resume. The UI
(`app.py` through `ui/render.py`) knows these part kinds and nothing about the tools.

    {"tool": "search_documents", "summary": "...", "parts": [part, ...]}

Part kinds:
    markdown  {"content": str}
    table     {"columns": [str], "rows": [[Any]], "name": str}
    image     {"path": str, "name": str}             # a PNG/JPEG file on disk
    plotly    {"figure": dict, "name": str}          # plotly.io.to_json(fig) parsed back
    code      {"content": str, "language": str, "name": str}
    custom    {"component": str, "props": dict, "name": str}   # public/elements/<component>.jsx
    html      {"path": str, "name": str}             # a self-contained HTML file, offered as download

Any part may carry `"cite": n` (see `cite()`): it is shown only when the final answer used
passage n of the artifact's `passages`, a list of numbered passages (`{"n": int, "text": str,
...}`, see `artifact(passages=...)`); `cited_passages()` says which ones an answer used.

An artifact may also carry `facts` (see `facts()`): what an answer about the result must
state, which the agent checks before a turn ends; and `follow_up`, a JSON-able value the
tool wants back when the learner's next question to it points back to this one ("and for
computer vision?"): the agent passes it as the tool's `earlier` argument, which the model
never fills in (`InjectedToolArg`).
"""

from __future__ import annotations

import re
from typing import Any

Artifact = dict[str, Any]


def artifact(
    tool: str,
    parts: list[dict[str, Any]],
    summary: str = "",
    passages: list[dict[str, Any]] | None = None,
) -> Artifact:
    """`passages`, when given, are the numbered passages the parts may `cite`."""
    result: Artifact = {"tool": tool, "summary": summary, "parts": parts}
    if passages is not None:
        result["passages"] = passages
    return result


def markdown(content: str) -> dict[str, Any]:
    return {"kind": "markdown", "content": content}


def table(columns: list[str], rows: list[list[Any]], name: str = "table") -> dict[str, Any]:
    return {
        "kind": "table",
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "name": name,
    }


def image(path: str, name: str = "image") -> dict[str, Any]:
    return {"kind": "image", "path": str(path), "name": name}


def plotly(figure: dict[str, Any], name: str = "plot") -> dict[str, Any]:
    return {"kind": "plotly", "figure": figure, "name": name}


def code(content: str, language: str = "text", name: str = "code") -> dict[str, Any]:
    return {"kind": "code", "content": content, "language": language, "name": name}


def custom(component: str, props: dict[str, Any], name: str = "view") -> dict[str, Any]:
    return {"kind": "custom", "component": component, "props": props, "name": name}


def html(path: str, name: str = "view.html") -> dict[str, Any]:
    return {"kind": "html", "path": str(path), "name": name}


def facts(
    must: list[list[str]] | None = None,
    need: int | None = None,
    stance: bool | None = None,
    passages: list[int] | None = None,
    statement: str = "",
    lead: str = "",
    numbers: list[str] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """What an answer about this result has to state, for the agent's answer check.

    `must` lists the facts, each as the ways it may be written ("0.55", "55%"); at least
    `need` of them (default: all) must appear. `stance` is a yes/no verdict (True: the two
    sentences mean the same) the answer must not contradict. `passages` are the numbers an
    answer may cite, and it must cite one. `statement` is the result in one plain sentence:
    the answer written from the result when the model's answer fails the check twice.
    `lead`, when given, is the answer's first sentence, written from the result: the model
    writes on after it (what the result means, why it came out so). The 1.5B model's own
    first sentence was where it dropped a probability, misnamed a verdict or restated the
    previous turn, and each retry cost a whole answer; the lead also costs no generation.
    `numbers`, when given, are all the numbers the result (and the question) holds, as
    `numbers_in` reads them: an answer stating a number of two or more digits outside them
    made it up (the 1.5B model said BERT masks 10% of tokens beside a passage saying 15%).
    `note`, when given, is how to answer this result, in place of the agent's general
    instruction (whose "first what the tool found" the model read, for passages, as "the
    search found 4 results").
    """
    must = [list(alternatives) for alternatives in (must or []) if alternatives]
    return {
        "must": must,
        "need": len(must) if need is None else min(need, len(must)),
        "stance": stance,
        "passages": list(passages or []),
        "statement": statement,
        "lead": lead,
        "numbers": sorted(set(numbers)) if numbers is not None else None,
        "note": note,
    }


_CITATION = re.compile(r"\[(?:(?:passage|source)\s*)?(\d+(?:\s*[,\-–]\s*\d+)*)\]", re.I)

# A number standing alone: "15%", "2e-5", "1,000", "0.5"; not the 8 of "int8" or "Q4_K_M".
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?:e-?\d+)?(?![\w])")


def numbers_in(text: str) -> list[str]:
    """The numbers written in `text`, citation marks ("[2]") left out, thousands commas
    dropped, in order."""
    return [m.group().replace(",", "") for m in _NUMBER.finditer(_CITATION.sub(" ", text))]


# Word 4-grams an uncited answer must share with a passage to count as quoting it (about
# seven words copied in a row); unrelated passages share none or one.
QUOTE_MIN_SHARED = 4


def cite(part: dict[str, Any], n: int) -> dict[str, Any]:
    """The part, marked as passage `n`'s: once the answer is in, the UI shows it only if the
    answer used that passage (`cited_passages`)."""
    return {**part, "cite": n}


def cited_numbers(answer_text: str) -> set[int]:
    """The passage numbers an answer cites, in any of the forms `cited_passages` reads; a
    range counts up to its end or its twentieth number, whichever comes first."""
    cited: set[int] = set()
    for group in _CITATION.findall(answer_text or ""):
        for part in re.split(r"\s*,\s*", group):
            bounds = [int(b) for b in re.split(r"\s*[-–]\s*", part)]
            cited.update(range(bounds[0], min(bounds[-1], bounds[0] + 19) + 1))
    return cited


def without_citations(answer_text: str) -> str:
    """The answer with its passage citations taken out (every form `cited_numbers` reads)."""
    return re.sub(r"[ \t]*" + _CITATION.pattern, "", answer_text or "", flags=_CITATION.flags)


def cited_passages(answer_text: str, passages: list[dict]) -> list[dict]:
    """The passages an answer used, in passage order, for the UI's source list.

    Each comes back with `"cited": "explicit"` when the answer cites its number (`[1]`,
    `[1, 3]`, `[2-4]`, `[1][2]`, `[passage 2]`). Only if the answer cites nothing, passages
    it copies phrases from come back as `"quoted"`: small local models often repeat a
    passage word for word without citing it, and the learner should still see the source.
    """
    last = max((p["n"] for p in passages), default=0)
    cited = {n for n in cited_numbers(answer_text) if n <= last}
    if cited:
        return [{**p, "cited": "explicit"} for p in passages if p["n"] in cited]
    answer = _word_4grams(answer_text or "")
    return [
        {**p, "cited": "quoted"}
        for p in passages
        if len(answer & _word_4grams(p["text"])) >= QUOTE_MIN_SHARED
    ]


SOURCES_FOUND = "\n\n(Sources, found by the words and numbers the answer shares with them: "

# A term that names one thing: CamelCase (GraphRecursionError), an underscore (Q4_K_M), or
# letters and digits together (all-MiniLM-L6-v2, int8).
_TERM = re.compile(r"\b[\w-]*(?:[a-z][A-Z]|_|[A-Za-z]\d|\d[A-Za-z])[\w-]*\b")


def specifics(text: str) -> set[str]:
    """The numbers and one-thing terms a text states, lowercased: what locates the passage an
    answer took them from, where its other words are the model's own."""
    plain = _CITATION.sub(" ", text or "")
    return set(numbers_in(plain)) | {t.lower() for t in _TERM.findall(plain)}


def with_sources(answer_text: str, passages: list[dict] | None, question: str = "") -> str:
    """An answer that cites nothing, with the passages it used named after it. The 1.5B
    model mostly answers from the passages without writing [1], even when asked twice; the
    sources it used are then found the way the UI finds them (`cited_passages`: phrases
    copied word for word), else as the passages that hold every number and one-thing term
    the answer states beyond the question's ("each head works in 64 dimensions [1]": a right
    short answer shares no phrase with its passage), and said to be found so."""
    if not passages or cited_numbers(answer_text):
        return answer_text
    quoted = [p["n"] for p in cited_passages(answer_text, passages)]
    own = specifics(answer_text) - specifics(question)
    if not quoted and own:
        quoted = [p["n"] for p in passages if own <= specifics(p["text"])]
    if not quoted:
        return answer_text
    listed = ", ".join(f"[{n}]" for n in quoted)
    return f"{answer_text}{SOURCES_FOUND}{listed})"


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with "…" where it was cut: quoted
    inputs and table cells in one-line answers and the fallback's request."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def without_sources(answer_text: str) -> str:
    """The answer as the model wrote it, without the sources `with_sources` named: shown
    back to the model, that line was copied as the model's own, a claim it cannot make."""
    return answer_text.split(SOURCES_FOUND, 1)[0]


def _word_4grams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}
