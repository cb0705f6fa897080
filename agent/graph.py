"""The agent: a LangGraph `StateGraph` of fixed shape, one tool at most per message.

    START -> route -> act (when a tool is chosen) -> answer -> END

- **route** classifies the message (`agent.semantic_router`; a follow-up such as "and Chen
  Wei?" goes to the tool used last) and asks the model "which tool, or none?" only when the
  classifier is unsure, with a short prompt of its own. "What can you teach me?" is answered
  from the tool registry.
- **act** reads the tool's arguments from the message when they are there plainly
  (`agent.arguments`); otherwise (a follow-up, two sentences not marked apart) one model
  call fills them in, constrained to the tool's schema. Then the tool runs.
- **answer** streams the model's answer to the tool's result (opening with the result's
  own first sentence, its lead, when the tool gives one), checks it against the facts the
  tool reported (`agent.answer_check`), regenerates once if it fails, and falls back to a
  sentence written from the result if it fails again.

Prompt reuse is the point of the layout. Every model call sends the same prefix, byte for
byte: the system prompt, then the conversation rendered by `conversation` (each earlier
turn as the learner's message, its tool result in brief, and the answer; this turn's result
in full, with the message again and how to answer it). Only the tail differs: the argument
request, or nothing; the next turn re-reads this turn's result, now in brief. (The router,
asked on few turns, has its own prompt and its own llama.cpp slot.) So llama.cpp re-reads
only the tail and the latest message, not the history, on every call of a turn and across
turns. The history window moves in big steps (`window_start`) so that it too changes rarely.

The graph is compiled once per process. A run's chat choices (provider, recognizer,
paraphrase model, online linking) come in its context (`agent.context.Context`, the graph's
`context_schema`), which the nodes read from their `Runtime`: the models are looked up per
call for the run's provider.

Nodes report what happened through LangGraph's custom stream (`tool_start`, `tool_end`,
`retry`, `check`); `agent.runner` turns that into the events the UI, the CLI and the
benchmarks consume.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent.answer_check import FROM_RESULT, answer_from_result, check_answer, without_lead
from agent.arguments import QUESTION_TOOLS, keeps_the_learners_words, read_arguments
from agent.context import Context
from agent.llm_server import ROUTER_SLOT
from agent.prompts import (
    ANSWER_NOTE,
    ARGUMENTS_NOTE,
    NO_TOOL_RETRY_NOTE,
    RETRY_NOTE,
    ROUTER_PROMPT,
    SYSTEM_PROMPT,
    TOOL_RESULT,
    TOOL_RESULT_BRIEF,
)
from agent.providers import CONVERSATION_SLOT
from agent.semantic_router import (
    FOLLOW_UP,
    asks_about_lessons,
    asks_for_no_tools,
    names_the_documents,
)
from agent.state import State
from core.errors import ToolInputError
from knowledge.references import refers_back, unnamed_person
from tools import artifacts

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from core.settings import Settings

MODEL_ERROR_PREFIX = "⚠️ "
ABOUT = "about"  # the route of "what can you teach me?": answered from the tool registry
# Tools that work on a text the learner gives; the LLM router's choice of one stands only
# when the message holds that text (a follow-up is routed by the classifier instead).
NEEDS_GIVEN_TEXT = ("find_entities", "show_attention", "check_paraphrase")
ROUTER_HISTORY = 6  # messages of conversation the LLM router sees, for follow-ups
# Below this, the classifier's "none" for a message that gives a text is not trusted alone:
# on the routing sets and the conversation set, 7 messages got "none" under 0.5, one of them
# a request for the attention view on a quoted sentence (the others give no text).
NONE_SURE = 0.5
DOCUMENTS = "search_documents"  # the tool that reads the course notes
RECURSION_LIMIT = 8  # route, act, answer: a fixed shape never needs more
# An answer is a few sentences; at ~11 tokens/s on two cores every 100 tokens is 9 s.
ANSWER_MAX_TOKENS = 110
RETRY_TEMPERATURE = 0.7
RETRY_SEED = 101
SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
BRIEF_CHARS = 300  # an earlier turn's result in later prompts (`in_brief`)
QUESTION_CHARS = 300  # the learner's message as repeated after this turn's result


def route_format(names: Sequence[str]) -> dict:
    """A JSON schema response format: llama.cpp turns it into a grammar, so the reply can
    only be one of the names."""
    schema = {
        "type": "object",
        "properties": {"tool": {"type": "string", "enum": [*names, "none"]}},
        "required": ["tool"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "route", "schema": schema}}


def router_prompt(tool_list: str, messages: Sequence[AnyMessage]) -> list[BaseMessage]:
    """The router's own prompt: the tool names with the first sentence of each description,
    the choosing rules, and the latest learner messages and answers without tool results,
    so the small model weighs the rules rather than the last tool's output."""
    convo = [m for m in rendered(messages) if not m.content.startswith("Result of the ")]
    return [SystemMessage(ROUTER_PROMPT.format(tools=tool_list)), *convo[-ROUTER_HISTORY:]]


