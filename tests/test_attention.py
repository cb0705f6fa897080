"""The attention lesson's core, tool and CLI, on the real all-MiniLM-L6-v2 weights.

The expected heads were measured on this model: layer 0 head 2 sends almost all of each
token's attention to the token before it, and layer 1 head 8 to the token after it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from agent.cli import main
from core.errors import ToolInputError
from core.settings import Settings
from tools import ToolContext
from tools.attention import (
    BROAD_LABEL,
    LABELS,
    attention_lesson,
    default_head,
    extract_attention,
    load_model,
    make_tools,
    render_html,
    summarize_head,
    view_props,
)

FOX = "The quick brown fox jumps over the lazy dog because it was tired."
PREVIOUS_TOKEN_HEAD = (0, 2)
NEXT_TOKEN_HEAD = (1, 8)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="module")
def fox() -> object:
    return extract_attention(Settings(), FOX)


def test_tokens_shapes_and_rows_sum_to_one(fox) -> None:
    n = len(fox.tokens)
    assert fox.tokens[0] == "[CLS]" and fox.tokens[-1] == "[SEP]"
    assert fox.tokens[1:4] == ["the", "quick", "brown"]
    assert fox.segment_ids == [0] * n
    assert fox.attention.shape == (6, 12, n, n)
    np.testing.assert_allclose(fox.attention.sum(axis=-1), 1.0, atol=1e-4)
    assert len(fox.summaries) == 6 and all(len(row) == 12 for row in fox.summaries)


def test_wordpiece_splits_rare_words(settings: Settings) -> None:
    result = extract_attention(settings, "Tokenizers love embeddings.")
    assert any(t.startswith("##") for t in result.tokens), result.tokens


def test_model_is_loaded_with_eager_attention(settings: Settings) -> None:
    """Under sdpa, transformers returns no attentions at all (silently): eager is required."""
    from transformers import AutoModel

    tokenizer, model = load_model(settings)
    assert model.config._attn_implementation == "eager"
    encoded = tokenizer("A short sentence.", return_tensors="pt")
    sdpa = AutoModel.from_pretrained(model.name_or_path, attn_implementation="sdpa")
    assert not sdpa(**encoded, output_attentions=True).attentions
    assert len(model(**encoded, output_attentions=True).attentions) == 6


@pytest.mark.parametrize(
    "sentence",
    [FOX, "Paris is the capital of France and a popular destination for travellers."],
)
def test_layer0_head2_is_a_previous_token_head(settings: Settings, sentence: str) -> None:
    result = extract_attention(settings, sentence)
    summary = result.summary(*PREVIOUS_TOKEN_HEAD)
    assert summary.label == LABELS["previous"]
    assert summary.previous > 0.9
    # Every token but [CLS] attends most to the token just before it.
    assert summary.top[1:] == list(range(len(result.tokens) - 1))
    assert default_head(result, None, None) == PREVIOUS_TOKEN_HEAD


def test_layer1_head8_is_a_next_token_head(fox) -> None:
    summary = fox.summary(*NEXT_TOKEN_HEAD)
    assert summary.label == LABELS["next"]
    following = sum(summary.top[i] == i + 1 for i in range(len(fox.tokens) - 1))
    assert following >= 0.7 * (len(fox.tokens) - 1)
    assert default_head(fox, 1, None) == NEXT_TOKEN_HEAD


def test_summaries_of_known_patterns() -> None:
    tokens = ["[CLS]", "a", "b", "c", "[SEP]"]
    n = len(tokens)
    shifted = np.eye(n, k=-1)
    shifted[0, 0] = 1.0
    assert summarize_head(shifted, tokens, 0, 0).label == LABELS["previous"]
    to_sep = np.zeros((n, n))
    to_sep[:, -1] = 1.0
    assert summarize_head(to_sep, tokens, 0, 0).label == LABELS["sep"]
    uniform = summarize_head(np.full((n, n), 1 / n), tokens, 0, 0)
    assert uniform.label == BROAD_LABEL and uniform.entropy == pytest.approx(1.0)
    assert summarize_head(np.eye(n), tokens, 0, 0).label == LABELS["itself"]


def test_sentence_pair_segments(settings: Settings) -> None:
    result = extract_attention(settings, "The cat sat on the mat.", "It was tired.")
    seps = [i for i, t in enumerate(result.tokens) if t == "[SEP]"]
    assert len(seps) == 2 and seps[1] == len(result.tokens) - 1
    first_b = seps[0] + 1
    assert result.tokens[first_b] == "it"
    assert result.segment_ids == [0] * first_b + [1] * (len(result.tokens) - first_b)
    # [SEP] share counts both separators.
    weights = result.attention[3, 0]
    assert result.summary(3, 0).sep == pytest.approx(weights[:, seps].sum(axis=1).mean(), abs=1e-3)


def test_token_limit_is_stated_and_enforced(settings: Settings) -> None:
    tight = settings.with_(attention_max_tokens=8)
    assert len(extract_attention(tight, "one two three four five six").tokens) == 8
    with pytest.raises(ToolInputError, match=r"9 WordPiece tokens.*at most 8"):
        extract_attention(tight, "one two three four five six seven")
    with pytest.raises(ToolInputError, match="at most 8"):
        extract_attention(tight, "one two three", "four five six")


@pytest.mark.parametrize(("a", "b"), [("", ""), ("   \n", ""), ("", "It was tired.")])
def test_empty_input_is_refused(settings: Settings, a: str, b: str) -> None:
    with pytest.raises(ToolInputError, match="no sentence"):
        extract_attention(settings, a, b)


def test_layer_and_head_out_of_range(fox) -> None:
    with pytest.raises(ToolInputError, match="layer must be between 0 and 5"):
        default_head(fox, 6, 0)
    with pytest.raises(ToolInputError, match="head must be between 0 and 11"):
        default_head(fox, 0, -1)
    assert default_head(fox, 4, 7) == (4, 7)


def test_fine_tuned_model_works_out_of_the_box_from_the_shipped_onnx(
    settings: Settings, fox
) -> None:
    """No fp32 weights here: the int8 model's attention output stands in, and the lesson
    shows the same pair before and after fine-tuning."""
    pair = ("Paris is the capital of France.", "France is the capital of Paris.")
    tuned = extract_attention(settings, *pair, model="paraphrase")
    base = extract_attention(settings, *pair)
    assert tuned.tokens == base.tokens and tuned.segment_ids == base.segment_ids
    assert (
        tuned.attention.shape == base.attention.shape == (6, 12, len(base.tokens), len(base.tokens))
    )
    np.testing.assert_allclose(tuned.attention.sum(axis=-1), 1.0, atol=1e-3)
    assert np.abs(tuned.attention - base.attention).max() > 0.05  # fine-tuning moved it
    single = extract_attention(settings, FOX, model="paraphrase")
    assert single.tokens == fox.tokens  # one sentence: [CLS] ... [SEP], no second [SEP]
    _, artifact = attention_lesson(settings, *pair, model="paraphrase")
    table = next(p for p in artifact["parts"] if p.get("name") == "before and after fine-tuning")
    assert [row[0] for row in table["rows"]] == list(range(6))
    with pytest.raises(ToolInputError, match="choose 'base' or 'paraphrase'"):
        extract_attention(settings, FOX, model="large")


def test_paraphrase_model_folder_is_read_as_an_encoder(settings: Settings, fox) -> None:
    """A pair-classifier folder as the fine-tuning script saves it (here with the base
    weights): its encoder must load under the classifier's `bert.` prefix, so attention
    equals the base model's."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from knowledge.embeddings import model_dir
    from knowledge.paraphrase_data import fp32_model_dir

    out = fp32_model_dir(settings)
    AutoModelForSequenceClassification.from_pretrained(model_dir(), num_labels=2).save_pretrained(
        out
    )
    AutoTokenizer.from_pretrained(model_dir()).save_pretrained(out)
    result = extract_attention(settings, FOX, model="paraphrase")
    assert result.model == "paraphrase"
    np.testing.assert_allclose(result.attention, fox.attention, atol=1e-5)
    text, _ = attention_lesson(settings, FOX, model="paraphrase")
    assert "fine-tuned for paraphrase" in text


