"""Test doubles. Fakes live here and only here: the product never uses them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ScriptedChatModel(BaseChatModel):
    """Answers from a script: each item is an AIMessage, a string, an exception to raise, or
    a function of the prompt. Records every prompt and whether tools were bound."""

    script: list[Any]
    calls: list[dict[str, Any]] = []
    bound_tools: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        names = [getattr(t, "name", str(t)) for t in tools]
        return self.model_copy(update={"bound_tools": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ):
        """The scripted answer in two chunks, as a streaming server sends tokens."""
        text = str(self._next(messages, kwargs).content)
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        self.calls.append(
            {"messages": list(messages), "tools": list(self.bound_tools), "kwargs": kwargs}
        )
        if not self.script:
            raise AssertionError("ScriptedChatModel ran out of answers")
        item = self.script.pop(0)
        if isinstance(item, Callable) and not isinstance(item, BaseException | AIMessage):
            item = item(messages)
        if isinstance(item, BaseException):
            raise item
        return item if isinstance(item, AIMessage) else AIMessage(str(item))


def models_of(
    model: BaseChatModel, router: BaseChatModel | None = None
) -> Callable[[str, int | None], BaseChatModel]:
    """What `build_graph` looks models up in: `model` for every provider and slot, or
    `router` for the router's slot when given."""
    from agent.llm_server import ROUTER_SLOT

    return lambda provider, slot: router if router is not None and slot == ROUTER_SLOT else model


def route(tool: str) -> str:
    """What the agent's router model answers: the chosen tool as JSON."""
    return json.dumps({"tool": tool})


def tool_call(name: str, args: dict[str, Any], call_id: str = "call-1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


STAND_IN_REPLY = "The stand-in model says hello."


class _StandInChat(BaseHTTPRequestHandler):
    """Every chat call gets `STAND_IN_REPLY`: as server-sent events when the client
    streams, as one JSON reply otherwise."""

    protocol_version = "HTTP/1.1"  # keep connections open, as llama.cpp and OpenAI do

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        head = {"id": "c", "created": 0, "model": "stand-in"}
        if body.get("stream"):
            deltas = [({"role": "assistant", "content": STAND_IN_REPLY}, None), ({}, "stop")]
            events = [
                {**head, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                for delta, finish in deltas
            ]  # fmt: skip
            text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            kind, data = "text/event-stream", text.encode()
        else:
            message = {"role": "assistant", "content": STAND_IN_REPLY}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            reply = {**head, "object": "chat.completion", "choices": [choice]}
            kind, data = "application/json", json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def stand_in_chat_server() -> Iterator[str]:
    """An OpenAI-compatible chat server on a free localhost port (a fake of the server, not
    of the client code under test), for a real app or LangGraph server run without the LLM;
    yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandInChat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
