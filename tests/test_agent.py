"""The agent graph with a scripted chat model: routing, arguments read or filled in, tool
errors, the answer check, the shared prompt prefix, history per thread, and bad input."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolArg, tool

from agent import events
from agent.graph import (
    ABOUT,
    FROM_RESULT,
    FROM_RESULT_IN_HISTORY,
    build_graph,
    rendered,
    whole_sentences,
    window_start,
)
from agent.prompts import ANSWER_NOTE, ARGUMENTS_NOTE, SYSTEM_PROMPT
from agent.runner import Assistant, open_checkpointer, validate_message
from agent.semantic_router import FOLLOW_UP
from core.errors import ToolInputError
from core.settings import Settings
from tests.fakes import ScriptedChatModel, models_of, route
from tools import artifacts


@tool(response_format="content_and_artifact")
def find_entities(text: str) -> tuple[str, dict]:
    """Find the entities in a text."""
    if not text.strip():
        raise ToolInputError("Give me some text.")
    if text == "boom":
        raise RuntimeError("kaboom")
    names = [w for w in text.replace(".", "").split() if w[:1].isupper()]
    result = artifacts.artifact("find_entities", [artifacts.markdown(", ".join(names))])
    result["facts"] = artifacts.facts(
        must=[[n] for n in names], need=2, statement=f"Found: {', '.join(names)}."
    )
    return f"Entities: {', '.join(names)}", result


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Not the local provider: before each turn the assistant brings the local llama.cpp
    server up if it is down, and a unit test with a scripted model must not start one."""
    return Settings.from_env(
        {"provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "data_dir": tmp_path}
    )


def classifier(label: str, p: float = 0.9):
    return lambda text: (label, p)


def assistant_with(
    model, settings, checkpointer, router=None, lessons=None, tools=(find_entities,)
) -> Assistant:
    a = Assistant(settings, checkpointer)
    a._graph = build_graph(
        models_of(model),
        list(tools),
        settings,
        checkpointer,
        semantic_router=router,
        lessons=lessons,
    )
    return a


async def run(model, settings, text, thread="t1", router=None, lessons=None):
    async with open_checkpointer(settings) as cp:
        return await assistant_with(model, settings, cp, router, lessons).ainvoke(text, thread)


def rendered_text(messages) -> list[str]:
    return [f"{type(m).__name__}:{m.content}" for m in messages]


async def test_a_confident_route_with_a_plain_argument_takes_one_model_call(settings):
    model = ScriptedChatModel(script=["It found Ada and London."])
    text = "Find the entities in: Ada Lovelace lived in London."
    result = await run(model, settings, text, router=classifier("find_entities"))
    assert result["tool_calls"] == [
        {"name": "find_entities", "args": {"text": "Ada Lovelace lived in London."}}
    ]
    assert result["answer"] == "It found Ada and London."
    assert result["check"]["ok"] and result["check"]["source"] == "model"
    (answer_call,) = model.calls  # no router call, no argument call
    assert answer_call["tools"] == []
    last = answer_call["messages"][-1]
    assert isinstance(last, HumanMessage) and "Entities: Ada, Lovelace, London" in last.content


async def test_unsure_classifier_asks_the_llm_router_on_its_own_model(settings):
    """The router gets its own short prompt (rules, then the learner's messages and the
    answers, no tool results) on its own model, so the conversation's cached prefix stays."""
    model = ScriptedChatModel(script=["It found Ada and Bob.", "Hello! I teach generative AI."])
    router_model = ScriptedChatModel(script=[route("none")])
    labels = iter([("find_entities", 0.9), ("none", 0.3)])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graph = build_graph(
            models_of(model, router=router_model), [find_entities], settings, cp,
            semantic_router=lambda t: next(labels),
        )  # fmt: skip
        await a.ainvoke("Entities in: Ada met Bob.", "t")
        result = await a.ainvoke("tell me something fun", "t")
    assert result["tool_calls"] == [] and result["answer"].startswith("Hello")
    (router,) = router_model.calls
    schema = router["kwargs"]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tool"]["enum"] == ["find_entities", "none"]
    assert router["messages"][0].content.startswith("Choose the tool")
    assert [m.content for m in router["messages"][1:]] == [
        "Entities in: Ada met Bob.",
        "It found Ada and Bob.",
        "tell me something fun",
    ]
    assert result["route_note"].endswith("the LLM router chose none")


async def test_an_unusable_route_answers_without_a_tool(settings):
    model = ScriptedChatModel(script=["I think find_entities?", "Plain answer."])
    result = await run(model, settings, "hmm", router=classifier("none", 0.1))
    assert result["tool_calls"] == [] and result["answer"] == "Plain answer."


async def test_every_call_of_every_turn_extends_the_same_prefix(settings):
    """What llama.cpp's cache needs: each prompt starts with the whole previous prompt of
    the conversation (minus per-call tails), byte for byte."""
    model = ScriptedChatModel(
        script=[
            "Hi there.",
            "It found Ada and Paris.",
            json.dumps({"text": "Bob met Carol in Rome."}),
            "It found Bob, Carol and Rome.",
        ]
    )
    labels = iter([("none", 0.9), ("find_entities", 0.9), (FOLLOW_UP, 0.9)])

    def router(text):
        return next(labels)

    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, router)
        await a.ainvoke("what is an entity?", "t")
        await a.ainvoke("Entities in: Ada went to Paris.", "t")
        third = await a.ainvoke("and for the next one?", "t")
    assert third["tool_calls"][0]["args"] == {"text": "Bob met Carol in Rome."}
    first, second, arguments, answer = (rendered_text(c["messages"]) for c in model.calls)
    assert second[: len(first)] == first
    # The previous turn's answer prompt, extended, but for its result, now in brief.
    assert arguments[: len(second) - 1] == second[:-1]
    assert "in brief" in arguments[len(second) - 1] and "in brief" not in second[-1]
    assert answer[: len(arguments) - 1] == arguments[:-1]  # the argument note is a tail
    assert ARGUMENTS_NOTE.split("{tool}")[0] in model.calls[2]["messages"][-1].content
    assert first[0] == f"SystemMessage:{SYSTEM_PROMPT}"


