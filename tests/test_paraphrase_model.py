"""Fine-tuning and quantization code paths, on a tiny freshly initialised BERT.

A 2-layer, 64-wide BERT with the real MiniLM tokenizer trains and quantizes in seconds, so
CI checks the loop (pair tokenization, dynamic padding, optimizer, schedule) and both int8
toolchains without the 90 MB fp32 model, which is made by a script and never committed.
"""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.paraphrase_data import Pair
from tests.conftest import load_script

PAIRS = [
    Pair("Ana hired Ben in 1990.", "Ben was hired by Ana in 1990.", 1),
    Pair("Ana hired Ben in 1990.", "Ben hired Ana in 1990.", 0),
    Pair("Prices rose by 5 percent.", "Prices went up 5 percent.", 1),
    Pair("Prices rose by 5 percent.", "Prices fell by 5 percent.", 0),
    Pair("The Hawks beat the Bears.", "The Bears lost to the Hawks.", 1),
    Pair("The Hawks beat the Bears.", "The Hawks did not beat the Bears.", 0),
    Pair("Lena is older than Tom.", "Tom is younger than Lena.", 1),
    Pair("Lena is older than Tom.", "Lena is younger than Tom.", 0),
]


@pytest.fixture(scope="module")
def finetune():
    return load_script("finetune_paraphrase")


@pytest.fixture(scope="module")
def quantize():
    return load_script("quantize_paraphrase")


@pytest.fixture(scope="module")
def tokenizer(finetune):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(finetune.base_model_dir())


def _tiny_model(seed: int = 0):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        num_labels=2,
        hidden_dropout_prob=0.0,  # so a handful of steps visibly fit the pairs
        attention_probs_dropout_prob=0.0,
    )
    return BertForSequenceClassification(config).eval()


def _mean_loss(model, tokenizer, finetune) -> float:
    import torch

    features = finetune.encode(tokenizer, PAIRS, 64)
    batch = next(iter(finetune.loader(tokenizer, features, len(PAIRS), shuffle=False)))
    model.eval()
    with torch.inference_mode():
        return model(**batch).loss.item()


def test_pairs_are_encoded_as_one_sequence_with_two_segments(finetune, tokenizer) -> None:
    feature = finetune.encode(tokenizer, PAIRS[:1], 64)[0]
    tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    first_b = tokens.index("[SEP]") + 1
    assert set(feature["token_type_ids"][:first_b]) == {0}
    assert set(feature["token_type_ids"][first_b:]) == {1}
    assert feature["labels"] == 1


def test_dynamic_padding_pads_each_batch_to_its_longest_pair(finetune, tokenizer) -> None:
    features = finetune.encode(tokenizer, PAIRS, 64)
    lengths = [len(f["input_ids"]) for f in features]
    batches = list(finetune.loader(tokenizer, features, 2, shuffle=False))
    for i, batch in enumerate(batches):
        assert batch["input_ids"].shape[1] == max(lengths[2 * i : 2 * i + 2])
    assert {b["input_ids"].shape[1] for b in batches} != {max(lengths)}


def test_a_few_training_steps_lower_the_loss(finetune, tokenizer) -> None:
    import torch

    torch.set_num_threads(1)
    model = _tiny_model()
    before = _mean_loss(model, tokenizer, finetune)
    config = finetune.TrainConfig(epochs=30, batch_size=8, lr=3e-3, warmup=0.0, max_length=64)
    history = finetune.train(model, tokenizer, PAIRS, PAIRS, config, max_steps=20)
    after = _mean_loss(model, tokenizer, finetune)
    assert after < before - 0.2, (before, after)
    assert len(history) == 20  # one batch per epoch, stopped at step 20
    assert {"train_loss", "dev_accuracy", "dev_f1", "seconds"} <= set(history[0])


def test_training_is_reproducible_with_the_seed(finetune, tokenizer) -> None:
    config = finetune.TrainConfig(epochs=1, batch_size=4, lr=1e-3, warmup=0.0, max_length=64)
    losses = []
    for _ in range(2):
        model = _tiny_model()
        finetune.train(model, tokenizer, PAIRS, [], config, max_steps=2)
        losses.append(_mean_loss(model, tokenizer, finetune))
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)


@pytest.fixture(scope="module")
def trained_tiny(finetune, tokenizer):
    """The tiny model trained until its answers on PAIRS are clear (not near 0.5)."""
    model = _tiny_model()
    config = finetune.TrainConfig(epochs=40, batch_size=8, lr=3e-3, warmup=0.0, max_length=64)
    finetune.train(model, tokenizer, PAIRS, [], config, max_steps=40)
    return model.eval()