def arguments_format(tool: BaseTool) -> dict:
    """The tool's own argument schema as a response format (injected arguments left out)."""
    schema = tool.tool_call_schema.model_json_schema()
    schema.pop("title", None)
    return {"type": "json_schema", "json_schema": {"name": "arguments", "schema": schema}}


def parse_route(content: str, names: Sequence[str]) -> str:
    """The chosen tool, or "none" when the reply is unusable: answering without a tool is
    the safe failure (a wrong tool would run on words not meant for it)."""
    try:
        choice = json.loads(content).get("tool")
    except (ValueError, AttributeError):
        return "none"
    return choice if choice in (*names, "none") else "none"


def last_tool_used(messages: Sequence[AnyMessage]) -> str | None:
    """The tool of the latest tool call in the conversation: what a follow-up continues."""
    for m in reversed(messages):
        if isinstance(m, AIMessage) and m.tool_calls:
            return m.tool_calls[-1]["name"]
    return None


def previous_turn_tool(messages: Sequence[AnyMessage]) -> str | None:
    """The tool the turn just before this one called, if it called one."""
    return last_tool_used(current_turn(messages[: latest_user_index(messages)]))


def current_turn(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The messages after the latest user message: this turn's tool call, result, answer."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)


def earlier_follow_up(messages: Sequence[AnyMessage], tool: str) -> Any:
    """What the tool's latest result before this turn asked to get back with a follow-up
    question (its artifact's `follow_up`), or None."""
    for m in reversed(messages[: latest_user_index(messages)]):
        if isinstance(m, ToolMessage) and m.name == tool:
            artifact = m.artifact if isinstance(m.artifact, dict) else {}
            return artifact.get("follow_up")
    return None


def latest_user_index(messages: Sequence[AnyMessage]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i
    return 0


def earlier_answers(messages: Sequence[AnyMessage]) -> list[str]:
    """The thread's answers before this turn: what a new answer must not copy. An answer
    that opened with its result's lead is given whole and without the lead, so the model's
    own words are compared with the model's own words (see `check_answer`)."""
    out = []
    for m in messages[: latest_user_index(messages)]:
        if isinstance(m, AIMessage) and m.content and not m.tool_calls:
            text = str(m.content)
            own = without_lead(text, m.response_metadata.get("lead") or "")
            out += [text, own] if own != text else [text]
    return out


def rendered(messages: Sequence[AnyMessage]) -> list[BaseMessage]:
    """The conversation as the model reads it: the learner's messages, each tool result once
    (as the learner-side message `TOOL_RESULT`, so no tool schema or call syntax sits in the
    history), and the answers. Tool calls themselves are left out: the result says which
    tool ran.

    Only the latest turn's result is given in full; an earlier turn's reads as its brief
    (`in_brief`). So the next turn re-reads the previous turn's tail once (its brief and its
    answer, ~150 tokens), and in exchange the context grows by a few lines a turn instead of
    a whole dump, which keeps every later call fast (a conversation of ten tool turns held
    ~6,000 tokens; the model read and wrote half as fast there) and keeps earlier dumps out
    of the way of this turn's. Otherwise rendering depends only on the messages, so an old
    turn reads the same, byte for byte, in every later prompt."""
    latest = latest_user_index(messages)
    out: list[BaseMessage] = []
    for i, m in enumerate(messages):
        if isinstance(m, HumanMessage):
            out.append(HumanMessage(str(m.content)))
        elif isinstance(m, ToolMessage) and i > latest:
            out.append(HumanMessage(in_full(m, str(messages[latest].content))))
        elif isinstance(m, ToolMessage):
            out.append(HumanMessage(TOOL_RESULT_BRIEF.format(tool=m.name, brief=in_brief(m))))
        elif isinstance(m, AIMessage) and not m.tool_calls and m.content:
            written = (m.response_metadata.get("check") or {}).get("source") == FROM_RESULT
            text = artifacts.without_sources(str(m.content))
            out.append(AIMessage(FROM_RESULT_IN_HISTORY if written else text))
    return out


def in_full(result: ToolMessage, question: str) -> str:
    """This turn's result as the answer call reads it: the result, the learner's message
    again and how to answer (the tool's own note, else the general one)."""
    note = (tool_facts(result) or {}).get("note") or ANSWER_NOTE
    asked = artifacts.shorten(" ".join(question.split()), QUESTION_CHARS)
    return TOOL_RESULT.format(tool=result.name, result=result.content, question=asked, note=note)


def in_brief(result: ToolMessage) -> str:
    """A result in one line: its lead (the answer's first sentence, written from the result)
    or its plain statement, cut to `BRIEF_CHARS`. What a later turn needs of it is there or
    in the answer, which states the result's facts (the answer check sees to it); the
    graph and document tools get their previous query back through their artifact."""
    facts = tool_facts(result) or {}
    text = facts.get("lead") or facts.get("statement") or str(result.content)
    return artifacts.shorten(" ".join(str(text).split()), BRIEF_CHARS)


# How a fallback answer reads in later prompts: given in full, the small model copied its
# form ('For “…”: The passages found for this question: [1] …') as its next answer.
FROM_RESULT_IN_HISTORY = "(I answered with the tool's result above.)"


def window_start(messages: Sequence[AnyMessage], start: int, max_tokens: int) -> int:
    """Where the history the model sees begins. It stays put while the history fits, and
    when it no longer does it jumps ahead to a user message leaving about half the budget,
    so the prefix (and llama.cpp's cache of it) changes once every few turns, not on every
    turn as a sliding window would."""
    if count_tokens_approximately(rendered(messages[start:])) <= max_tokens:
        return start
    last = latest_user_index(messages)
    for i in range(start + 1, last + 1):
        fits = count_tokens_approximately(rendered(messages[i:])) <= max_tokens // 2
        if isinstance(messages[i], HumanMessage) and fits:
            return i
    return last


def conversation(state: State) -> list[BaseMessage]:
    """The shared prefix of every model call of the turn (see the module docstring)."""
    start = state.get("window", 0)
    return [SystemMessage(SYSTEM_PROMPT), *rendered(state["messages"][start:])]


def describe_tool_error(exc: Exception) -> str:
    """A tool's exception becomes text the model relays and the user can read."""
    if isinstance(exc, ToolInputError):
        return str(exc)
    return f"The tool failed ({type(exc).__name__}: {exc}). Tell the user and suggest another way."


def model_error_message(exc: Exception) -> str:
    return (
        f"{MODEL_ERROR_PREFIX}The language model could not answer ({type(exc).__name__}). "
        "It is being restarted; please send your message again in a moment. "
        "Your conversation is kept."
    )


def parse_json(content: Any) -> dict[str, Any] | None:
    text = content if isinstance(content, str) else str(content)
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def whole_sentences(text: str) -> str:
    """An answer cut off by the token cap, ended at its last whole sentence (when that keeps
    most of it) instead of mid-word: the cap keeps turns short, not answers broken."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if ends and ends[-1] >= 0.4 * len(text):
        return text[: ends[-1]].rstrip()
    return text.rstrip() + "…"


def tool_facts(result: ToolMessage | None) -> dict[str, Any] | None:
    """The facts an answer to this result must state (an error's message is the fact)."""
    if result is None:
        return None
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    if result.status == "error" or not artifact.get("facts"):
        return artifacts.facts(statement=str(result.content))
    return artifact["facts"]


# The chat model of a provider for a llama.cpp slot (`agent.providers.ChatModels`).
Models = Callable[[str, int | None], "BaseChatModel"]


def build_graph(
    models: Models,
    tools: Sequence[BaseTool],
    settings: Settings,
    checkpointer: BaseCheckpointSaver | None = None,
    semantic_router: Callable[[str], tuple[str, float]] | None = None,
    lessons: str | None = None,
):
    """The graph, compiled once: each run's chat choices come in its `Context`, so the
    provider is looked up per call in `models` (the router on its own slot, since its prompt
    is not the conversation's). `lessons` answers "what can you teach me?"."""
    by_name = {t.name: t for t in tools}
    names = list(by_name)
    route_schema = route_format(names)
    default = Context.from_settings(settings)

    async def chat_model(runtime: Runtime[Context], slot: int | None) -> BaseChatModel:
        """This run's provider's model for `slot`, from a thread: making it on first use
        may block (the local server's health check, a TLS context)."""
        context = runtime.context if isinstance(runtime.context, Context) else default
        return await asyncio.to_thread(models, context.provider, slot)

    def gives_text(text: str) -> bool:
        return any(read_arguments(t, text) is not None for t in NEEDS_GIVEN_TEXT if t in by_name)

    def continued(turn: dict, note: str, messages: Sequence[AnyMessage], text: str) -> dict | None:
        """The route to the question tool (documents, graph) of the turn before, when a text
        tool was guessed for a message that gives no text but points back to that turn:
        "and what share of the pairs are paraphrases?" after a document answer read as the
        paraphrase checker, "what about bert-large, how many layers?" as the attention view;
        refused for want of a sentence, both got no tool."""
        before = previous_turn_tool(messages)
        if before in by_name and before not in NEEDS_GIVEN_TEXT and refers_back(text):
            note += f"; the message points back to the last turn's {before}"
            return turn | {"route": before, "follow_up": True, "route_note": note}
        return None

    tool_list = "Tools:\n" + "\n".join(
        f"- {t.name}: {t.description.split('. ')[0]}." for t in tools
    )

    async def route(state: State, runtime: Runtime[Context]) -> dict:
        messages = state["messages"]
        window = window_start(messages, state.get("window", 0), settings.history_tokens)
        turn = {"window": window, "follow_up": False}
        text = str(messages[-1].content)
        if lessons is not None and asks_about_lessons(text):
            return turn | {"route": ABOUT, "route_note": "you asked what I teach: the lessons"}
        if not tools:
            return turn | {"route": "none", "route_note": "no tools are loaded"}
        if asks_for_no_tools(text):
            note = "a greeting or thanks, a request for no tools, or about our conversation"
            return turn | {"route": "none", "route_note": note}
        if DOCUMENTS in by_name and names_the_documents(text) and not gives_text(text):
            note = "you asked what the notes or documents say"
            return turn | {"route": DOCUMENTS, "route_note": note}
        note = ""
        if semantic_router is not None:
            label, score = await asyncio.to_thread(semantic_router, text)
            choice = last_tool_used(messages) if label == FOLLOW_UP else label
            turn["follow_up"] = label == FOLLOW_UP
            guess = f"{label} → {choice}" if label == FOLLOW_UP else label
            note = f"classifier: {guess}, p = {score:.2f}"
            confident = score >= settings.route_threshold and choice in (*names, "none")
            if confident and label in NEEDS_GIVEN_TEXT and read_arguments(label, text) is None:
                # "Does BERT give 'bank' one vector in both sentences?" reads like the
                # attention lesson, but gives no sentence: the classifier's best guess is
                # impossible, so it is as good as unsure, and the LLM router decides.
                note += f", but {label} needs a text you give (quoted, or after a colon)"
                if follow := continued(turn, note, messages, text):
                    return follow
                note += "; "
            elif confident and label == "none" and score < NONE_SURE and gives_text(text):
                # 'show attention on "Prompt injection attacks hijack agents."' got none at
                # p = 0.38: an unsure "no tool" for a message that hands over a text for a
                # text tool is a question for the router that sees the conversation.
                note += ", but the message gives a text a lesson could run on; "
            elif (
                confident
                and label == "none"
                and score < NONE_SURE
                and refers_back(text)
                and (before := previous_turn_tool(messages)) in by_name
                and (before not in NEEDS_GIVEN_TEXT or read_arguments(before, text) is not None)
            ):
                # "and how many pairs are in the dev split?" right after a document answer
                # got none at p = 0.49: an unsure "no tool" for a message that points back
                # continues the lesson of the turn before.
                note += f", but the message points back to the last turn's {before}"
                return turn | {"route": before, "follow_up": True, "route_note": note}
            elif confident:
                note += f" ≥ {settings.route_threshold:.2f}, so the LLM router was not asked"
                return turn | {"route": choice, "route_note": note}
            else:
                note += f" (not confident, threshold {settings.route_threshold:.2f}); "
        try:
            router = (await chat_model(runtime, ROUTER_SLOT)).bind(response_format=route_schema)
            reply = await router.ainvoke(router_prompt(tool_list, messages[window:]))
        except Exception:  # the answer node will meet the same fault and report it
            return turn | {"route": "none", "route_note": note + "the LLM router failed: no tool"}
        choice = parse_route(str(reply.content), names)
        note += f"the LLM router chose {choice}"
        if choice in NEEDS_GIVEN_TEXT and read_arguments(choice, text) is None:
            # "In one sentence, what is a token?" went to the attention view: these tools
            # work on a text the learner gives, and this message gives none.
            note += f", but {choice} needs a text you give (quoted, or after a colon)"
            if follow := continued(turn, note, messages, text):
                return follow
            note += ": none"
            choice = "none"
        return turn | {"route": choice, "route_note": note}

    async def arguments(
        state: State, tool: BaseTool, runtime: Runtime[Context]
    ) -> tuple[dict[str, Any], str]:
        """The tool's arguments and how they were found (shown in the tool's step)."""
        text = str(state["messages"][-1].content)
        earlier = latest_user_index(state["messages"]) > 0
        # A follow-up that gives its text ('now on: "We sat on the bank."') needs no model to
        # copy it; a follow-up question ("and for computer vision?") needs one to write it out.
        asks = tool.name in QUESTION_TOOLS and state.get("follow_up")
        read = None if asks else read_arguments(tool.name, text, earlier)
        if read is not None:
            return read, "read from your message"
        before = earlier_follow_up(state["messages"], tool.name) if earlier else None
        plain = read_arguments(tool.name, text)
        if before is not None and plain is not None:
            # The tool builds on its own previous result (the graph: the previous question,
            # query and rows), so nothing is rewritten first: one model call fewer.
            return {**plain, "earlier": before}, "your question as it is, with the previous one"
        note = ARGUMENTS_NOTE.format(tool=tool.name, description=tool.description)
        try:
            model = await chat_model(runtime, CONVERSATION_SLOT)
            filler = model.bind(response_format=arguments_format(tool))
            reply = await filler.with_config(tags=["arguments"]).ainvoke(
                [*conversation(state), SystemMessage(note)]
            )
            args = parse_json(reply.content)
        except Exception:
            args = None
        written = str((args or {}).get("question") or (args or {}).get("query") or "")
        if written and not keeps_the_learners_words(written, text, tool.name):
            args = None  # the learner's own message, below, rather than the model's words
        if args:
            # A question sent to be written out that comes back still saying "she" with no
            # name: the tool would answer about somebody.
            pronoun = unnamed_person(str(args.get("question") or args.get("query") or ""))
            if tool.name in QUESTION_TOOLS and pronoun:
                raise ToolInputError(
                    f"I could not tell who “{pronoun}” is in your question. Please name the "
                    "person, for example: what else did Ada Lovelace write?"
                )
            return args, "filled in by the model"
        if plain is None:
            raise ToolInputError(
                f"I could not tell what to run {tool.name} on. Put the text in quotes, "
                'for example: "The cat sat on the mat."'
            )
        return plain, "read from your message (the model's arguments were unusable)"

    async def act(state: State, runtime: Runtime[Context]) -> dict:
        write = get_stream_writer()
        tool = by_name[state["route"]]
        call_id = f"call-{uuid.uuid4().hex[:12]}"
        failure: Exception | None = None
        try:
            args, how = await arguments(state, tool, runtime)
        except ToolInputError as exc:  # no text to run the tool on: the learner reads why
            args, how, failure = {}, "no arguments", exc
        call = {"name": tool.name, "args": args, "id": call_id}
        write({"kind": "tool_start", "call": call, "how": how})
        if failure is None:
            try:
                result = await tool.ainvoke({**call, "type": "tool_call"})
            except Exception as exc:  # the tool's own fault: the learner reads why
                failure = exc
        if failure is not None:
            result = ToolMessage(
                describe_tool_error(failure), tool_call_id=call_id, name=tool.name, status="error"
            )
        write({"kind": "tool_end", "call": call, "result": result})
        return {"messages": [AIMessage("", tool_calls=[call]), result]}

    async def generate(model: BaseChatModel, prompt: list[BaseMessage], retry: bool = False) -> str:
        # The second try samples: greedy decoding on the same prompt plus a note mostly gave
        # the same sentences back. Seeded, so a run can be repeated.
        sampling = {"temperature": RETRY_TEMPERATURE, "seed": RETRY_SEED} if retry else {}
        parts, finish = [], ""
        async for chunk in model.bind(max_tokens=ANSWER_MAX_TOKENS, **sampling).astream(prompt):
            parts.append(str(chunk.content or ""))
            finish = chunk.response_metadata.get("finish_reason") or finish
        text = "".join(parts)
        return whole_sentences(text) if finish == "length" else text

    async def answer(state: State, runtime: Runtime[Context]) -> dict:
        write = get_stream_writer()
        if state.get("route") == ABOUT and lessons is not None:
            write({"kind": "check", "ok": True, "problems": [], "source": "tool registry"})
            return {"messages": [AIMessage(lessons, response_metadata={"source": "tool registry"})]}
        messages = state["messages"]
        result = next((m for m in current_turn(messages) if isinstance(m, ToolMessage)), None)
        facts = tool_facts(result)
        earlier = earlier_answers(messages)
        request = str(messages[latest_user_index(messages)].content)
        prompt = conversation(state)
        problems: list[str] = []
        source = "model"
        artifact = result.artifact if result is not None else None
        passages = artifact.get("passages") if isinstance(artifact, dict) else None

        lead = (facts or {}).get("lead") or ""

        corrected: list[str] = []

        def uncited(text: str) -> str:
            """A citation when this turn found no passage (the model copies the [1] of
            earlier document answers) is taken out, not sent back: the rest may be right."""
            cited = artifacts.cited_numbers(text)
            if passages or not cited:
                return text
            marks = ", ".join(f"[{n}]" for n in sorted(cited))
            corrected.append(f"took out {marks}: this turn found no passage to cite")
            return artifacts.without_citations(text)

        async def answered(prompt: list[BaseMessage], retry: bool = False) -> str:
            if not lead:
                text = await generate(model, prompt, retry)
                return uncited(artifacts.with_sources(text, passages, request))
            # The result's own first sentence, then the model's explanation after it: the
            # server continues a trailing assistant message (llama.cpp's prefill), and the
            # learner sees the lead at once.
            write({"kind": "token", "text": lead + " "})
            written = uncited(await generate(model, [*prompt, AIMessage(lead)], retry))
            return f"{lead} {written.strip()}".strip()

        try:
            model = await chat_model(runtime, CONVERSATION_SLOT)
            text = await answered(prompt)
            check = check_answer(text, facts, earlier, lead)
            if not check.ok:
                problems = check.problems
                write({"kind": "retry", "problems": problems})
                note = RETRY_NOTE if result is not None else NO_TOOL_RETRY_NOTE
                second = [*prompt, SystemMessage(note.format(problems="; ".join(problems)))]
                text = await answered(second, retry=True)
                check = check_answer(text, facts, earlier, lead)
                source = "model, second try"
            if not check.ok:
                problems = [*problems, *(f"second try: {p}" for p in check.problems)]
                if result is not None:
                    text = answer_from_result(facts, str(result.content), request)
                    source = FROM_RESULT
                else:
                    # Failed twice without a tool, most often as a copy of an earlier
                    # answer: the history is what it copies, so the last try sees only the
                    # system prompt and the message.
                    write({"kind": "retry", "problems": check.problems})
                    bare = [SystemMessage(SYSTEM_PROMPT), HumanMessage(request)]
                    text = await generate(model, bare)
                    source = "model, without the conversation"
                check = check_answer(text, facts, earlier)
        except Exception as exc:  # the server died or timed out: keep the history usable
            write({"kind": "check", "ok": False, "problems": [], "source": "error"})
            return {
                "messages": [AIMessage(model_error_message(exc), response_metadata={"error": True})]
            }
        final = {
            "ok": check.ok,
            "problems": check.problems,
            "first": problems,
            "source": source,
            "corrected": corrected,
        }
        write({"kind": "check", **final})
        opened = lead if lead and text.startswith(lead) else ""
        return {"messages": [AIMessage(text, response_metadata={"check": final, "lead": opened})]}

    def after_route(state: State) -> str:
        return "act" if state.get("route") in by_name else "answer"

    builder = StateGraph(State, context_schema=Context)
    builder.add_node("route", route)
    builder.add_node("act", act)
    builder.add_node("answer", answer)
    builder.add_edge(START, "route")
    builder.add_conditional_edges("route", after_route, {"act": "act", "answer": "answer"})
    builder.add_edge("act", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=checkpointer, name="genai101")
