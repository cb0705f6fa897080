"""Attention lesson: what each layer and head of a BERT model looks at, for one sentence or a pair.

The model is all-MiniLM-L6-v2 (a 6-layer, 12-head BERT) from the installed package, or the
paraphrase classifier fine-tuned from it, so a learner can compare attention before and after
fine-tuning. The fine-tuned model works out of the box: without the fp32 weights (made by the
fine-tuning script, not shipped) its attention comes from the shipped int8 ONNX model, which
returns every layer's and head's weights as an extra output. The core returns the WordPiece tokens, the segment ids, the attention weights
[layer][head][from][to] and per-head summaries a teacher would point at (previous-token heads,
[SEP]/[CLS] heads, broad heads). The view is `public/elements/AttentionView.jsx`; the same file
runs in the chat (Chainlit custom element) and in the standalone HTML page written here, so
the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import ToolInputError
from tools import artifacts

LESSON = {
    "title": "Self-attention in BERT",
    "shows": "how each of the 6 x 12 attention heads of a small BERT spreads its attention "
    "over the tokens of a sentence, as an interactive view",
    "example": "Show me the attention of BERT on: The cat sat on the mat because it was tired.",
}

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from core.settings import Settings
    from tools import ToolContext

ModelChoice = Literal["base", "paraphrase"]
MODEL_NAMES = {
    "base": "all-MiniLM-L6-v2",
    "paraphrase": "all-MiniLM-L6-v2 fine-tuned for paraphrase",
}

VIEW_JSX = Path(__file__).resolve().parents[1] / "public" / "elements" / "AttentionView.jsx"
PAGE_TEMPLATE = Path(__file__).with_name("attention_page.html")

# A head is named after a pattern when, on average, at least this share of each token's
# attention goes there; below it the head is "broad" (spread out) or "mixed".
PATTERN_SHARE = 0.5
LEAD_INPUT_CHARS = 120  # of the input, quoted in the answer's first sentence
# Row entropy divided by log(n): 1 is perfectly even attention, 0 is one token.
BROAD_ENTROPY = 0.8

LABELS = {
    "previous": "previous-token head",
    "next": "next-token head",
    "itself": "attends to itself",
    "sep": "attends to [SEP]",
    "cls": "attends to [CLS]",
}
BROAD_LABEL = "broad"
MIXED_LABEL = "mixed"


@dataclass(frozen=True)
class HeadSummary:
    """What one head does on this input, as mean shares of each token's attention."""

    layer: int
    head: int
    previous: float  # to the token just before (rows that have one)
    next: float  # to the token just after
    sep: float  # to every [SEP]
    cls: float  # to [CLS]
    itself: float  # to the token itself
    entropy: float  # mean row entropy / log(n): 0 focused .. 1 even
    label: str
    top: list[int]  # for each token, the index of the token it attends to most


@dataclass(frozen=True)
class AttentionResult:
    model: str
    tokens: list[str]
    segment_ids: list[int]
    attention: np.ndarray  # float32 [layer, head, from, to]; every row sums to 1
    summaries: list[list[HeadSummary]]  # [layer][head]

    @property
    def num_layers(self) -> int:
        return int(self.attention.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attention.shape[1])

    def summary(self, layer: int, head: int) -> HeadSummary:
        return self.summaries[layer][head]

    def flat_summaries(self) -> list[HeadSummary]:
        return [s for row in self.summaries for s in row]


def model_folder(settings: Settings, model: str = "base") -> Path | None:
    """The Hugging Face folder of the base model or of the fine-tuned paraphrase model;
    None for the paraphrase model without its fp32 weights (the int8 ONNX model stands in)."""
    if model == "base":
        from knowledge.embeddings import model_dir

        return model_dir()
    if model == "paraphrase":
        from knowledge.paraphrase_data import fp32_model_dir

        folder = fp32_model_dir(settings)
        return folder if (folder / "config.json").is_file() else None
    raise ToolInputError(f"Unknown model {model!r}: choose 'base' or 'paraphrase'.")


