"""The benchmark harness's own logic: the routing set, confusion tables, the grounding check,
goal flagging and the per-tool script output parsing. Fast: no model, no server."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import grounding, report, routing, tool_benches, turns
from bench.harness import PartError, select, summary
from core.settings import Settings
from tools import ToolContext, load_tools


@pytest.fixture(scope="module")
def tool_names() -> set[str]:
    ctx = ToolContext(Settings.from_env({"data_dir": "/nonexistent"}), lambda: None)
    return {t.name for t in load_tools(ctx)}


def test_routing_set_shape(tool_names):
    cases = routing.load_cases()
    assert len(cases) >= 60
    expected = Counter(c["expected"] for c in cases)
    assert set(expected) == tool_names | {routing.NONE}
    assert min(expected.values()) >= 8
    assert len({c["id"] for c in cases}) == len(cases)
    assert all(c["prompt"].strip() for c in cases)
    follow_ups = [c for c in cases if c.get("history")]
    assert len(follow_ups) >= 10
    for case in follow_ups:
        for turn in case["history"]:
            assert turn["user"] and turn["assistant"]
            if "tool" in turn:
                assert turn["tool"]["name"] in tool_names


def test_history_becomes_a_valid_conversation():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    history = [
        {"user": "Hi", "assistant": "Hello!"},
        {
            "user": "Entities in: Paris.",
            "tool": {"name": "find_entities", "args": {"text": "Paris."}, "output": "Paris (GPE)"},
            "assistant": "Paris is a place.",
        },
    ]
    messages = routing.history_messages(history)
    assert [type(m) for m in messages] == [
        HumanMessage, AIMessage, HumanMessage, AIMessage, ToolMessage, AIMessage,
    ]  # fmt: skip
    call = messages[3].tool_calls[0]
    assert call["name"] == "find_entities" and messages[4].tool_call_id == call["id"]


def test_confusion_counts_and_table():
    pairs = [("a", "a"), ("a", "none"), ("none", "none"), ("b", "a"), ("a", "a")]
    matrix = routing.confusion(pairs)
    assert matrix == {"a": {"a": 2, "none": 1}, "none": {"none": 1}, "b": {"a": 1}}
    table = routing.confusion_table(matrix).splitlines()
    assert table[0].split("|")[1:-1] == [" expected \\ called ", " a ", " b ", " none ", " right "]
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table[2:]
    }
    assert rows["a"] == ["2", ".", "1", "2/3"]
    assert rows["b"] == ["1", ".", ".", "0/1"]


def test_routing_summary_lists_every_miss():
    cases = [
        {"id": "x-1", "prompt": "p1", "expected": "find_entities"},
        {"id": "x-2", "prompt": "p2", "expected": "none", "history": [{}]},
        {"id": "x-3", "prompt": "p3", "expected": "none"},
    ]
    called = ["find_entities", "show_attention", "none"]
    result = routing.summarize(cases, called, [1.0, 2.0, 9.0], ["find_entities", "*", "none"])
    assert result["correct"] == 2 and result["accuracy"] == pytest.approx(2 / 3)
    assert result["misses"] == [
        {
            "id": "x-2",
            "prompt": "p2",
            "history_turns": 1,
            "expected": "none",
            "called": "show_attention",
            "router": "*",
        }
    ]
    assert result["seconds"]["median"] == 2.0
    assert "(router: *)" in routing.report(result)


def test_facts_are_numbers_and_names_not_sentence_starts():
    answer = (
        "Amara Okafor published 8 articles [1]. The Nobel Prize went to Marie Curie in 1911.\n"
        "1. Static quantization with **BERT** scored 92.5% on CLINC150, about 1,000 examples."
    )
    assert grounding.facts(answer) == [
        "8", "1911", "92.5", "1000", "Amara Okafor", "Nobel Prize", "Marie Curie", "BERT", "CLINC150",
    ]  # fmt: skip


def test_grounded_answer_from_graph_rows():
    evidence = "How many articles did Amara Okafor publish?\nCypher: MATCH ...\narticles: 8."
    verdict = grounding.check("Amara Okafor published 8 articles.", evidence)
    assert verdict == {"facts": ["8", "Amara Okafor"], "unsupported": [], "grounded": True}


def test_invented_number_and_name_are_caught():
    evidence = "[1] Dynamic quantization computes activation scales at run time; int8 weights."
    verdict = grounding.check(
        "Dynamic quantization was introduced by Geoffrey Hinton in 2015 [1].", evidence
    )
    assert verdict["grounded"] is False
    assert verdict["unsupported"] == ["2015", "Geoffrey Hinton"]


def test_grounding_tolerates_possessives_order_and_number_format():
    evidence = "rows: author: Chen Wei; co-author: Okafor, Amara; published: 2021-03-14; n: 1000.0"
    verdict = grounding.check(
        "Amara Okafor's co-author Chen Wei wrote 1,000 words in 2021.", evidence
    )
    assert verdict["grounded"], verdict
    assert not grounding.check("Amara Okafor wrote 2022 words.", evidence)["grounded"]


def test_rag_evidence_is_the_cited_passages():
    passages = [
        {
            "n": 1,
            "source": "quantization.md",
            "section": "Static quantization",
            "text": "Static quantization uses a calibration set of 100 batches.",
        },
        {
            "n": 2,
            "source": "quantization.md",
            "section": "History",
            "text": "Dynamic quantization was added in PyTorch 1.3.",
        },
    ]
    turn = {
        "prompt": "q",
        "answer": "Calibration uses 100 batches [1].",
        "tool_results": [
            {"name": turns.RAG_TOOL, "content": "...", "artifact": {"passages": passages}}
        ],
    }
    text, cited = turns.evidence(turn, turns.RAG_TOOL)
    assert cited and "100 batches" in text and "PyTorch" not in text
    turn["answer"] = "It came in PyTorch 1.3."  # no citation: every retrieved passage counts
    text, cited = turns.evidence(turn, turns.RAG_TOOL)
    assert not cited and "PyTorch 1.3" in text
    # Copying passage 1 word for word, uncited, does not hide passage 2 (or the headings).
    turn["answer"] = "Static quantization uses a calibration set of 100 batches, see History."
    text, cited = turns.evidence(turn, turns.RAG_TOOL)
    assert not cited and "PyTorch 1.3" in text
    assert grounding.check(turn["answer"], text)["grounded"]


def test_grounding_summary_counts_only_answers_where_the_tool_ran():
    def turn(tool: str, answer: str, content: str) -> dict:
        results = [{"name": tool, "content": content, "artifact": None}] if tool != "none" else []
        return {"prompt": "q", "expected": turns.GRAPH_TOOL, "tool": tool, "error": False,
                "answer": answer, "tool_results": results}  # fmt: skip

    summary = turns.grounding_summary(
        [
            turn(turns.GRAPH_TOOL, "Chen Wei wrote 3.", "author: Chen Wei; articles: 3"),
            turn(turns.GRAPH_TOOL, "Chen Wei wrote 4.", "author: Chen Wei; articles: 3"),
            turn("none", "I think 12.", ""),
        ]
    )
    row = summary["by_tool"][turns.GRAPH_TOOL]
    assert (row["asked"], row["checked"], row["grounded"]) == (3, 2, 1)
    assert row["grounded_share"] == 0.5
    assert row["ungrounded"] == [{"prompt": "q", "unsupported": ["4"]}]


def test_latency_summary_shares():
    base = {"llm_calls": 2, "tool_calls": 1, "error": False}
    timed = [
        {**base, "tool": "a", "seconds": 10.0, "llm_seconds": 6.0, "tool_seconds": 4.0, "llm_in_tools": 2.0},
        {**base, "tool": "a", "seconds": 20.0, "llm_seconds": 12.0, "tool_seconds": 4.0, "llm_in_tools": 0.0},
        {**base, "tool": "none", "seconds": 5.0, "llm_seconds": 5.0, "tool_seconds": 0.0, "llm_in_tools": 0.0},
    ]  # fmt: skip
    summary = turns.latency_summary(timed)
    assert summary["a"]["llm_share"] == pytest.approx(18 / 30)
    assert summary["a"]["llm_share_in_tool"] == pytest.approx(2 / 8)
    assert summary["none"]["tool_seconds"]["n"] == 0
    assert summary["all turns"]["turn_seconds"]["median"] == 10.0
    assert "all turns" in turns.latency_table(summary)


def test_turn_timer_attributes_llm_time_inside_tools():
    timer = turns.TurnTimer()
    timer.tools = [("query_knowledge_graph", 10.0, 20.0)]
    timer.llm = [(0.0, 5.0), (12.0, 15.0), (18.0, 25.0)]
    assert timer.llm_seconds() == 15.0
    assert timer.tool_seconds() == 10.0
    assert timer.llm_in_tools() == 5.0


def test_parallel_tool_calls_are_not_counted_twice():
    timer = turns.TurnTimer()
    # Two graph calls run at once, each waiting for its own model call on one server slot.
    timer.tools = [("query_knowledge_graph", 10.0, 30.0), ("query_knowledge_graph", 11.0, 40.0)]
    timer.llm = [(0.0, 10.0), (10.0, 30.0), (11.0, 40.0), (40.0, 45.0)]
    assert timer.tool_seconds() == 30.0
    assert timer.llm_seconds() == 45.0
    assert timer.llm_in_tools() == 30.0
    assert turns.merged([(5.0, 6.0), (1.0, 2.0), (1.5, 3.0)]) == [(1.0, 3.0), (5.0, 6.0)]


def test_percentile_is_nearest_rank():
    assert report.percentile([5.0], 0.9) == 5.0
    assert report.percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    assert report.percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def fake_results() -> dict:
    return {
        "part_seconds": {"agent (routing)": 100.0},
        "routing": {"accuracy": 0.94},
        "grounding": {"by_tool": {"search_documents": {"grounded_share": 0.95}}},
        "concurrency": {
            "levels": [
                {"sessions": 1, "turns": 1, "completed": 1, "errors": 0, "lost": 0},
                {"sessions": 3, "turns": 3, "completed": 3, "errors": 0, "lost": 1},
            ]
        },
        "tools": {
            "attention_bench": {"returncode": 0, "missed": []},
            "paraphrase_bench": {"returncode": 0, "missed": ["[MISSED] ONNX int8 size <= 0.3x"]},
            "rag_ingest": {"returncode": 1, "missed": []},
        },
    }


def test_goals_flag_what_is_not_met():
    found = {(g.part, g.name): g for g in report.goals(fake_results())}
    assert found[("routing", "accuracy >= 95%")].met is False
    assert found[("grounding", "search_documents: >= 90% answers grounded")].met is True
    assert found[("concurrency", "1 sessions: all kept")].met is True
    assert found[("concurrency", "3 sessions: all kept")].met is False
    assert found[("attention_bench", "script ran, its goals met")].met is True
    assert found[("paraphrase_bench", "script ran, its goals met")].met is False
    assert found[("rag_ingest", "script ran, its goals met")].met is False


def test_summary_names_every_unmet_goal():
    text = summary(fake_results())
    assert "4 goal(s) NOT MET" in text
    for part in ("routing", "concurrency", "paraphrase_bench", "rag_ingest"):
        assert part in text.split("NOT MET:")[-1]
    met = {**fake_results(), "routing": {"accuracy": 0.97}, "concurrency": {}, "tools": {}}
    assert "all measured goals met" in summary(met)


def test_the_held_out_routing_set_has_its_own_goal():
    found = report.goals({"routing": {"accuracy": 0.96}, "routing_heldout": {"accuracy": 0.9}})
    assert [(g.part, g.met) for g in found] == [("routing", True), ("routing_heldout", False)]


def test_both_routing_sets_load_with_known_labels():
    from bench import routing

    labels = {"search_documents", "query_knowledge_graph", "find_entities", "show_attention"}
    labels |= {"check_paraphrase", "none"}
    for path in routing.SETS.values():
        cases = routing.load_cases(path)
        assert len(cases) >= 60 and {c["expected"] for c in cases} == labels
        assert len({c["id"] for c in cases}) == len(cases)


def test_a_part_that_did_not_measure_is_not_a_pass():
    found = report.goals({"routing": {"accuracy": None}, "tools": {}})
    assert found[0].met is None
    assert "not measured" in report.goals_table(found)


def test_script_output_parsing():
    output = (
        "intro\n| a | b |\n|---|---|\n| 1 | 2 |\n\nratio pipeline / bare: 0.850 (goal >= 0.9)\n"
        "ratio other: 0.95 (goal >= 0.9)\n  [met] fine\n  [MISSED] ONNX int8 size <= 0.3x\n"
        "| execution accuracy (goal >= 90%) | 78% |\n| latency (goal <= 2) | 1.5 |\n"
    )
    assert tool_benches.tables(output)[0] == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert tool_benches.missed_goals(output) == [
        "[MISSED] ONNX int8 size <= 0.3x",
        "ratio pipeline / bare: 0.850 (goal >= 0.9)",
        "| execution accuracy (goal >= 90%) | 78% |",
    ]


def test_select_parts():
    agent, scripts = select(["routing"])
    assert agent == ["routing"] and scripts == []
    agent, scripts = select(["rag"])
    assert agent == [] and {s.part for s in scripts} == {"rag"}
    agent, scripts = select(None)
    assert agent == ["routing", "conversation", "latency", "grounding", "concurrency"]
    assert {"attention", "rag"} <= {s.part for s in scripts}
    with pytest.raises(PartError, match="routing"):
        select(["images"])


def test_cli_parses_bench_options(tmp_path):
    import argparse

    from bench.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "bench",
            "--only",
            "routing",
            "rag",
            "--limit",
            "3",
            "--json-out",
            str(tmp_path / "r.json"),
        ]
    )
    assert (args.only, args.limit, args.json_out.name) == (["routing", "rag"], 3, "r.json")
    assert callable(args.func)


def test_machine_description():
    info = report.machine()
    assert info["cpu_count"] >= 1 and info["python"].startswith("3.")
    assert info["packages"]["langgraph"]
    assert info["date"].endswith("+00:00")


async def test_run_turn_times_model_calls_made_inside_a_tool(tmp_path):
    from langchain_core.tools import StructuredTool

    from agent.graph import build_graph
    from agent.runner import Assistant, open_checkpointer
    from tests.fakes import ScriptedChatModel, models_of

    inner = ScriptedChatModel(script=["MATCH (a) RETURN count(a)"])

    def write_cypher(question: str) -> str:
        """Ask the model for Cypher, as the graph tool does."""
        return inner.invoke(question).content

    tool = StructuredTool.from_function(write_cypher)
    outer = ScriptedChatModel(script=['{"question": "how many?"}', "42."])
    settings = Settings.from_env(
        {"provider": "openai-compatible", "base_url": "http://x", "data_dir": tmp_path}
    )
    async with open_checkpointer(settings) as cp:
        assistant = Assistant(settings, cp)
        assistant._graph = build_graph(
            models_of(outer), [tool], settings, cp, semantic_router=lambda t: ("write_cypher", 0.9)
        )
        turn = await turns.run_turn(assistant, "How many articles?")
    assert (turn["tool"], turn["answer"], turn["error"]) == ("write_cypher", "42.", False)
    assert turn["llm_calls"] == 3  # the arguments, the tool's own call, the answer
    assert turn["tool_calls"] == 1
    assert 0 < turn["llm_in_tools"] <= turn["tool_seconds"] <= turn["seconds"]
    assert turn["tool_results"][0]["content"] == "MATCH (a) RETURN count(a)"


async def test_routing_reads_the_route_node_and_runs_no_tool(tmp_path):
    from langchain_core.tools import StructuredTool

    from agent.graph import build_graph
    from agent.runner import Assistant, open_checkpointer
    from tests.fakes import ScriptedChatModel, models_of, route

    def find_entities(text: str) -> str:
        """Never runs: routing stops before the tool runs."""
        raise AssertionError("the tool ran")

    tools = [StructuredTool.from_function(find_entities)]
    settings = Settings.from_env(
        {"provider": "openai-compatible", "base_url": "http://x", "data_dir": tmp_path}
    )
    labels = {"Entities in: Paris": ("find_entities", 0.9), "Why?": ("none", 0.2)}
    model = ScriptedChatModel(script=[route("none")])  # the unsure "Why?" asks the LLM router
    cases = [
        {"id": "e-1", "prompt": "Entities in: Paris", "expected": "find_entities"},
        {"id": "c-1", "prompt": "Why?", "expected": "none"},
        {"id": "c-2", "prompt": "What can you teach me?", "expected": "none"},
    ]
    async with open_checkpointer(settings) as cp:
        assistant = Assistant(settings, cp)
        assistant._graph = build_graph(
            models_of(model), tools, settings, cp, semantic_router=labels.get, lessons="lessons"
        )
        result = await routing.measure_routing(assistant, cases, progress=False)
    assert (result["correct"], result["misses"]) == (3, [])
    assert len(model.calls) == 1


async def test_learner_waits_for_the_end_of_its_own_task():
    from bench.concurrency import Learner

    learner = Learner("http://127.0.0.1:9", "token")
    learner.state = "sent"
    await learner._task_end()  # the one the server sends on connect
    assert not learner.done.is_set()
    await learner._task_start()
    await learner._task_end()
    assert learner.done.is_set() and learner.state == "idle"


def test_agreement_compares_the_check_with_hand_labels():
    evidence = "Amara Okafor published 8 articles."
    items = [
        {"id": "a", "answer": "She published 8 articles.", "evidence": evidence, "grounded": True},
        {"id": "b", "answer": "She published 9 articles.", "evidence": evidence, "grounded": False},
        {"id": "c", "answer": "Chen Wei wrote 8.", "evidence": evidence, "grounded": True},
        {"id": "d", "answer": "Amara Okafor, yes.", "evidence": evidence, "grounded": True},
    ]
    result = grounding.agreement(items)
    assert (result["items"], result["agree"], result["accuracy"]) == (4, 3, 0.75)
    assert [d["id"] for d in result["disagreements"]] == ["c"]
    # check says yes 2/4, hand 3/4: chance agreement 0.5, so kappa = (0.75 - 0.5) / 0.5
    assert result["kappa"] == pytest.approx(0.5)
    assert "3/4 agree" in grounding.agreement_text(result)


def test_agreement_of_nothing_is_not_measured():
    assert grounding.agreement([])["accuracy"] is None


def test_only_real_main_guards_make_a_script():
    files = {s.file for s in tool_benches.scripts()}
    assert {"grounding.py", "chat_latency.py", "graph_text2cypher.py"} <= files
    assert "tool_benches.py" not in files  # names the guard in its docstring only


def test_conversation_judge_checks_route_facts_cites_and_copy():
    from bench import conversation
    from tools import artifacts

    facts = artifacts.facts(must=[["Amara Okafor"], ["Chen Wei"]], need=2)
    finished = {
        "answer": "Amara Okafor and Chen Wei wrote the most.",
        "error": False,
        "tool_calls": [{"name": "query_knowledge_graph", "args": {}}],
        "tool_results": [
            {"name": "query_knowledge_graph", "content": "", "artifact": {"facts": facts}}
        ],
    }
    turn = {"user": "who wrote most?", "tool": "query_knowledge_graph", "expect": ["Okafor"]}
    good = conversation.judge(turn, finished, ["Hello!"])
    assert good["right"] and all(good["checks"].values())
    copied = conversation.judge(turn, finished, [finished["answer"]])
    assert not copied["right"] and not copied["checks"]["copy"]
    wrong_tool = conversation.judge({**turn, "tool": "none"}, finished, [])
    assert not wrong_tool["checks"]["route"]
    missing = conversation.judge({**turn, "expect": ["Lucas Martin"]}, finished, [])
    assert not missing["checks"]["facts"] and "missing 'Lucas Martin'" in missing["problems"]


def test_conversation_growth_and_goals():
    from bench import conversation

    rows = [
        {"conversation": "c1", "turn": i, "ran": "find_entities", "seconds": s, "right": True,
         "checks": {"route": True, "facts": True, "cites": True, "copy": True}, "source": "model",
         "first_result_seconds": 1.0, "llm_calls": 1, "tokens_evaluated": 50, "tokens_reused": 500}
        for i, s in enumerate([5, 6, 7, 8, 9, 12])
    ]  # fmt: skip
    summary = conversation.summarize(rows)
    assert summary["growth_by_conversation"]["c1"] == 9 / 6
    met = {name: ok for name, _, ok, _ in conversation.goals(summary)}
    assert met["last three / first three tool turns"] is False
    assert met["answers right"] and met["copies"] and met["median tool turn"]


async def test_a_turn_is_kept_only_with_its_message_and_a_reply_after_it():
    from bench.concurrency import kept

    steps = [
        {"type": "user_message", "output": "first", "createdAt": "2026-12-02T03:00:01Z"},
        {"type": "assistant_message", "output": "one", "createdAt": "2026-12-02T03:00:05Z"},
        {"type": "user_message", "output": "second", "createdAt": "2026-12-02T03:00:09Z"},
        {"type": "assistant_message", "output": "", "createdAt": "2026-12-02T03:00:12Z"},
        {"type": "user_message", "output": "third", "createdAt": "2026-12-02T03:00:20Z"},
    ]

    class Response:
        status = 200

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

        async def json(self):
            return {"steps": list(reversed(steps))}  # the API's order is not the turns'

    class Http:
        def get(self, url, headers):
            assert url.endswith("/project/thread/t1") and headers["Authorization"] == "Bearer k"
            return Response()

    texts = ["first", "second", "third"]
    assert await kept(Http(), "http://app", "k", "t1", texts) == 1  # an empty reply is none
    assert await kept(Http(), "http://app", "k", None, texts) == 0


def test_a_saved_result_is_stamped_with_its_machine(tmp_path):
    import json

    from bench.report import save

    out = tmp_path / "results" / "run.json"
    save({"turns": 3}, out)
    saved = json.loads(out.read_text())
    assert saved["turns"] == 3 and saved["machine"]["cpu_count"] >= 1
