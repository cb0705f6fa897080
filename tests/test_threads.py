"""Users kept apart: a thread id belongs to the first user who uses it, and deleting a thread
deletes the conversation the agent keeps for it too."""

from __future__ import annotations

import stat
import uuid

import chainlit as cl
import pytest
from chainlit.context import init_http_context
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from agent.runner import open_checkpointer
from agent.threads import ThreadOwners
from core.errors import ToolInputError
from core.settings import Settings
from ui.data_layer import SQLiteDataLayer


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"data_dir": tmp_path / "data"})


async def test_first_user_claims_a_thread_and_others_are_refused(settings):
    owners = ThreadOwners(settings)
    await owners.claim("t1", "ada")
    await owners.claim("t1", "ada")  # the owner again: fine
    with pytest.raises(ToolInputError, match="belongs to another user"):
        await owners.claim("t1", "bob")
    await owners.claim("t2", "bob")
    # The record is on disk: a restarted app (a new instance) still knows it.
    with pytest.raises(ToolInputError):
        await ThreadOwners(settings).claim("t2", "ada")


async def test_a_forgotten_thread_can_be_claimed_again(settings):
    owners = ThreadOwners(settings)
    await owners.claim("t1", "ada")
    await owners.forget("t1")
    await owners.claim("t1", "bob")


def test_the_owner_file_is_private(settings):
    owners = ThreadOwners(settings)
    assert stat.S_IMODE(owners.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(owners.path.parent.stat().st_mode) == 0o700


def echo_graph(checkpointer):
    def reply(state: MessagesState) -> dict:
        return {"messages": [AIMessage("noted")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=checkpointer)


async def test_deleting_a_thread_deletes_its_checkpoint_and_owner(settings):
    init_http_context()
    owners = ThreadOwners(settings)
    async with open_checkpointer(settings) as checkpointer:

        async def forget(thread_id: str) -> None:
            await checkpointer.adelete_thread(thread_id)
            await owners.forget(thread_id)

        layer = SQLiteDataLayer(
            settings.path("chat", "threads.sqlite"),
            settings.path("chat", "files"),
            on_delete_thread=forget,
        )
        user = await layer.create_user(cl.User(identifier="ada"))
        kept, deleted = str(uuid.uuid4()), str(uuid.uuid4())
        graph = echo_graph(checkpointer)
        for thread_id in (kept, deleted):
            await layer.update_thread(thread_id, user_id=user.id)
            await owners.claim(thread_id, "ada")
            await graph.ainvoke(
                {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": thread_id}}
            )

        await layer.delete_thread(deleted)

        assert await checkpointer.aget_tuple({"configurable": {"thread_id": deleted}}) is None
        assert await checkpointer.aget_tuple({"configurable": {"thread_id": kept}}) is not None
        assert await layer.get_thread(deleted) is None
        await owners.claim(deleted, "bob")  # no owner left
        with pytest.raises(ToolInputError):
            await owners.claim(kept, "bob")
        await layer.close()
