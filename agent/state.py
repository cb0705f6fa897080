"""The graph's state: the conversation, and this turn's routing.

`window` is where the history the model sees begins (see `graph.window_start`); it is kept
in the state because a window computed afresh each turn would slide, and a sliding window
changes the prompt's prefix, so llama.cpp's cache of it, on every turn.
"""

from __future__ import annotations

from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    route: str  # a tool name, "none", or "about" (what the lessons are)
    route_note: str  # how the router decided, in words the learner sees
    follow_up: bool  # the classifier read the message as a follow-up of the last tool
    window: int  # index of the first message the model sees