async def test_a_follow_up_goes_to_the_tool_used_last_and_the_model_fills_the_argument(
    settings,
):
    model = ScriptedChatModel(
        script=[
            "Ada Lovelace.",
            json.dumps({"text": "Grace Hopper in Arlington."}),
            "Grace Hopper, Arlington.",
        ]
    )
    labels = iter([("find_entities", 0.9), (FOLLOW_UP, 0.8)])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, lambda t: next(labels))
        await a.ainvoke("Entities in: Ada Lovelace.", "t")
        result = await a.ainvoke("and in Grace Hopper in Arlington?", "t")
    assert result["tool_calls"] == [
        {"name": "find_entities", "args": {"text": "Grace Hopper in Arlington."}}
    ]
    fill = model.calls[1]
    assert fill["kwargs"]["response_format"]["json_schema"]["schema"]["required"] == ["text"]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("boom", "The tool failed (RuntimeError: kaboom)")],
)
async def test_tool_exception_becomes_readable_message(settings, arg, expected):
    model = ScriptedChatModel(script=["Sorry, the tool failed."])
    result = await run(model, settings, f'Entities in "{arg}"', router=classifier("find_entities"))
    content = result["tool_results"][0]["content"]
    assert content.startswith(expected) and "Traceback" not in content
    assert result["answer"] == "Sorry, the tool failed."


async def test_an_answer_that_contradicts_its_tool_is_regenerated_then_replaced(settings):
    model = ScriptedChatModel(script=["No names here.", "Still nothing."])
    result = await run(
        model, settings, "Entities in: Ada met Bob.", router=classifier("find_entities")
    )
    assert len(model.calls) == 2
    retry_note = model.calls[1]["messages"][-1].content
    assert "leaves out what the tool found" in retry_note
    assert result["answer"].startswith("For “Entities in: Ada met Bob.”: Found: Ada, Bob.")
    assert "Written from the tool's result" in result["answer"]
    assert result["check"]["source"] == "written from the tool's result"


async def test_a_copied_answer_is_sent_back(settings):
    model = ScriptedChatModel(
        script=[
            "Tokens are pieces of text.",
            "Tokens are pieces of text.",
            "Embeddings are vectors.",
        ]
    )
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("none"))
        await a.ainvoke("what is a token?", "t")
        result = await a.ainvoke("what is an embedding?", "t")
    assert result["answer"] == "Embeddings are vectors."
    assert "repeats an earlier answer" in result["check"]["first"][0]


