"""The agent graph with a scripted chat model: routing, tool errors, the tool-round cap and
recursion limit, history per thread across restarts, trimming, and bad input."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from agent import graph as graph_mod
from agent.graph import build_graph, drop_unanswered_tool_calls, trim_history
from agent.prompts import CALL_TOOL_NOTE, FINAL_ANSWER_NOTE
from agent.runner import Assistant, open_checkpointer, validate_message
from agent.semantic_router import FOLLOW_UP
from agent.settings import Settings
from tests.fakes import ScriptedChatModel, route, tool_call
from tools import artifacts
from tools.errors import ToolInputError


@tool(response_format="content_and_artifact")
def shout(text: str) -> tuple[str, dict]:
    """Repeat the text in capitals."""
    if not text:
        raise ToolInputError("Give me some text to shout.")
    if text == "boom":
        raise RuntimeError("kaboom")
    return text.upper(), artifacts.artifact("shout", [artifacts.markdown(text.upper())])


@tool
def whisper(text: str) -> str:
    """Repeat the text in lower case."""
    return text.lower()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"data_dir": tmp_path, "max_tool_rounds": 2})


def assistant_with(model, settings, checkpointer) -> Assistant:
    a = Assistant(settings, checkpointer)
    a._graphs[settings] = build_graph(model, [shout], settings, checkpointer)
    return a


async def run(model, settings, text, thread="t1"):
    async with open_checkpointer(settings) as cp:
        return await assistant_with(model, settings, cp).ainvoke(text, thread)


async def test_routes_to_tool_and_answers_with_its_result(settings):
    model = ScriptedChatModel(
        script=[route("shout"), tool_call("shout", {"text": "hi"}), "I shouted: HI"]
    )
    result = await run(model, settings, "shout hi")
    assert result["tool_calls"] == [{"name": "shout", "args": {"text": "hi"}}]
    assert result["tool_results"][0]["content"] == "HI"
    assert result["tool_results"][0]["artifact"]["parts"][0]["content"] == "HI"
    assert result["answer"] == "I shouted: HI"
    router, first, second = model.calls
    # The router got a schema-constrained question with every tool and "none" to choose from.
    schema = router["kwargs"]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tool"]["enum"] == ["shout", "none"]
    assert router["tools"] == []
    # The model then saw only the chosen tool, and was told to call it.
    assert first["tools"] == ["shout"]
    assert first["messages"][-1].content == CALL_TOOL_NOTE.format(tool="shout")
    # The next call saw the tool result.
    assert any(isinstance(m, ToolMessage) and m.content == "HI" for m in second["messages"])


async def test_plain_chat_is_routed_to_no_tool(settings):
    model = ScriptedChatModel(script=[route("none"), "Hello! I teach generative AI."])
    result = await run(model, settings, "hello")
    assert result["tool_calls"] == [] and result["tool_results"] == []
    assert result["answer"].startswith("Hello")
    answer_call = model.calls[1]
    assert answer_call["tools"] == []  # nothing to invent a call with
    assert isinstance(answer_call["messages"][0], SystemMessage)


async def test_unusable_route_offers_every_tool(settings):
    model = ScriptedChatModel(script=["I think shout?", "Plain answer."])
    result = await run(model, settings, "hmm")
    assert model.calls[1]["tools"] == ["shout"]  # all tools (here: the one) bound
    assert result["answer"] == "Plain answer."


async def test_router_sees_the_conversation_for_follow_ups(settings):
    model = ScriptedChatModel(
        script=[
            route("none"),
            "Shouting means capitals.",
            route("shout"),
            tool_call("shout", {"text": "b"}),
            "B",
        ]
    )
    await run(model, settings, "what does shouting mean?")
    await run(model, settings, "now do it for b")
    router = model.calls[2]["messages"]
    assert [m.content for m in router[1:]] == [
        "what does shouting mean?",
        "Shouting means capitals.",
        "now do it for b",
    ]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("", "Give me some text to shout."), ("boom", "The tool failed (RuntimeError: kaboom)")],
)
async def test_tool_exception_becomes_readable_message(settings, arg, expected):
    model = ScriptedChatModel(
        script=[route("shout"), tool_call("shout", {"text": arg}), "Sorry about that."]
    )
    result = await run(model, settings, "shout")
    content = result["tool_results"][0]["content"]
    assert content.startswith(expected)
    assert "Traceback" not in content
    assert result["answer"] == "Sorry about that."


async def test_tool_rounds_are_capped_then_model_answers_without_tools(settings):
    calls = [tool_call("shout", {"text": f"x{i}"}, f"c{i}") for i in range(5)]
    model = ScriptedChatModel(script=[route("shout"), *calls[:2], "Done with what I have."])
    result = await run(model, settings, "keep shouting")
    assert len(result["tool_calls"]) == 2  # max_tool_rounds
    last = model.calls[-1]
    assert last["tools"] == []  # the final call has no tools bound
    assert last["messages"][-1].content == FINAL_ANSWER_NOTE
    assert result["answer"] == "Done with what I have."


async def test_recursion_limit_ends_with_honest_answer(settings, monkeypatch):
    monkeypatch.setattr("agent.runner.recursion_limit", lambda s: 2)
    calls = [tool_call("shout", {"text": "a"}, f"c{i}") for i in range(5)]
    model = ScriptedChatModel(script=[route("shout"), *calls])
    result = await run(model, settings, "loop")
    assert "could not finish this within 2 steps" in result["answer"]
    async with open_checkpointer(settings) as cp:
        history = await assistant_with(model, settings, cp).messages("t1")
    assert history[-1].content == result["answer"]  # saved in the thread


async def test_history_is_per_thread_and_survives_restart(settings):
    model = ScriptedChatModel(
        script=[route("none"), "A1", route("none"), "B1", route("none"), "A2"]
    )
    await run(model, settings, "first in A", thread="A")
    await run(model, settings, "first in B", thread="B")
    # A new checkpointer connection = a restarted app.
    await run(model, settings, "second in A", thread="A")
    seen = [m.content for m in model.calls[-1]["messages"] if isinstance(m, HumanMessage)]
    assert seen == ["first in A", "second in A"]
    async with open_checkpointer(settings) as cp:
        b = await assistant_with(model, settings, cp).messages("B")
    assert [m.content for m in b] == ["first in B", "B1"]


async def test_model_failure_keeps_history_and_next_turn_works(settings):
    model = ScriptedChatModel(
        script=[ConnectionError("died"), ConnectionError("died"), route("none"), "Back again."]
    )
    first = await run(model, settings, "hello?")
    assert first["error"] and "could not answer" in first["answer"]
    second = await run(model, settings, "still there?")
    assert second["answer"] == "Back again." and not second["error"]
    humans = [m.content for m in model.calls[-1]["messages"] if isinstance(m, HumanMessage)]
    assert humans == ["hello?", "still there?"]


def test_trim_keeps_latest_messages_starting_with_a_user_turn():
    msgs = []
    for i in range(30):
        msgs += [HumanMessage(f"question {i} " + "word " * 40), AIMessage(f"answer {i}")]
    trimmed = trim_history(msgs, max_tokens=300)
    assert isinstance(trimmed[0], HumanMessage)
    assert trimmed[-1].content == "answer 29"
    assert 0 < len(trimmed) < len(msgs)


def test_unanswered_tool_calls_are_dropped_but_answered_ones_kept():
    stopped = AIMessage("let me check", tool_calls=[{"name": "shout", "args": {}, "id": "x"}])
    done = tool_call("shout", {"text": "a"}, "y")
    msgs = [
        HumanMessage("q1"),
        stopped,
        HumanMessage("q2"),
        done,
        ToolMessage("A", tool_call_id="y"),
    ]
    out = drop_unanswered_tool_calls(msgs)
    assert out[1] == AIMessage("let me check") and not out[1].tool_calls
    assert out[3] is done


def test_tool_round_count_is_per_turn():
    msgs = [HumanMessage("a"), tool_call("s", {}), ToolMessage("x", tool_call_id="call-1")]
    assert graph_mod.tool_rounds_this_turn(msgs) == 1
    assert graph_mod.tool_rounds_this_turn([*msgs, AIMessage("ok"), HumanMessage("b")]) == 0


def test_bad_messages_are_refused_clearly():
    s = Settings.from_env({"max_message_chars": 10})
    with pytest.raises(ToolInputError, match="empty"):
        validate_message("   ", s)
    with pytest.raises(ToolInputError, match="limit is 10"):
        validate_message("x" * 11, s)
    assert validate_message("  hi  ", s) == "hi"


def test_route_parsing_accepts_only_known_choices():
    assert graph_mod.parse_route('{"tool": "shout"}', ["shout"]) == "shout"
    assert graph_mod.parse_route('{"tool": "none"}', ["shout"]) == "none"
    assert graph_mod.parse_route('{"tool": "delete_all"}', ["shout"]) == graph_mod.ANY_TOOL
    assert graph_mod.parse_route("shout", ["shout"]) == graph_mod.ANY_TOOL


async def test_confident_semantic_route_skips_the_llm_router(settings):
    model = ScriptedChatModel(script=[tool_call("shout", {"text": "a"}), "A"])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graphs[settings] = build_graph(
            model, [shout], settings, cp, semantic_router=lambda text: ("shout", 0.9)
        )
        result = await a.ainvoke("shout a", "t")
    assert result["tool_calls"][0]["name"] == "shout"
    assert "response_format" not in model.calls[0]["kwargs"]  # no router call was made


async def test_unsure_semantic_route_asks_the_llm_router(settings):
    model = ScriptedChatModel(script=[route("none"), "Plain."])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graphs[settings] = build_graph(
            model, [shout], settings, cp, semantic_router=lambda text: ("shout", 0.2)
        )
        result = await a.ainvoke("hmm", "t")
    assert "response_format" in model.calls[0]["kwargs"]
    assert result["tool_calls"] == [] and result["answer"] == "Plain."


async def test_asking_for_no_tools_skips_both_routers(settings):
    model = ScriptedChatModel(script=["From memory: RAG retrieves, then generates."])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graphs[settings] = build_graph(
            model, [shout], settings, cp, semantic_router=lambda text: ("shout", 0.99)
        )
        result = await a.ainvoke("Without using any tools: what is RAG?", "t")
    assert len(model.calls) == 1 and model.calls[0]["tools"] == []
    assert result["tool_calls"] == [] and "without tools" in result["route_note"]


async def test_a_follow_up_reuses_the_tool_used_last(settings):
    model = ScriptedChatModel(
        script=[
            tool_call("whisper", {"text": "A"}),
            "a",
            tool_call("whisper", {"text": "B"}, "call-2"),
            "b",
        ]
    )
    labels = iter([("whisper", 0.9), (FOLLOW_UP, 0.9)])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graphs[settings] = build_graph(
            model, [shout, whisper], settings, cp, semantic_router=lambda text: next(labels)
        )
        await a.ainvoke("whisper A", "t")
        result = await a.ainvoke("and B?", "t")
    follow_up_call = model.calls[2]
    assert follow_up_call["tools"] == ["whisper"]
    assert all("response_format" not in c["kwargs"] for c in model.calls)
    assert result["route_note"].startswith("classifier: follow_up → whisper, p = 0.90 ≥ 0.50")


async def test_a_follow_up_with_no_tool_before_asks_the_llm_router(settings):
    model = ScriptedChatModel(script=[route("none"), "Plain."])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graphs[settings] = build_graph(
            model, [shout], settings, cp, semantic_router=lambda text: (FOLLOW_UP, 0.95)
        )
        result = await a.ainvoke("and the other one?", "t")
    assert "response_format" in model.calls[0]["kwargs"]
    assert result["answer"] == "Plain."
    assert result["route_note"].endswith("the LLM router chose none")


async def test_a_turn_stopped_midway_is_closed_before_the_next_message(settings):
    """A stop or restart between the tool call and its result leaves the tool step pending;
    the next message must be answered, not the old tool run."""
    model = ScriptedChatModel(script=[route("shout"), tool_call("shout", {"text": "old"})])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        graph = build_graph(model, [shout], settings, cp)
        a._graphs[settings] = graph
        config = a.config("t", "u", settings)
        async for _ in graph.astream(
            {"messages": [HumanMessage("shout old")]}, config, interrupt_before=["tools"]
        ):
            pass
        assert (await graph.aget_state(config)).next == ("tools",)
        model.script += [route("none"), "Hello again."]
        result = await a.ainvoke("hello", "t")
    assert result["answer"] == "Hello again." and result["tool_results"] == []
