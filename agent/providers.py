"""Chat-model providers: the local llama.cpp server (default), OpenAI, Groq, or any
OpenAI-compatible server (vLLM, llama.cpp elsewhere). All return a LangChain chat model, so
the graph and the tools never know which one they talk to."""

from __future__ import annotations

import atexit
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from agent.llm_server import MODEL_ALIAS, TOOL_SLOT, LocalLLMServer, ThreadSlots
from core.settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "groq": "llama-3.1-8b-instant"}


def provider_problem(settings: Settings) -> str | None:
    """Why this provider cannot work, in words for the user; None when it can."""
    if settings.provider == "openai" and not settings.openai_api_key:
        return (
            "The openai provider needs an API key: set OPENAI_API_KEY (or pick another provider)."
        )
    if settings.provider == "groq" and not settings.groq_api_key:
        return "The groq provider needs an API key: set GROQ_API_KEY (or pick another provider)."
    if settings.provider == "openai-compatible" and not settings.model:
        return "The openai-compatible provider needs a model name: set GENAI101_MODEL."
    return None


def current_thread_id() -> str | None:
    """The thread of the run this call belongs to: LangChain hands each runnable's config
    down through a context variable, and LangGraph puts the thread id in it."""
    from langchain_core.runnables.config import ensure_config

    thread_id = (ensure_config().get("configurable") or {}).get("thread_id")
    return str(thread_id) if thread_id is not None else None


def _chat_openai_class():
    from langchain_openai import ChatOpenAI

    class NeutralisingChatOpenAI(ChatOpenAI):
        """ChatOpenAI whose every request has role markers neutralised (see `neutralise`):
        the one place all messages, tool results and passages pass on their way out. With
        `thread_slots`, each request goes to its thread's llama.cpp slot."""

        thread_slots: ThreadSlots | None = None

        def _get_request_payload(self, input_, *, stop=None, **kwargs):
            payload = _neutralised(super()._get_request_payload(input_, stop=stop, **kwargs))
            if self.thread_slots is not None:
                slot = self.thread_slots.slot_for(current_thread_id())
                payload["extra_body"] = {**payload.get("extra_body", {}), "id_slot": slot}
            return payload

    return NeutralisingChatOpenAI


@lru_cache(maxsize=4)
def local_server(settings: Settings) -> LocalLLMServer:
    """One server per settings for the whole process, stopped when the process exits."""
    server = LocalLLMServer(settings)
    atexit.register(server.stop)
    return server


# The chat template's role markers and the tool-result tags. llama.cpp reads special tokens
# in the prompt text, so "<|im_end|><|im_start|>system" in a message or a document would
# become a forged turn; a word joiner after "<" keeps the text readable but not special.
ROLE_MARKER = re.compile(r"<(\|[a-z_]+\||/?tool_(?:response|call)>)", re.IGNORECASE)


def neutralise(text: str) -> str:
    return ROLE_MARKER.sub("<\u2060\\1", text)


def _neutralised(payload: dict) -> dict:
    for message in payload.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = neutralise(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part["text"] = neutralise(part["text"])
    return payload


def tool_chat_model(settings: Settings) -> Callable[[], BaseChatModel]:
    """The factory a tool gets as `ToolContext.chat_model` where no model is built for it
    yet (`make_graph`, the CLI's commands): the tools' slot (1), and nothing made until the
    tool asks, so a command that never generates starts no LLM server. The tools take the
    factory from their caller because tools/ may not import this module (the agent's)."""
    return lambda: make_chat_model(settings, slot=TOOL_SLOT)


def make_chat_model(settings: Settings, slot: int | None = None) -> BaseChatModel:
    """The chat model. `slot` picks the local server's llama.cpp slot: the tools' own
    prompts (text-to-Cypher, in-context NER) use `TOOL_SLOT` and the router `ROUTER_SLOT`;
    None, the conversation, sends each thread to its own conversation slot (`ThreadSlots`),
    so no prompt evicts another's cached prefix."""
    problem = provider_problem(settings)
    if problem:
        raise SettingsError(problem)
    common = {
        "temperature": settings.temperature,
        "max_tokens": settings.llm_max_tokens,
        "timeout": settings.llm_timeout_s,
        "max_retries": 1,
    }
    if settings.provider == "groq":
        from langchain_groq import ChatGroq

        return ChatGroq(
            model=settings.model or DEFAULT_MODELS["groq"], api_key=settings.groq_api_key, **common
        )
    import httpx

    # A connection pool per model: langchain-openai otherwise shares one process-wide async
    # client, whose pooled connections belong to the event loop that opened them, so a
    # second event loop in the process (each test, each CLI turn) fails with "Event loop is
    # closed" on its first call.
    common["http_async_client"] = httpx.AsyncClient(timeout=settings.llm_timeout_s)
    NeutralisingChatOpenAI = _chat_openai_class()  # noqa: N806 (a class, built lazily)
    if settings.provider == "openai":
        return NeutralisingChatOpenAI(
            model=settings.model or DEFAULT_MODELS["openai"],
            api_key=settings.openai_api_key,
            base_url=settings.base_url or None,
            **common,
        )
    if settings.provider == "openai-compatible":
        return NeutralisingChatOpenAI(
            model=settings.model,
            api_key=settings.openai_api_key or "none",
            base_url=settings.base_url,
            **common,
        )
    server = local_server(settings)
    server.ensure_running()
    return NeutralisingChatOpenAI(
        model=MODEL_ALIAS,
        api_key="local",
        base_url=server.base_url,
        # Greedy decoding makes the 1.5B model loop on a phrase; llama.cpp's repetition
        # penalty breaks the loop without making answers random. `id_slot` keeps this
        # model's prompts in their own slot's cache; `cache_prompt` reuses its prefix.
        extra_body={"repeat_penalty": 1.1, "id_slot": slot or 0, "cache_prompt": True},
        thread_slots=server.thread_slots if slot is None else None,
        stream_usage=True,
        **common,
    )