def test_view_props_contract(fox) -> None:
    props = view_props(fox, 0, 2, 128)
    n = len(fox.tokens)
    assert set(props) == {
        "model",
        "model_name",
        "tokens",
        "segment_ids",
        "attention",
        "summaries",
        "layer",
        "head",
        "max_tokens",
    }
    assert (len(props["attention"]), len(props["attention"][0])) == (6, 12)
    assert len(props["attention"][0][0]) == n and len(props["attention"][0][0][0]) == n
    assert all(round(w, 3) == w for w in props["attention"][2][5][3])
    assert props["summaries"][0][2]["label"] == LABELS["previous"]
    assert len(props["summaries"][0][2]["top"]) == n
    json.dumps(props)  # the checkpointer stores it


def test_html_page_embeds_props_safely_and_needs_no_network(settings: Settings) -> None:
    props = {"tokens": ["</script><b>", "[SEP]"], "attention": [[[[1.0]]]], "layer": 0}
    page = render_html(props)
    embedded = re.search(r'id="attention-props">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == props
    assert "function AttentionView()" in page and "export default" not in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)


def test_tool_returns_text_view_table_and_html(settings: Settings) -> None:
    ctx = ToolContext(settings=settings, chat_model=lambda: None)
    (tool,) = make_tools(ctx)
    assert tool.name == "show_attention"
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "1",
            "name": "show_attention",
            "args": {"sentence": FOX, "layer": 1},
        }
    )
    assert "look at the previous token, most clearly layer 0 head 2" in message.content
    assert "look at the next token, most clearly layer 1 head 8" in message.content
    # The model reads a few facts, not the grid of 72 heads; the answer must name the head.
    assert len(message.content) < 900
    assert message.artifact["facts"]["must"] == [["layer 1", "layer1"], ["head 8", "head8"]]
    kinds = [p["kind"] for p in message.artifact["parts"]]
    assert kinds == ["custom", "markdown", "html"]
    custom, table, page = message.artifact["parts"]
    assert custom["component"] == "AttentionView"
    assert (custom["props"]["layer"], custom["props"]["head"]) == NEXT_TOKEN_HEAD
    assert "| 0 | broad |" in table["content"] and "prev" in table["content"]
    assert Path(page["path"]).is_file() and Path(page["path"]).is_relative_to(settings.data_dir)


def test_attention_lesson_reports_bad_input(settings: Settings) -> None:
    with pytest.raises(ToolInputError):
        attention_lesson(settings, "  ")


def test_cli_json_and_html(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GENAI101_DATA_DIR", str(tmp_path / "data"))
    out_html = tmp_path / "view.html"
    code = main(
        ["attention", "How old are you?", "--pair", "What is your age?", "--json"]
        + ["--html", str(out_html), "--layer", "0", "--head", "2"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tokens"][0] == "[CLS]" and data["tokens"].count("[SEP]") == 2
    assert set(data["segment_ids"]) == {0, 1}
    assert len(data["summaries"]) == 72 and data["max_tokens"] == 128
    assert (data["layer"], data["head"]) == (0, 2)
    assert out_html.read_text().count('"tokens":') == 1


def test_cli_text_and_errors(capsys) -> None:
    assert main(["attention", "Dogs bark."]) == 0
    out = capsys.readouterr().out
    assert "previous-token head" in out and "dogs ->" in out
    assert main(["attention", " "]) == 2
    assert "no sentence" in capsys.readouterr().err
