"""The graph's state: the conversation, and the router's choice for the current turn with
how it was made.

How many tool rounds this turn has used is derived from the messages (see
`graph.tool_rounds_this_turn`) instead of being stored, so it can never drift from them.
"""

from __future__ import annotations

from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    route: str  # a tool name, "none", or "*" (routing failed: all tools offered)
    route_note: str  # how the router decided, in words the learner sees
