"""Test doubles. Fakes live here and only here: the product never uses them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


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
        message = item if isinstance(item, AIMessage) else AIMessage(str(item))
        return ChatResult(generations=[ChatGeneration(message=message)])


def route(tool: str) -> str:
    """What the agent's router model answers: the chosen tool as JSON."""
    return json.dumps({"tool": tool})


def tool_call(name: str, args: dict[str, Any], call_id: str = "call-1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])
