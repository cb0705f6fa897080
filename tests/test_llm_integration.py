"""The agent with the real local LLM (llama.cpp serving Qwen2.5-Coder-1.5B): a greeting, one
tool call with its artifact, a tool turn right after another that answers about its own
result from the cached prefix, and a server crash that costs one turn and nothing else."""

from __future__ import annotations

import os
import signal

import pytest

from agent.llm_server import free_port
from agent.providers import local_server
from agent.runner import Assistant, open_checkpointer
from core.settings import Settings
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path, llm_settings) -> Settings:
    # A tmp data folder for history and indexes; the session's LLM server is adopted.
    return Settings.from_env({"data_dir": tmp_path, "llm_port": llm_settings.llm_port})


async def test_greeting_needs_no_tool(settings):
    async with open_checkpointer(settings) as cp:
        result = await Assistant(settings, cp).ainvoke("Hi! Who are you?", "greet")
    assert result["tool_calls"] == []
    assert len(result["answer"]) > 10 and not result["error"]


async def test_one_tool_call_through_the_agent(settings):
    text = (
        'Use the paraphrase tool: do "The committee approved the budget." and '
        '"The budget was approved by the committee." mean the same?'
    )
    async with open_checkpointer(settings) as cp:
        result = await Assistant(settings, cp).ainvoke(text, "tool")
    assert [c["name"] for c in result["tool_calls"]][:1] == ["check_paraphrase"], result
    tool = result["tool_results"][0]
    assert tool["artifact"]["parts"], "the tool returned an artifact for the UI"
    assert "paraphrase" in tool["content"].lower()
    assert result["answer"] and not result["error"]


async def test_a_tool_turn_after_another_answers_about_its_own_result(settings):
    """The failure seen in the browser: the attention turn answered with the paraphrase
    turn's verdict. Here the second answer must be about attention, not a copy, and its
    prompt must reuse the first turn's cached prefix up to the first result, which later
    prompts read in brief (`agent.graph.rendered`)."""
    from agent.answer_check import similarity

    first_text = (
        'Do these mean the same? "The company hired Anna." and "Anna was hired by the company."'
    )
    second_text = "Show me the attention of BERT on: The dog chased the ball."
    async with open_checkpointer(settings) as cp:
        assistant = Assistant(settings, cp)
        first = await assistant.ainvoke(first_text, "two-tools")
        second = await assistant.ainvoke(second_text, "two-tools")
    assert [c["name"] for c in first["tool_calls"]] == ["check_paraphrase"]
    assert [c["name"] for c in second["tool_calls"]] == ["show_attention"]
    answer = second["answer"].lower()
    assert "layer" in answer and "head" in answer, second["answer"]
    assert "paraphrase" not in answer, second["answer"]
    assert similarity(first["answer"], second["answer"]) <= 0.6
    assert second["check"]["ok"], second["check"]
    calls = second["llm_calls"]
    assert len(calls) == 1  # route by classifier, argument read from the message
    # The first turn's prompt is reused beyond the system prompt (its message, ~38 tokens),
    # and from its result on the brief is read instead: a smaller context than the first
    # prompt plus this turn's whole tail.
    before = first["llm_calls"][0]
    assert calls[0]["cached_tokens"] >= before["cached_tokens"] + 20, (before, calls)
    assert calls[0]["cached_tokens"] < before["prompt_tokens"], (before, calls)
    print(f"\nsecond tool turn: {second['seconds']:.1f} s, {calls}")


async def test_server_crash_costs_one_turn_and_is_restarted(tmp_path):
    # Our own server here (not the shared one): this test kills it.
    settings = Settings.from_env({"data_dir": tmp_path, "llm_port": free_port()})
    models = REPO / "data" / "models"
    (tmp_path / "models").symlink_to(models, target_is_directory=True)
    server = local_server(settings)
    try:
        async with open_checkpointer(settings) as cp:
            assistant = Assistant(settings, cp)
            first = await assistant.ainvoke("Say hello in three words.", "crash")
            assert not first["error"]
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            # Mid-turn death: the graph's model call fails; the user gets a clear message.
            graph = assistant.graph()
            config = assistant.config("crash", "u")
            state = await graph.ainvoke({"messages": [("user", "Are you there?")]}, config)
            assert "could not answer" in state["messages"][-1].content
            # The next turn restarts the server and works, with the history intact.
            third = await assistant.ainvoke("Say goodbye in three words.", "crash")
            assert not third["error"] and third["answer"]
            history = [m.content for m in await assistant.messages("crash")]
            assert history[0] == "Say hello in three words."
            assert "Are you there?" in history
    finally:
        server.stop()


def test_a_task_on_another_slot_leaves_an_idle_slots_cache(tmp_path):
    """With llama.cpp's default `cache_idle_slots`, a task on slot 1 saved idle slot 0 to
    the RAM prompt cache and cleared it; when that cache had no room (here 1 MiB, in the app
    the 40-90 MiB entries of long prompts evicted each other) the conversation re-read its
    whole history after every text-to-Cypher call."""
    import json
    import urllib.request

    from agent.llm_server import LocalLLMServer

    settings = Settings.from_env(
        {"data_dir": tmp_path, "llm_port": free_port(), "llm_cache_mib": 1}
    )
    (tmp_path / "models").symlink_to(REPO / "data" / "models", target_is_directory=True)

    def timings(server: LocalLLMServer, text: str, slot: int) -> dict:
        body = {"messages": [{"role": "user", "content": text}], "max_tokens": 1,
                "id_slot": slot, "temperature": 0}  # fmt: skip
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=300) as reply:
            return json.load(reply)["timings"]

    history = "The lesson so far: " + " ".join(f"fact {i} is {i * 7}." for i in range(60))
    with LocalLLMServer(settings) as server:
        timings(server, history, 0)
        timings(server, "A text-to-Cypher prompt: " + history[::-1], 1)
        again = timings(server, history + " And one more question?", 0)
    assert again["prompt_n"] < 20 and again["cache_n"] > 300, again