async def test_answers_that_share_only_their_leads_form_are_not_copies(settings):
    @tool("find_entities", response_format="content_and_artifact")
    def leading(text: str) -> tuple[str, dict]:
        """Find the entities in a text."""
        lead = f"spaCy read “{text}” and found no named entities in it at all."
        result = artifacts.artifact("find_entities", [])
        result["facts"] = artifacts.facts(statement=lead, lead=lead)
        return lead, result

    model = ScriptedChatModel(script=["Lowercase words name nothing.", "Verbs are not names."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("find_entities"), tools=(leading,))
        await a.ainvoke("Entities in: it sat.", "t")
        result = await a.ainvoke("Entities in: it ran.", "t")
    assert result["answer"].endswith("found no named entities in it at all. Verbs are not names.")
    assert result["check"]["source"] == "model" and not result["check"]["first"]


async def test_a_twice_copied_answer_is_written_again_without_the_history(settings):
    """The 1.5B model repeated an earlier answer even when told it had: the last try sees
    only the system prompt and the message, so there is nothing to copy."""
    model = ScriptedChatModel(script=["P is a probability."] * 3 + ["A score."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("none"))
        await a.ainvoke("what is P?", "t")
        turn = [e async for e in a.run_turn("and what does that number mean?", "t")]
    assert len([e for e in turn if isinstance(e, events.Retry)]) == 2  # each try replaces
    last_try = model.calls[3]["messages"]
    assert [m.content for m in last_try[1:]] == ["and what does that number mean?"]
    finished = turn[-1]
    assert finished.answer == "A score."
    assert finished.check["source"] == "model, without the conversation"


async def test_a_citation_with_no_passage_this_turn_is_taken_out_not_sent_back(settings):
    model = ScriptedChatModel(script=["Hallucination is content with no source [1]."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("none"))
        turn = [e async for e in a.run_turn("what is hallucination?", "t")]
    checked = next(e for e in turn if isinstance(e, events.Checked))
    assert turn[-1].answer == "Hallucination is content with no source."
    assert len(model.calls) == 1 and checked.ok and checked.first == []
    assert checked.corrected == ["took out [1]: this turn found no passage to cite"]


async def test_what_can_you_teach_is_answered_from_the_registry(settings):
    model = ScriptedChatModel(script=[])
    result = await run(
        model,
        settings,
        "Hi! What can you teach me?",
        router=classifier("none"),
        lessons="Lessons: entities.",
    )
    assert result["answer"] == "Lessons: entities." and result["route"] == ABOUT
    assert model.calls == []


async def test_events_come_in_order_with_the_artifact_before_the_answer(settings):
    model = ScriptedChatModel(script=["It found Ada and Bob."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("find_entities"))
        kinds = [type(e).__name__ async for e in a.run_turn("Entities in: Ada met Bob.", "t")]
    assert kinds[:3] == ["Routed", "ToolStarted", "ToolFinished"]
    assert kinds[-2:] == ["Checked", "Finished"]
    assert kinds.index("ToolFinished") < kinds.index("Token")


@tool("find_entities", response_format="content_and_artifact")
def find_entities_with_lead(text: str) -> tuple[str, dict]:
    """Find the entities in a text."""
    result = artifacts.artifact("find_entities", [])
    result["facts"] = artifacts.facts(
        must=[["Ada"]], statement="Found: Ada.", lead="spaCy found 1 entity: Ada (person)."
    )
    return "Entities: Ada", result


async def test_an_answer_with_a_lead_opens_with_it_and_the_model_writes_on(settings):
    """The lead is sent as the start of the assistant's reply (the server continues it),
    streamed before the model's first token, and kept at the head of the answer."""
    model = ScriptedChatModel(script=["She was a mathematician."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(
            model, settings, cp, classifier("find_entities"), tools=[find_entities_with_lead]
        )
        turn = [e async for e in a.run_turn("Entities in: Ada wrote.", "t")]
    tokens = [e.text for e in turn if isinstance(e, events.Token)]
    assert tokens[0] == "spaCy found 1 entity: Ada (person). "
    assert turn[-1].answer == "spaCy found 1 entity: Ada (person). She was a mathematician."
    (call,) = model.calls
    last = call["messages"][-1]
    assert isinstance(last, AIMessage) and last.content == "spaCy found 1 entity: Ada (person)."


async def test_the_second_try_samples_instead_of_decoding_greedily(settings):
    model = ScriptedChatModel(script=["No names here.", "It found Ada and Bob."])
    result = await run(
        model, settings, "Entities in: Ada met Bob.", router=classifier("find_entities")
    )
    assert result["check"]["source"] == "model, second try"
    first, second = (c["kwargs"] for c in model.calls)
    assert "temperature" not in first and second["temperature"] > 0 and "seed" in second


async def test_history_is_per_thread_and_survives_restart(settings):
    model = ScriptedChatModel(script=["A1", "B1", "A2"])
    r = classifier("none")
    await run(model, settings, "first in A", thread="A", router=r)
    await run(model, settings, "first in B", thread="B", router=r)
    await run(model, settings, "second in A", thread="A", router=r)  # a new connection
    seen = [m.content for m in model.calls[-1]["messages"] if isinstance(m, HumanMessage)]
    assert seen == ["first in A", "second in A"]
    async with open_checkpointer(settings) as cp:
        b = await assistant_with(model, settings, cp).messages("B")
    assert [m.content for m in b] == ["first in B", "B1"]


async def test_model_failure_keeps_history_and_next_turn_works(settings):
    model = ScriptedChatModel(script=[ConnectionError("died"), "Back again."])
    r = classifier("none")
    first = await run(model, settings, "hello?", router=r)
    assert first["error"] and "could not answer" in first["answer"]
    second = await run(model, settings, "still there?", router=r)
    assert second["answer"] == "Back again." and not second["error"]
    humans = [m.content for m in model.calls[-1]["messages"] if isinstance(m, HumanMessage)]
    assert humans == ["hello?", "still there?"]


def test_history_is_rendered_without_tool_calls_and_with_each_result_once():
    messages = [
        HumanMessage("Entities in: Ada."),
        AIMessage("", tool_calls=[{"name": "find_entities", "args": {}, "id": "c"}]),
        ToolMessage("Entities: Ada", tool_call_id="c", name="find_entities"),
        AIMessage("It found Ada."),
    ]
    out = rendered(messages)
    assert [type(m).__name__ for m in out] == ["HumanMessage", "HumanMessage", "AIMessage"]
    assert "Result of the find_entities tool" in out[1].content


def test_only_the_latest_turns_result_is_given_in_full():
    """An earlier dump (passages, rows) stays in the context as its lead alone: the whole
    of it slowed every later call and sat beside this turn's result."""

    def tool_turn(question: str, content: str, lead: str, call: str) -> list:
        facts = artifacts.facts(statement=content, lead=lead)
        return [
            HumanMessage(question),
            AIMessage("", tool_calls=[{"name": "query_knowledge_graph", "args": {}, "id": call}]),
            ToolMessage(content, tool_call_id=call, name="query_knowledge_graph",
                        artifact={"facts": facts}),
            AIMessage(f"Answer to {question}"),
        ]  # fmt: skip

    dump = "Rows: " + "; ".join(f"Article {i} (2020)" for i in range(200))
    messages = [
        *tool_turn("first?", dump, "The query returned 200 rows: Article 0.", "a"),
        *tool_turn("second?", "Rows: Ada (3)", "The query returned 1 row: Ada (3).", "b"),
    ]
    out = [m.content for m in rendered(messages)]
    assert out[1].endswith("in brief (the learner saw it in full): The query returned 200 "
                           "rows: Article 0.")  # fmt: skip
    assert "Rows: Ada (3)" in out[4] and "in brief" not in out[4]
    assert len(out[1]) < 200 and sum(map(len, out)) < len(dump)
    # Without a lead, the plain statement, cut short.
    (brief,) = [
        m.content
        for m in rendered([*tool_turn("q", dump, "", "c"), HumanMessage("next")])
        if "in brief" in m.content
    ]
    assert brief.endswith("…") and "Article 0 (2020)" in brief and len(brief) < 450


def test_this_turns_result_is_followed_by_the_question_and_the_tools_own_note():
    """With passages in between, the model answered the result's shape ("the search found
    4 results") rather than the question: the question comes again after the result, then
    how to answer it, the tool's own note where it has one."""

    def turn(facts: dict) -> list:
        return [
            HumanMessage("what size is the int8 model?"),
            AIMessage("", tool_calls=[{"name": "search_documents", "args": {}, "id": "c"}]),
            ToolMessage("[1] (q.md) It is 173 MB.", tool_call_id="c", name="search_documents",
                        artifact={"facts": facts}),
        ]  # fmt: skip

    own = rendered(turn(artifacts.facts(passages=[1], note="Cite the passage, like [1].")))
    result, question, note = own[-1].content.rsplit("\n", 2)
    assert result.endswith("above:\n[1] (q.md) It is 173 MB.\n")
    assert question == "The message was: “what size is the int8 model?”"
    assert note == "Cite the passage, like [1]."
    general = rendered(turn(artifacts.facts(passages=[1])))[-1].content
    assert general.endswith(ANSWER_NOTE) and "what size is the int8 model?" in general


def test_an_answer_written_from_the_result_reads_as_a_short_line_in_later_prompts():
    """Given in full, the fallback's form ('For “…”: The passages found …') was copied by
    the model as its next answer."""
    fallback = AIMessage("For “x”: The passages found: [1] ...", response_metadata={
        "check": {"ok": True, "source": FROM_RESULT}})  # fmt: skip
    out = rendered([HumanMessage("x"), fallback, HumanMessage("y"), AIMessage("Own words.")])
    assert [m.content for m in out] == ["x", FROM_RESULT_IN_HISTORY, "y", "Own words."]


def test_sources_named_for_an_answer_are_not_shown_back_to_the_model_as_its_own():
    """The model copied the line "(Sources, found by the wording ...)" into its next
    answer, where the claim was not true."""
    named = artifacts.with_sources(
        "Chunks share up to 100 characters of text.",
        [{"n": 1, "text": "Consecutive chunks share up to 100 characters of text."}],
    )
    assert named.endswith("[1])")
    out = rendered([HumanMessage("x"), AIMessage(named)])
    assert out[1].content == "Chunks share up to 100 characters of text."


async def test_a_follow_up_that_gives_its_text_needs_no_argument_call(settings):
    model = ScriptedChatModel(script=["Ada Lovelace.", "Grace Hopper, Arlington."])
    labels = iter([("find_entities", 0.9), (FOLLOW_UP, 0.8)])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, lambda t: next(labels))
        await a.ainvoke("Entities in: Ada Lovelace.", "t")
        result = await a.ainvoke('and this: "Grace Hopper lived in Arlington."', "t")
    assert result["tool_calls"] == [
        {"name": "find_entities", "args": {"text": "Grace Hopper lived in Arlington."}}
    ]
    assert len(model.calls) == 2  # two answers, no argument call


def test_the_history_window_moves_in_big_steps():
    messages = []
    for i in range(40):
        messages += [HumanMessage(f"question {i} " + "word " * 30), AIMessage("answer " * 30)]
    start = window_start(messages, 0, 1000)
    assert start > 0 and isinstance(messages[start], HumanMessage)
    # One more turn: the window stays where it was while the history still fits.
    messages += [HumanMessage("one more"), AIMessage("ok")]
    assert window_start(messages, start, 1000) == start


def test_bad_messages_are_refused_clearly():
    s = Settings(max_message_chars=10)
    with pytest.raises(ToolInputError, match="empty"):
        validate_message("   ", s)
    with pytest.raises(ToolInputError, match="too long"):
        validate_message("x" * 11, s)
    with pytest.raises(ToolInputError, match="bytes"):
        validate_message("😀" * 10, s)  # 10 characters, 40 bytes
    assert validate_message("  hi  ", s) == "hi"


async def test_a_turn_stopped_midway_is_closed_before_the_next_message(settings):
    """A stop or restart after routing leaves a step pending; the next message must be
    answered, not the old tool run."""
    model = ScriptedChatModel(script=[])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("find_entities"))
        graph = a.graph()
        config = a.config("t", "u")
        async for _ in graph.astream(
            {"messages": [HumanMessage("Entities in: Old Text.")]}, config, interrupt_before=["act"]
        ):
            pass
        assert (await graph.aget_state(config)).next == ("act",)
        a._graph = build_graph(
            models_of(model), [find_entities], settings, cp, semantic_router=classifier("none")
        )
        model.script += ["Hello again."]
        result = await a.ainvoke("hello", "t")
    assert result["answer"] == "Hello again." and result["tool_results"] == []


def test_finished_event_is_plain_data():
    done = events.Finished(answer="a", error=False, llm_calls=[events.LLMCall(1.0, 10, 8, False)])
    assert json.loads(json.dumps(done.as_dict()))["llm_calls"][0]["cached_tokens"] == 8


async def test_another_users_thread_is_neither_read_nor_written(settings):
    """Knowing a thread id is not enough: the agent refuses to load another user's history
    into the model's context, and the thread is left as it was."""
    model = ScriptedChatModel(script=["Secret answer."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("none"))
        await a.ainvoke("my secret plan", "shared-id", user_id="alice")
        with pytest.raises(ToolInputError, match="belongs to another"):
            await a.ainvoke("what did I say?", "shared-id", user_id="mallory")
        history = await a.messages("shared-id")
    assert [m.content for m in history] == ["my secret plan", "Secret answer."]
    assert len(model.calls) == 1  # mallory's turn never reached the model


async def test_a_deleted_thread_leaves_no_history_and_can_be_reused(settings):
    model = ScriptedChatModel(script=["A1.", "B1."])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, classifier("none"))
        await a.ainvoke("first", "t", user_id="alice")
        await a.delete_thread("t")
        assert await a.messages("t") == []
        await a.ainvoke("hello", "t", user_id="bob")
    assert [m.content for m in model.calls[-1]["messages"][1:]] == ["hello"]


async def test_the_llm_router_cannot_send_a_message_without_a_text_to_a_text_tool(settings):
    """ "In one sentence, what is a token?" was routed to the attention view, which needs a
    sentence the learner gives; with none in the message the turn needs no tool."""
    model = ScriptedChatModel(script=[route("find_entities"), "A token is a piece of text."])
    result = await run(
        model, settings, "In one sentence, what is a token?", router=classifier("none", 0.2)
    )
    assert result["tool_calls"] == [] and result["answer"] == "A token is a piece of text."
    assert "needs a text you give" in result["route_note"]
    model = ScriptedChatModel(script=[route("find_entities"), "It found Ada and Bob."])
    given = await run(
        model, settings, "Tag: Ada met Bob.", thread="t2", router=classifier("none", 0.2)
    )
    assert [c["name"] for c in given["tool_calls"]] == ["find_entities"]


async def test_a_confident_classifier_cannot_send_a_message_without_a_text_either(settings):
    """ "Does BERT give 'bank' the same vector in both sentences?" was sent to the attention
    view with p = 0.39 and answered with a head summary: a concept question about a text
    tool is answered without it. The classifier's impossible guess counts as unsure, so the
    LLM router is asked (it may see a follow-up to the course), under the same rule."""
    model = ScriptedChatModel(script=[route("find_entities"), "An entity is a named thing."])
    result = await run(
        model, settings, "what counts as an entity anyway?", router=classifier("find_entities")
    )
    assert result["tool_calls"] == [] and result["answer"] == "An entity is a named thing."
    assert "needs a text you give" in result["route_note"]
    assert "the LLM router chose find_entities" in result["route_note"]
    assert len(model.calls) == 2  # the router, then the answer


@tool(response_format="content_and_artifact")
def query_knowledge_graph(question: str) -> tuple[str, dict]:
    """Answer a question from the knowledge graph."""
    found = "Amara Okafor" if "rag" in question.lower() else "Pruning Heads (2019)"
    result = artifacts.artifact("query_knowledge_graph", [artifacts.markdown(found)])
    result["facts"] = artifacts.facts(must=[[found]], statement=f"Found {found}.")
    return f"Rows: {found}", result


async def two_graph_turns(settings, written: str, first: str, second: str, answers):
    """Two graph turns in one thread; between the two answers the model writes `written`
    when asked for the second turn's arguments. Returns both results and the model."""
    model = ScriptedChatModel(script=[answers[0], json.dumps({"question": written}), answers[1]])
    async with open_checkpointer(settings) as cp:
        a = assistant_with(
            model, settings, cp, classifier("query_knowledge_graph"), tools=[query_knowledge_graph]
        )
        return await a.ainvoke(first, "t"), await a.ainvoke(second, "t"), model


async def test_a_question_pointing_back_is_written_out_by_the_model(settings):
    """ "What else has he written?" sent as it is asks the graph about nobody: the model
    writes it out with the name from the conversation; a question that stands alone is
    sent as the learner wrote it, with no model call."""
    first, second, model = await two_graph_turns(
        settings,
        "What else has Amara Okafor written?",
        "Who wrote about RAG?",
        "what else has he written?",
        ("Amara Okafor wrote about RAG.", "She also wrote Pruning Heads (2019)."),
    )
    assert first["tool_calls"][0]["args"] == {"question": "Who wrote about RAG?"}
    assert second["tool_calls"][0]["args"] == {"question": "What else has Amara Okafor written?"}
    assert len(model.calls) == 3  # answer; then arguments and answer
    assert model.calls[1]["kwargs"]["response_format"]["json_schema"]["name"] == "arguments"


async def test_a_question_still_saying_she_with_no_name_is_asked_back_not_sent(settings):
    """The model copied "what else did she write?" unchanged; sent on, text-to-Cypher named
    a researcher nobody had mentioned. The learner is asked for the name instead."""
    _, second, _ = await two_graph_turns(
        settings,
        "What else did she write?",
        "Who wrote Hybrid Search?",
        "what else did she write?",
        ("Pruning Heads (2019) has two authors.", "I need the name: who do you mean?"),
    )
    (result,) = second["tool_results"]
    assert "could not tell who “she” is" in result["content"]
    assert second["tool_calls"][0]["args"] == {}  # the graph was not asked


@tool("query_knowledge_graph", response_format="content_and_artifact")
def graph_with_memory(
    question: str, earlier: Annotated[dict | None, InjectedToolArg] = None
) -> tuple[str, dict]:
    """Answer a question from the knowledge graph."""
    found = "Pruning Heads (2019)" if earlier else "Amara Okafor"
    result = artifacts.artifact("query_knowledge_graph", [artifacts.markdown(found)])
    result["facts"] = artifacts.facts(must=[[found]], statement=f"Found {found}.")
    result["follow_up"] = {"question": question, "rows": [found]}
    return f"Rows: {found}", result


async def test_a_follow_up_to_a_tool_that_keeps_its_context_is_sent_as_it_is(settings):
    """A tool whose result carries `follow_up` gets it back with the next question that
    points back to it, as `earlier`: no model call writes the question out first."""
    model = ScriptedChatModel(
        script=["Amara Okafor wrote about RAG.", "He also wrote Pruning Heads (2019)."]
    )
    async with open_checkpointer(settings) as cp:
        a = assistant_with(
            model, settings, cp, classifier("query_knowledge_graph"), tools=[graph_with_memory]
        )
        await a.ainvoke("Who wrote about RAG?", "t")
        second = await a.ainvoke("what else has he written?", "t")
    earlier = {"question": "Who wrote about RAG?", "rows": ["Amara Okafor"]}
    assert second["tool_calls"][0]["args"] == {
        "question": "what else has he written?", "earlier": earlier,
    }  # fmt: skip
    assert len(model.calls) == 2  # the two answers, no argument call
    assert "Pruning Heads" in second["answer"]


def test_a_person_pronoun_without_a_name_is_found():
    from knowledge.references import unnamed_person

    assert unnamed_person("What else did she write?") == "she"
    assert unnamed_person("what did he publish in 2020?") == "he"
    assert unnamed_person("What else has Ines Moreau published?") == ""
    assert unnamed_person("Which topics has his co-author Chen Wei covered?") == ""
    assert unnamed_person("Who are the co-authors?") == ""


def test_an_answer_cut_by_the_token_cap_ends_at_its_last_whole_sentence():
    cut = "The tool found 16 articles. They span four subtopics. The largest is Language Mod"
    assert whole_sentences(cut) == "The tool found 16 articles. They span four subtopics."
    # No sentence end late enough to keep most of it: marked as cut instead.
    assert whole_sentences("It found 3.5 percent of a very long clause") == (
        "It found 3.5 percent of a very long clause…"
    )


async def test_load_readies_the_tools_and_the_router_classifier_in_one_go(settings, monkeypatch):
    """The app calls `load` in one thread before it serves anyone. Left to the first turn,
    the router imported scikit-learn beside the warm-up's torch import, and SciPy failed on
    the half-imported torch: the learner saw "something went wrong" (CI)."""
    import agent.runner

    loaded: list[str] = []
    monkeypatch.setattr(agent.runner, "classifier", lambda: loaded.append("router classifier"))
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        monkeypatch.setattr(a, "graph", lambda s=None: loaded.append("tools"))
        a.load()
    assert loaded == ["tools", "router classifier"]


async def test_an_unsure_none_for_a_message_that_gives_a_text_asks_the_llm_router(settings):
    """'show attention on "…"' got "none" at p = 0.38 and the answer "I can't assist with
    that": an unsure "no tool" beside a given text is the LLM router's call."""
    model = ScriptedChatModel(script=[route("find_entities"), "It found Ada and London."])
    text = 'entities in "Ada Lovelace lived in London."'
    result = await run(model, settings, text, router=classifier("none", 0.38))
    assert result["tool_calls"] == [
        {"name": "find_entities", "args": {"text": "Ada Lovelace lived in London."}}
    ]
    assert "gives a text a lesson could run on" in result["route_note"]
    sure = ScriptedChatModel(script=["Hello!"])
    result = await run(sure, settings, "tell me a joke", router=classifier("none", 0.38))
    assert result["tool_calls"] == [] and len(sure.calls) == 1  # no text given: no router call


async def test_a_written_out_question_that_drops_the_learners_words_is_not_sent(settings):
    """The model wrote the tool's description as the search ("search_documents course
    notes user uploaded files"): the learner's own message is sent instead."""
    _, second, _ = await two_graph_turns(
        settings,
        "query_knowledge_graph researchers articles topics",
        "Who wrote about RAG?",
        "and what did Amara write after that one?",
        ("Amara Okafor wrote about RAG.", "He also wrote Pruning Heads (2019)."),
    )
    assert second["tool_calls"][0]["args"] == {
        "question": "and what did Amara write after that one?"
    }


async def test_one_graph_serves_every_chat_choice_per_turn(settings, monkeypatch):
    """A provider or recognizer switch in the chat settings panel is a turn's context, not
    a new graph: the graph is compiled once, each turn's model is its provider's (made once
    per provider, not per Settings), and a tool reads its own turn's choices and model."""
    import agent.providers
    import agent.runner
    from agent.context import Context

    made: list[tuple[str, int | None]] = []

    def make_chat_model(s: Settings, slot: int | None = None) -> ScriptedChatModel:
        made.append((s.provider, slot))
        return ScriptedChatModel(script=[f"{s.provider} answers."] * 6, calls=[])

    monkeypatch.setattr(agent.providers, "make_chat_model", make_chat_model)
    seen: list[tuple[str, bool, str]] = []

    @tool("find_entities", response_format="content_and_artifact")
    def probe(text: str) -> tuple[str, dict]:
        """Find the entities in a text."""
        chosen = a.tool_context.call_settings()
        generated = a.tool_context.chat_model().invoke("x").content
        seen.append((chosen.ner_mode, chosen.wiki_online, generated))
        return "Entities: Ada", artifacts.artifact("find_entities", [])

    compiled: list[int] = []

    def compile_agent(settings, models, tools, checkpointer=None):
        compiled.append(1)
        router = classifier("find_entities")
        return build_graph(models, [probe], settings, checkpointer, semantic_router=router)

    monkeypatch.setattr(agent.runner, "compile_agent", compile_agent)
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        first = await a.ainvoke("Entities in: Ada met Bob.", "t")
        switched = Context(provider="groq", ner_mode="llm", wiki_online=True)
        second = await a.ainvoke("Entities in: Ada met Bob.", "t", context=switched)
    assert compiled == [1]
    assert seen == [
        ("spacy", False, "openai-compatible answers."),
        ("llm", True, "groq answers."),
    ]
    assert made == [("openai-compatible", None), ("groq", None)]  # slots: the local server's
    assert (first["route"], second["route"]) == ("find_entities", "find_entities")
    assert second["answer"].startswith("groq answers")


@tool("search_documents", response_format="content_and_artifact")
def course_notes(query: str) -> tuple[str, dict]:
    """Search the course notes."""
    result = artifacts.artifact("search_documents", [artifacts.markdown(query)])
    result["facts"] = artifacts.facts(passages=[1], statement="Passage [1].")
    result["follow_up"] = {"query": query}
    return "[1] (notes) BERT-base has 12 heads of 64 dimensions.", result


async def test_a_question_that_names_the_course_notes_goes_to_the_documents(settings):
    """The classifier read "how many heads, says the attention lesson?" as the attention
    view by its words; the learner named the notes as the source."""
    model = ScriptedChatModel(script=["BERT-base has 12 heads of 64 dimensions [1]."])
    text = "how many heads does bert-base have according to the self attention notes?"
    async with open_checkpointer(settings) as cp:
        a = assistant_with(
            model, settings, cp, classifier("show_attention", 0.62), tools=[course_notes]
        )
        result = await a.ainvoke(text, "t")
    assert [c["name"] for c in result["tool_calls"]] == ["search_documents"]
    assert "what the notes or documents say" in result["route_note"]


async def test_a_text_tool_guess_without_a_text_that_points_back_continues_the_turn_before(
    settings,
):
    """ "and what share of the pairs are paraphrases?" right after a document answer was read
    as the paraphrase checker (p = 0.86, and so by the LLM router), refused for want of two
    sentences, and got no tool; it continues the documents, with no router call. Without
    pointing back, the refused guess still goes to the router."""

    @tool(response_format="content_and_artifact")
    def check_paraphrase(sentence_a: str, sentence_b: str) -> tuple[str, dict]:
        """Whether two sentences mean the same."""
        return "same", artifacts.artifact("check_paraphrase", [])

    labels = {
        "what do the fine tuning notes say about mrpc?": ("search_documents", 0.9),
        "and what share of the pairs are paraphrases?": ("check_paraphrase", 0.86),
        "are paraphrases common in news text generally": ("check_paraphrase", 0.86),
    }
    model = ScriptedChatModel(script=["MRPC has pairs [1].", "68% are [1].", "Often."])
    router_model = ScriptedChatModel(script=[route("check_paraphrase")])
    async with open_checkpointer(settings) as cp:
        a = Assistant(settings, cp)
        a._graph = build_graph(
            models_of(model, router=router_model), [course_notes, check_paraphrase], settings,
            cp, semantic_router=labels.get,
        )  # fmt: skip
        await a.ainvoke("what do the fine tuning notes say about mrpc?", "t")
        second = await a.ainvoke("and what share of the pairs are paraphrases?", "t")
        third = await a.ainvoke("are paraphrases common in news text generally", "t")
    assert [c["name"] for c in second["tool_calls"]] == ["search_documents"]
    assert "points back to the last turn's search_documents" in second["route_note"]
    assert third["tool_calls"] == [] and third["route_note"].endswith(": none")
    assert len(router_model.calls) == 1  # only the third turn asked the router


async def test_an_unsure_none_that_points_back_continues_the_turn_before(settings):
    """ "and how many pairs are in the dev split?" right after a document answer got none
    at p = 0.49; it continues that lesson. A message that does not point back, or one
    after a turn without a tool, keeps the classifier's "none"."""
    labels = {
        "what do the fine tuning notes say about mrpc?": ("search_documents", 0.9),
        "and how many pairs are in the dev split?": ("none", 0.49),
        "tell me a joke about transformers": ("none", 0.49),
    }
    model = ScriptedChatModel(
        script=["MRPC has pairs [1].", "It has 408 dev pairs [1].", "A joke.", "Hello!"]
    )
    async with open_checkpointer(settings) as cp:
        a = assistant_with(model, settings, cp, labels.get, tools=[course_notes])
        await a.ainvoke("what do the fine tuning notes say about mrpc?", "t")
        second = await a.ainvoke("and how many pairs are in the dev split?", "t")
        third = await a.ainvoke("tell me a joke about transformers", "t")
        after_chat = await a.ainvoke("and how many pairs are in the dev split?", "t")
    assert [c["name"] for c in second["tool_calls"]] == ["search_documents"]
    assert "points back to the last turn's search_documents" in second["route_note"]
    assert third["tool_calls"] == []  # does not point back
    assert after_chat["tool_calls"] == []  # the turn before called no tool