def _probabilities(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True))[:, 1]


def test_torch_dynamic_int8_agrees_with_fp32(quantize, trained_tiny, tokenizer) -> None:
    fp32 = quantize.TorchRunner(trained_tiny, tokenizer)
    int8 = quantize.TorchRunner(quantize.quantize_torch(trained_tiny), tokenizer)
    p32 = _probabilities(fp32.logits(fp32.inputs(PAIRS)))
    p8 = _probabilities(int8.logits(int8.inputs(PAIRS)))
    assert np.abs(p32 - p8).max() < 0.05
    assert ((p32 > 0.5) == (p8 > 0.5)).all()
    assert ((p32 > 0.5) == np.array([p.label for p in PAIRS], dtype=bool)).all()


def test_onnx_export_and_int8_agree_with_torch(quantize, trained_tiny, tokenizer, tmp_path) -> None:
    fp32_onnx = quantize.export_onnx(trained_tiny, tokenizer, tmp_path / "fp32.onnx")
    int8_onnx = quantize.quantize_onnx(fp32_onnx, tmp_path / "int8.onnx")
    assert int8_onnx.stat().st_size < 0.5 * fp32_onnx.stat().st_size
    torch_runner = quantize.TorchRunner(trained_tiny, tokenizer)
    ref = torch_runner.logits(torch_runner.inputs(PAIRS))
    exported = quantize.OnnxRunner(fp32_onnx, tokenizer, 1)
    np.testing.assert_allclose(exported.logits(exported.inputs(PAIRS)), ref, atol=1e-4)
    for pair in PAIRS[:3]:  # batch 1, unpadded, lengths unlike the export sample: as the tool runs
        single = torch_runner.logits(torch_runner.inputs([pair]))
        np.testing.assert_allclose(exported.logits(exported.inputs([pair])), single, atol=1e-4)
    int8 = quantize.OnnxRunner(int8_onnx, tokenizer, 1)
    p8 = _probabilities(int8.logits(int8.inputs(PAIRS)))
    assert np.abs(_probabilities(ref) - p8).max() < 0.05
    assert ((p8 > 0.5) == (_probabilities(ref) > 0.5)).all()


def test_weight_analysis_reports_scale_and_zero_point(quantize, trained_tiny, tmp_path) -> None:
    info = quantize.weight_analysis(
        trained_tiny, quantize.quantize_torch(trained_tiny), tmp_path / "w.png"
    )
    assert info["zero_point"] == 0  # symmetric int8
    assert info["scale"] == pytest.approx(
        max(-info["fp32_min"], info["fp32_max"]) / 127.5, rel=0.02
    )
    assert info["max_abs_error"] <= info["scale"] / 2 + 1e-6
    assert (tmp_path / "w.png").stat().st_size > 10_000


def test_latency_takes_turns_and_reports_spread(quantize, trained_tiny, tokenizer) -> None:
    runner = quantize.TorchRunner(trained_tiny, tokenizer)
    out = quantize.latency_ms({"a": runner, "b": runner}, PAIRS * 2, warmup=2)
    assert set(out) == {"a", "b"}
    assert out["a"]["p10"] <= out["a"]["median"] <= out["a"]["p90"]


def test_onnx_export_carries_the_attention_the_lesson_shows(
    quantize, trained_tiny, tokenizer, tmp_path
) -> None:
    """`cls_attention` is the last layer's [CLS] row (mean over heads), `attentions` every
    layer and head: the same numbers torch gives with eager attention."""
    import onnxruntime as ort
    import torch

    fp32_onnx = quantize.export_onnx(trained_tiny, tokenizer, tmp_path / "fp32.onnx")
    session = ort.InferenceSession(str(fp32_onnx), providers=["CPUExecutionProvider"])
    enc = tokenizer(PAIRS[0].sentence1, PAIRS[0].sentence2, return_tensors="np")
    feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    logits, cls_attention, attentions = session.run(["logits", "cls_attention", "attentions"], feed)
    trained_tiny.set_attn_implementation("eager")
    with torch.inference_mode():
        ref = trained_tiny(**{k: torch.tensor(v) for k, v in feed.items()}, output_attentions=True)
    n = enc["input_ids"].shape[1]
    assert attentions.shape == (1, 2, 2, n, n)  # layers, heads of the tiny model
    np.testing.assert_allclose(attentions[0], torch.stack(ref.attentions, 1)[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(cls_attention[0], attentions[0, -1, :, 0, :].mean(0), atol=1e-6)
    np.testing.assert_allclose(cls_attention.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(logits, ref.logits.numpy(), atol=1e-4)
