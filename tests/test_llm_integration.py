"""The agent with the real local LLM (llama.cpp serving Qwen2.5-Coder-1.5B): a greeting, one
tool call with its artifact, and a server crash that costs one turn and nothing else."""

from __future__ import annotations

import os
import signal

import pytest

from agent.llm_server import free_port
from agent.providers import local_server
from agent.runner import Assistant, open_checkpointer
from agent.settings import Settings
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


async def test_server_crash_costs_one_turn_and_is_restarted(tmp_path):
    # Our own server here (not the shared one): this test kills it.
    settings = Settings.from_env(
        {"data_dir": tmp_path, "llm_port": free_port(), "max_tool_rounds": 1}
    )
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
            graph = assistant.graph(settings)
            config = assistant.config("crash", "u", settings)
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