def _onnx_attention(
    settings: Settings, sentence: str, sentence_b: str
) -> tuple[np.ndarray, list[str], list[int]]:
    """[layer, head, from, to] attention, tokens and segment ids from the shipped int8
    model's `attentions` output (the paraphrase model when its fp32 weights are absent)."""
    from knowledge.paraphrase_data import SHIPPED_MODEL_DIR
    from tools.paraphrase import _onnx_session, _tokenizer

    session = _onnx_session(SHIPPED_MODEL_DIR / "model.onnx", settings.torch_threads)
    if "attentions" not in {o.name for o in session.get_outputs()}:
        raise ToolInputError(
            "This copy of the paraphrase model has no attention output and its fp32 weights "
            "are not here: run `python scripts/finetune_paraphrase.py` then "
            "`python scripts/quantize_paraphrase.py`, then ask again."
        )
    vocab = _tokenizer(SHIPPED_MODEL_DIR)
    cls, sep = vocab.token_to_id("[CLS]"), vocab.token_to_id("[SEP]")
    a = vocab.encode(sentence, add_special_tokens=False).ids
    b = vocab.encode(sentence_b, add_special_tokens=False).ids if sentence_b else []
    ids = [cls, *a, sep] + ([*b, sep] if sentence_b else [])
    segments = [0] * (len(a) + 2) + [1] * (len(ids) - len(a) - 2)
    _check_length(len(ids), settings.attention_max_tokens)
    feed = {
        "input_ids": np.array([ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        "token_type_ids": np.array([segments], dtype=np.int64),
    }
    attention = session.run(["attentions"], feed)[0][0]
    return attention.astype(np.float32), [vocab.id_to_token(i) for i in ids], segments


def _check_length(count: int, limit: int) -> None:
    if count > limit:
        raise ToolInputError(
            f"That input is {count} WordPiece tokens (with [CLS] and [SEP]); the attention "
            f"view shows at most {limit}. Try a shorter sentence."
        )


@lru_cache(maxsize=2)
def _load(folder: str) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and encoder with eager attention: under sdpa the attentions come back empty."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the paraphrase folder's classifier head is unused here
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager", local_files_only=True)
    return tokenizer, model.eval()


def load_model(
    settings: Settings, model: str = "base"
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    folder = model_folder(settings, model)
    if folder is None:
        raise ToolInputError("The fp32 paraphrase model is not here: run the fine-tuning script.")
    return _load(str(folder))


def extract_attention(
    settings: Settings, sentence: str, sentence_b: str = "", model: str = "base"
) -> AttentionResult:
    """Tokens, segment ids, attention and head summaries for a sentence (or a pair)."""
    sentence, sentence_b = sentence.strip(), sentence_b.strip()
    if not sentence:
        raise ToolInputError(
            "There is no sentence to look at: give a sentence (and optionally a second one "
            "for a pair), for example 'The cat sat on the mat.'"
        )
    if model_folder(settings, model) is None:
        attention, tokens, segment_ids = _onnx_attention(settings, sentence, sentence_b)
    else:
        attention, tokens, segment_ids = _torch_attention(settings, sentence, sentence_b, model)
    summaries = [
        [
            summarize_head(attention[layer, head], tokens, layer, head)
            for head in range(attention.shape[1])
        ]
        for layer in range(attention.shape[0])
    ]
    return AttentionResult(model, tokens, segment_ids, attention, summaries)


def _torch_attention(
    settings: Settings, sentence: str, sentence_b: str, model: str
) -> tuple[np.ndarray, list[str], list[int]]:
    import torch

    tokenizer, encoder = load_model(settings, model)
    encoded = tokenizer(sentence, sentence_b or None, return_tensors="pt", truncation=False)
    _check_length(int(encoded["input_ids"].shape[1]), settings.attention_max_tokens)
    torch.set_num_threads(settings.torch_threads)
    with torch.inference_mode():
        out = encoder(**encoded, output_attentions=True)
    if not out.attentions:
        raise RuntimeError(
            "The model returned no attentions: it must be loaded with eager attention."
        )
    attention = torch.stack(out.attentions)[:, 0].float().numpy()
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
    return attention, tokens, encoded["token_type_ids"][0].tolist()


def summarize_head(weights: np.ndarray, tokens: list[str], layer: int, head: int) -> HeadSummary:
    """The shares a teacher points at for one head's [from, to] matrix, and its label."""
    n = weights.shape[0]
    rows = np.arange(n)
    sep_cols = [i for i, t in enumerate(tokens) if t == "[SEP]"]
    shares = {
        "previous": float(weights[rows[1:], rows[1:] - 1].mean()) if n > 1 else 0.0,
        "next": float(weights[rows[:-1], rows[:-1] + 1].mean()) if n > 1 else 0.0,
        "sep": float(weights[:, sep_cols].sum(axis=1).mean()) if sep_cols else 0.0,
        "cls": float(weights[:, 0].mean()) if tokens[0] == "[CLS]" else 0.0,
        "itself": float(np.diagonal(weights).mean()),
    }
    row_entropy = -(weights * np.log(np.clip(weights, 1e-12, None))).sum(axis=1)
    entropy = float(row_entropy.mean() / np.log(n)) if n > 1 else 0.0
    pattern = max(shares, key=shares.__getitem__)
    if shares[pattern] >= PATTERN_SHARE:
        label = LABELS[pattern]
    elif entropy >= BROAD_ENTROPY:
        label = BROAD_LABEL
    else:
        label = MIXED_LABEL
    return HeadSummary(
        layer=layer,
        head=head,
        **{k: round(v, 3) for k, v in shares.items()},
        entropy=round(entropy, 3),
        label=label,
        top=weights.argmax(axis=1).tolist(),
    )


def default_head(result: AttentionResult, layer: int | None, head: int | None) -> tuple[int, int]:
    """Check a requested layer/head, and fill in what is missing with the clearest head.

    The clearest head is the most positional one (previous/next token): it is the pattern a
    learner recognises at a glance, so the view opens on it.
    """
    for name, value, count in (
        ("layer", layer, result.num_layers),
        ("head", head, result.num_heads),
    ):
        if value is not None and not 0 <= value < count:
            raise ToolInputError(f"{name} must be between 0 and {count - 1} (counted from 0).")
    candidates = [
        s
        for s in result.flat_summaries()
        if (layer is None or s.layer == layer) and (head is None or s.head == head)
    ]
    best = max(candidates, key=lambda s: max(s.previous, s.next))
    return best.layer, best.head


def notable_heads(result: AttentionResult) -> dict[str, list[HeadSummary]]:
    """Heads grouped by label, strongest first; "mixed" heads are left out."""
    groups: dict[str, list[HeadSummary]] = {}
    for s in result.flat_summaries():
        if s.label != MIXED_LABEL:
            groups.setdefault(s.label, []).append(s)
    key_of = {label: key for key, label in LABELS.items()}
    for label, heads in groups.items():
        if label == BROAD_LABEL:
            heads.sort(key=lambda s: -s.entropy)
        else:
            heads.sort(key=lambda s: -getattr(s, key_of[label]))
    return groups


def view_props(result: AttentionResult, layer: int, head: int, max_tokens: int) -> dict[str, Any]:
    """The props of the AttentionView element (the contract with the JSX view)."""
    return {
        "model": result.model,
        "model_name": MODEL_NAMES[result.model],
        "tokens": result.tokens,
        "segment_ids": result.segment_ids,
        "attention": np.round(result.attention.astype(np.float64), 3).tolist(),
        "summaries": [[_summary_props(s) for s in row] for row in result.summaries],
        "layer": layer,
        "head": head,
        "max_tokens": max_tokens,
    }


def _summary_props(s: HeadSummary) -> dict[str, Any]:
    d = asdict(s)
    del d["layer"], d["head"]
    return d


def render_html(props: dict[str, Any]) -> str:
    """A self-contained page (no network) running the same view code as the chat element."""
    source = VIEW_JSX.read_text(encoding="utf-8")
    component, imports = re.subn(r"^import .* from \"react\";\n", "", source, flags=re.M)
    component, exports = re.subn(r"^export default function ", "function ", component, flags=re.M)
    if (imports, exports) != (1, 1):
        raise RuntimeError(f"{VIEW_JSX.name} must have one react import and one default export.")
    # "<" escaped so that no token can close the <script> element the props live in.
    data = json.dumps(props, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    page = PAGE_TEMPLATE.read_text(encoding="utf-8")
    return page.replace("/*__COMPONENT__*/", component).replace("__PROPS__", data)


def markdown_summary(result: AttentionResult, layer: int, head: int) -> str:
    """Tokens, the grid of head labels and the shown head's strongest links, as markdown."""
    short = {
        LABELS["previous"]: "prev",
        LABELS["next"]: "next",
        LABELS["itself"]: "self",
        LABELS["sep"]: "[SEP]",
        LABELS["cls"]: "[CLS]",
        BROAD_LABEL: "broad",
        MIXED_LABEL: "·",
    }
    header = "| layer | " + " | ".join(f"h{h}" for h in range(result.num_heads)) + " |"
    lines = [
        f"**Tokens** ({len(result.tokens)}): " + " ".join(f"`{t}`" for t in result.tokens),
        "",
        header,
        "|" + "---|" * (result.num_heads + 1),
    ]
    for row in result.summaries:
        cells = [short[s.label] for s in row]
        lines.append(f"| {row[0].layer} | " + " | ".join(cells) + " |")
    s = result.summary(layer, head)
    links = ", ".join(f"{result.tokens[i]} → {result.tokens[j]}" for i, j in enumerate(s.top))
    lines += [
        "",
        f"**Layer {layer}, head {head}** ({s.label}): each token's strongest link: {links}",
    ]
    return "\n".join(lines)


def describe(result: AttentionResult, layer: int, head: int) -> str:
    """A short text for the chat model: what the learner should notice, in the few facts an
    answer needs (the grid of all 72 heads is in the view; in the prompt it would cost
    seconds of reading before the first word)."""
    groups = notable_heads(result)
    n_heads = result.num_layers * result.num_heads
    tokens = " ".join(result.tokens[:24]) + (" ..." if len(result.tokens) > 24 else "")
    s = result.summary(layer, head)
    parts = [
        f"{MODEL_NAMES[result.model]} ({result.num_layers} layers x {result.num_heads} heads) "
        f"split the input into {len(result.tokens)} WordPiece tokens: {tokens}.",
        f"The view opens on layer {layer} head {head}, a {s.label}.",
    ]
    kinds = {
        "previous": "look at the previous token",
        "next": "look at the next token",
        "itself": "look at the token itself",
    }
    for key, does in kinds.items():
        heads = groups.get(LABELS[key], [])
        if heads:
            best = heads[0]
            parts.append(
                f"{len(heads)} heads {does}, most clearly layer {best.layer} head {best.head} "
                f"({getattr(best, key):.2f} of its attention)."
            )
    resting = len(groups.get(LABELS["cls"], [])) + len(groups.get(LABELS["sep"], []))
    if resting:
        parts.append(
            f"{resting} of {n_heads} heads rest most of their attention on [CLS] or [SEP] "
            "(a place to look when a head has nothing specific to do)."
        )
    parts.append("Attention weights show where a head looks, not why the model decides.")
    return " ".join(parts)


def attention_lesson(
    settings: Settings,
    sentence: str,
    sentence_b: str = "",
    layer: int | None = None,
    head: int | None = None,
    model: str = "base",
) -> tuple[str, artifacts.Artifact]:
    """The tool's work: text for the model, and the artifact (view, table, HTML download)."""
    result = extract_attention(settings, sentence, sentence_b, model)
    layer, head = default_head(result, layer, head)
    props = view_props(result, layer, head, settings.attention_max_tokens)
    digest = hashlib.sha1(f"{model}\n{sentence}\n{sentence_b}".encode()).hexdigest()[:12]
    page = settings.path("attention", f"attention-{digest}.html")
    page.write_text(render_html(props), encoding="utf-8")
    text = describe(result, layer, head)
    parts = [
        artifacts.custom("AttentionView", props, name="attention"),
        artifacts.markdown(markdown_summary(result, layer, head)),
        artifacts.html(str(page), name="attention.html"),
    ]
    if model == "paraphrase":
        parts.append(before_after(extract_attention(settings, sentence, sentence_b), result))
    result_artifact = artifacts.artifact("show_attention", parts, summary=text)
    opened = result.summary(layer, head)
    result_artifact["facts"] = artifacts.facts(
        must=[[f"layer {layer}", f"layer{layer}"], [f"head {head}", f"head{head}"]],
        statement=text,
        lead=f"{MODEL_NAMES[result.model]} split “{shown_input(sentence, sentence_b)}” into "
        f"{len(result.tokens)} WordPiece tokens, and the view opens on layer {layer} head "
        f"{head}, a {opened.label}.",
    )
    return text, result_artifact


def shown_input(sentence: str, sentence_b: str = "") -> str:
    """The input as the answer quotes it (the sentence names the turn: two views of one
    thread then do not open alike)."""
    text = f"{sentence} / {sentence_b}" if sentence_b else sentence
    return artifacts.shorten(" ".join(text.split()), LEAD_INPUT_CHARS)


def before_after(base: AttentionResult, tuned: AttentionResult) -> dict[str, Any]:
    """The same input before and after fine-tuning, per layer: how much attention rests on
    [SEP] and [CLS], and where [CLS] (what the classifier reads) looks most."""
    rows = []
    for layer in range(tuned.num_layers):
        cells = []
        for r in (base, tuned):
            heads = r.summaries[layer]
            cls_row = r.attention[layer, :, 0, :].mean(axis=0)
            top = [i for i in np.argsort(-cls_row) if r.tokens[i] not in ("[CLS]", "[SEP]")][:3]
            cells += [
                round(float(np.mean([h.sep for h in heads])), 2),
                " ".join(r.tokens[i] for i in top),
            ]
        rows.append([layer, *cells])
    return artifacts.table(
        [
            "layer",
            "[SEP] share before",
            "[CLS] looks at, before",
            "[SEP] share after",
            "[CLS] looks at, after",
        ],
        rows,
        name="before and after fine-tuning",
    )


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    from langchain_core.tools import StructuredTool

    def show_attention(
        sentence: str,
        sentence_b: str = "",
        layer: int | None = None,
        head: int | None = None,
        model: ModelChoice = "base",
    ) -> tuple[str, artifacts.Artifact]:
        """Show how the attention heads of a BERT model (all-MiniLM-L6-v2, 6 layers x 12
        heads) attend between the tokens of a sentence, or of a sentence pair (sentence_b),
        as an interactive view. layer (0-5) and head (0-11) are counted from 0; leave them
        empty to open on the clearest head. model='paraphrase' shows the model fine-tuned for
        paraphrase detection, to compare with 'base'."""
        return attention_lesson(ctx.settings, sentence, sentence_b, layer, head, model)

    return [StructuredTool.from_function(show_attention, response_format="content_and_artifact")]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "attention", help="BERT attention for a sentence (or a pair): tokens and head summaries"
    )
    cmd.add_argument("sentence")
    cmd.add_argument("--pair", default="", metavar="SENTENCE_B", help="second sentence (segment B)")
    cmd.add_argument("--layer", type=int, help="layer to show, from 0 (default: clearest head)")
    cmd.add_argument("--head", type=int, help="head to show, from 0")
    cmd.add_argument("--model", choices=("base", "paraphrase"), default="base")
    cmd.add_argument("--html", metavar="FILE", help="save the interactive view as one HTML file")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=_cmd_attention)


def _cmd_attention(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    try:
        result = extract_attention(settings, args.sentence, args.pair, args.model)
        layer, head = default_head(result, args.layer, args.head)
    except ToolInputError as exc:
        print(f"genai101 attention: {exc}", file=sys.stderr)
        return 2
    if args.html:
        props = view_props(result, layer, head, settings.attention_max_tokens)
        Path(args.html).write_text(render_html(props), encoding="utf-8")
    if args.json:
        out = {
            "model": result.model,
            "tokens": result.tokens,
            "segment_ids": result.segment_ids,
            "max_tokens": settings.attention_max_tokens,
            "layer": layer,
            "head": head,
            "attention": np.round(result.attention[layer, head].astype(np.float64), 3).tolist(),
            "summaries": [asdict(s) for s in result.flat_summaries()],
            "html": args.html,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{len(result.tokens)} tokens (limit {settings.attention_max_tokens}):")
    print(" ".join(result.tokens))
    if any(result.segment_ids):
        print(f"sentence B starts at token {result.segment_ids.index(1)}")
    print(
        f"\n{'layer':>5} {'head':>4}  {'label':<20} {'prev':>5} {'next':>5} {'[SEP]':>5} "
        f"{'[CLS]':>5} {'self':>5} {'entr':>5}"
    )
    for s in result.flat_summaries():
        mark = "*" if (s.layer, s.head) == (layer, head) else " "
        print(
            f"{s.layer:>5} {s.head:>4}{mark} {s.label:<20} {s.previous:5.2f} {s.next:5.2f} "
            f"{s.sep:5.2f} {s.cls:5.2f} {s.itself:5.2f} {s.entropy:5.2f}"
        )
    s = result.summary(layer, head)
    print(f"\nlayer {layer} head {head} ({s.label}), strongest link of each token:")
    for i, j in enumerate(s.top):
        weight = result.attention[layer, head, i, j]
        print(f"  {result.tokens[i]:>15} -> {result.tokens[j]:<15} {weight:.2f}")
    if args.html:
        print(f"\nview saved to {args.html}")
    return 0
