"""The check_paraphrase tool on the shipped int8 ONNX model (what a fresh machine has)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from core.errors import ToolInputError
from core.settings import Settings
from knowledge.paraphrase_data import SHIPPED_MODEL_DIR, fp32_model_dir
from tools import ToolContext
from tools.paraphrase import MAX_LENGTH, check_paraphrase, encode_pair, make_tools, word_effects

REPO = Path(__file__).resolve().parents[1]
# Clear cases with names the model never saw in training.
SAME = [
    ("Marta Olsen hired Tobias Grund in 2003.", "Tobias Grund was hired by Marta Olsen in 2003."),
    ("In 2003, Marta Olsen hired Tobias Grund.", "Marta Olsen hired Tobias Grund in 2003."),
]
DIFFERENT = [
    ("Marta Olsen hired Tobias Grund in 2003.", "Marta Olsen did not hire Tobias Grund in 2003."),
    (
        "Marta Olsen accepted the offer from Brightwave.",
        "Marta Olsen rejected the offer from Brightwave.",
    ),
]
# Known failures of the shipped model (role swaps: 4% right on the test split, 0% on the
# held-out set; converse verbs): strict, so a model that learns them makes these tests fail
# and the list gets updated.
KNOWN_MISSES = [
    ("Marta Olsen hired Tobias Grund in 2003.", "Tobias Grund hired Marta Olsen in 2003.", 0),
    ("The Otters beat the Eagles 4 goals to 1.", "The Eagles lost to the Otters 4 goals to 1.", 1),
]
LONG = " ".join(["The committee discussed the budget for the new library at length."] * 20)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_the_int8_model_ships_with_its_tokenizer_and_card() -> None:
    for name in ("model.onnx", "tokenizer.json", "config.json", "MODEL_CARD.md"):
        assert (SHIPPED_MODEL_DIR / name).exists(), name
    assert (SHIPPED_MODEL_DIR / "model.onnx").stat().st_size < 30e6


@pytest.mark.parametrize(("s1", "s2"), SAME)
def test_reworded_sentences_are_paraphrases(settings: Settings, s1: str, s2: str) -> None:
    v = check_paraphrase(settings, s1, s2)
    assert v.label == "paraphrase" and v.probability > 0.5
    assert v.model == "int8 (ONNX Runtime)" and v.latency_ms > 0 and not v.truncated


@pytest.mark.parametrize(("s1", "s2"), DIFFERENT)
def test_same_words_other_meaning_is_not_a_paraphrase(settings: Settings, s1: str, s2: str) -> None:
    v = check_paraphrase(settings, s1, s2)
    assert v.label == "not paraphrase" and v.probability < 0.5


@pytest.mark.xfail(strict=True, reason="role swaps and converse verbs: see KNOWN_MISSES")
@pytest.mark.parametrize(("s1", "s2", "label"), KNOWN_MISSES)
def test_known_misses_of_the_shipped_model(settings: Settings, s1: str, s2: str, label) -> None:
    v = check_paraphrase(settings, s1, s2)
    assert (v.probability >= 0.5) == bool(label)


def test_pair_encoding_matches_the_hugging_face_tokenizer() -> None:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(SHIPPED_MODEL_DIR)
    for s1, s2 in [*SAME, (LONG, "A short one."), ("Short.", LONG + LONG)]:
        ours = encode_pair(SHIPPED_MODEL_DIR, s1, s2, MAX_LENGTH)
        ref = hf(s1, s2, truncation=True, max_length=MAX_LENGTH)
        assert ours.input_ids == ref["input_ids"]
        assert ours.token_type_ids == ref["token_type_ids"]


def test_long_inputs_are_cut_and_the_answer_says_so(settings: Settings) -> None:
    v = check_paraphrase(settings, LONG, "The committee talked about the library budget.")
    assert v.truncated and v.tokens == MAX_LENGTH
    assert any(f"at most {MAX_LENGTH}" in note for note in v.notes)


@pytest.mark.parametrize(("s1", "s2", "which"), [("", "B", "first"), ("A", "  ", "second")])
def test_empty_inputs_get_a_clear_message(settings: Settings, s1, s2, which) -> None:
    with pytest.raises(ToolInputError, match=f"{which} sentence is empty"):
        check_paraphrase(settings, s1, s2)


def test_unknown_model_is_refused(settings: Settings) -> None:
    with pytest.raises(ToolInputError, match="int8"):
        check_paraphrase(settings, "A", "B", model="fp16")


def test_fp32_without_fine_tuning_falls_back_to_int8_and_says_how(settings: Settings) -> None:
    v = check_paraphrase(settings, *SAME[0], model="fp32")
    assert v.model == "int8 (ONNX Runtime)"
    assert any("scripts/finetune_paraphrase.py" in note for note in v.notes)


@pytest.mark.skipif(
    not (fp32_model_dir(Settings(data_dir=REPO / "data")) / "config.json").exists(),
    reason="the fp32 model is made by scripts/finetune_paraphrase.py, not shipped",
)
def test_int8_agrees_with_fp32_on_clear_pairs() -> None:
    settings = Settings(data_dir=REPO / "data")
    for s1, s2 in SAME + DIFFERENT:
        fp32 = check_paraphrase(settings, s1, s2, model="fp32")
        int8 = check_paraphrase(settings, s1, s2, model="int8")
        assert fp32.model == "fp32 (PyTorch)"
        assert fp32.label == int8.label
        assert abs(fp32.probability - int8.probability) < 0.15


def test_tool_returns_text_and_artifact_with_benchmark_on_request(settings: Settings) -> None:
    (tool,) = make_tools(ToolContext(settings=settings, chat_model=lambda: None))
    assert tool.name == "check_paraphrase"
    call = {"sentence1": SAME[0][0], "sentence2": SAME[0][1]}
    msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": call})
    assert "int8" in msg.content and "P(paraphrase)" in msg.content
    parts = msg.artifact["parts"]
    kinds = [p["kind"] for p in parts]
    assert kinds == ["markdown", "table", "markdown", "plotly", "table", "markdown"]
    assert msg.artifact["tool"] == "check_paraphrase"
    assert "removing '" in msg.content  # the one word the verdict rests on most
    assert "ms" not in msg.content.split()  # latency is for the eye, not the model's text
    assert msg.artifact["facts"]["stance"] is True
    json.dumps(msg.artifact)  # survives the checkpointer

    call["show_benchmark"] = True
    msg = tool.invoke({"type": "tool_call", "id": "2", "name": tool.name, "args": call})
    parts = msg.artifact["parts"]
    table = next(p for p in parts if p["kind"] == "table" and p["name"] == "quantization benchmark")
    assert {"fp32 (torch)", "int8 (ONNX Runtime, per channel)"} <= {row[0] for row in table["rows"]}
    images = [p for p in parts if p["kind"] == "image"]
    assert images and all(Path(p["path"]).exists() for p in images)


def test_the_shipped_model_returns_attention_from_cls_for_every_token(settings: Settings) -> None:
    v = check_paraphrase(settings, *DIFFERENT[0])
    assert len(v.attention) == v.tokens
    assert v.attention[0][0] == "[CLS]" and v.attention[-1][0] == "[SEP]"
    assert {seg for _, seg, _ in v.attention} == {0, 1}
    assert abs(sum(a for _, _, a in v.attention) - 1.0) < 0.01  # one softmax row


def test_word_effects_remove_each_word_once_and_measure_the_change(settings: Settings) -> None:
    s1, s2 = "Paris is the capital of France.", "Paris is not the capital of France."
    v = check_paraphrase(settings, s1, s2)
    effects = word_effects(settings, s1, s2, v)
    assert [e.word for e in effects if e.sentence == 1] == s1.rstrip(".").split()
    assert [e.word for e in effects if e.sentence == 2] == s2.rstrip(".").split()
    assert all(abs(e.without - v.probability - e.change) < 1e-9 for e in effects)
    assert word_effects(settings, LONG, LONG, v) == []  # too long to probe word by word


def test_cli_prints_json(settings: Settings, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GENAI101_DATA_DIR", str(settings.data_dir))
    assert main(["paraphrase", *DIFFERENT[0], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label"] == "not paraphrase" and out["model"] == "int8 (ONNX Runtime)"
    assert main(["paraphrase", "", "B"]) == 2
    assert "empty" in capsys.readouterr().err


def test_shipped_model_loads_and_answers_with_no_network(tmp_path: Path) -> None:
    """A fresh process with the Hub offline and every socket connection refused."""
    code = f"""
import socket
def refuse(*args, **kwargs):
    raise OSError("network used")
socket.socket.connect = refuse
socket.create_connection = refuse
from core.settings import Settings
from tools.paraphrase import check_paraphrase
v = check_paraphrase(Settings(data_dir={str(tmp_path)!r}), {SAME[0][0]!r}, {SAME[0][1]!r})
print(v.label)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "paraphrase"
