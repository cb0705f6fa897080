"""The LLM child's options (`agent.llm_server._serve`): without the bench's slot, KV and
flash-attention flags it configures llama.cpp exactly as the app always did, and with them
it sets what they say. llama.cpp is not started: `xllamacpp.Server` is replaced by a stub
that keeps the parameters and stops the child."""

from __future__ import annotations

import pytest
import xllamacpp

from agent.llm_server import _serve


class _Stop(Exception):
    pass


def _params(monkeypatch, *flags: str) -> xllamacpp.CommonParams:
    seen = []

    def server(params):
        seen.append(params)
        raise _Stop

    monkeypatch.setattr(xllamacpp, "Server", server)
    with pytest.raises(_Stop):
        _serve(["model.gguf", "1234", *flags])
    return seen[0]


def test_defaults_are_the_apps_server(monkeypatch):
    p = _params(monkeypatch, "--ctx", "16384")
    assert (p.n_ctx, p.n_parallel, p.kv_unified, p.cache_idle_slots) == (16384, 3, True, False)
    assert (p.cpuparams.n_threads, p.cpuparams_batch.n_threads, p.cache_ram_mib) == (1, 2, 256)
    assert p.flash_attn_type == xllamacpp.CommonParams().flash_attn_type  # llama.cpp's auto


def test_bench_flags_set_slots_kv_layout_and_flash_attention(monkeypatch):
    p = _params(monkeypatch, "--parallel", "4", "--no-unified", "--flash-attn", "on")
    assert (p.n_parallel, p.kv_unified) == (4, False)
    assert p.flash_attn_type == xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
    p = _params(monkeypatch, "--flash-attn", "off")
    assert p.flash_attn_type == xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
