"""Chat-model providers: the local llama.cpp server (default), OpenAI, Groq, or any
OpenAI-compatible server (vLLM, llama.cpp elsewhere). All return a LangChain chat model, so
the graph and the tools never know which one they talk to."""

from __future__ import annotations

import atexit
import re
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from agent.llm_server import MODEL_ALIAS, TOOL_SLOT, LocalLLMServer, ThreadSlots
from core.settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "groq": "llama-3.1-8b-instant"}
# The conversation's "slot": each thread's own, chosen per request (`ThreadSlots`); the
# tools' prompts and the router's have fixed slots (`agent.llm_server.TOOL_SLOT`,
# `ROUTER_SLOT`).
CONVERSATION_SLOT = None
# What the local server is made of: one server per distinct tuple of these, whatever the
# other settings (a chat's recognizer switch is another `Settings`, not another server).
SERVER_FIELDS = (
    "data_dir", "llm_port", "llm_ctx", "llm_threads", "llm_batch_threads", "llm_cache_mib",
    "llm_flash_attn", "llm_conversation_slots",
)  # fmt: skip


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


def local_server(settings: Settings) -> LocalLLMServer:
    """One server per port and launch options (`SERVER_FIELDS`) for the whole process,
    stopped when the process exits: the app's shutdown stops the one its turns used."""
    return _local_server(tuple(getattr(settings, name) for name in SERVER_FIELDS))


@lru_cache(maxsize=4)
def _local_server(key: tuple) -> LocalLLMServer:
    server = LocalLLMServer(Settings(**dict(zip(SERVER_FIELDS, key, strict=True))))
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
    """The factory a command handler gets as its `chat_model` (the CLI's commands): the
    tools' slot, and nothing made until the command asks, so a command that never generates
    starts no LLM server. The tools take the factory from their caller because tools/ may
    not import this module (the agent's)."""
    return lambda: make_chat_model(settings, slot=TOOL_SLOT)


class ChatModels:
    """The process's chat models, made once per (provider, slot) and shared by every chat:
    a provider switch in the chat settings panel picks that provider's models (made on its
    first use) rather than building a model per distinct `Settings`. Everything but the
    provider (model name, URL, keys, temperature) is the process's. Other providers have no
    slots, so their slots share one model. Thread-safe: turns fetch models from threads,
    since making one may block (the local server's health check, a TLS context)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[tuple[str, int | None], BaseChatModel] = {}
        self._lock = threading.Lock()

    def __call__(self, provider: str, slot: int | None = CONVERSATION_SLOT) -> BaseChatModel:
        key = (provider, slot if provider == "local" else CONVERSATION_SLOT)
        with self._lock:
            if key not in self._models:
                self._models[key] = make_chat_model(self.settings.with_(provider=provider), key[1])
            return self._models[key]


def make_chat_model(settings: Settings, slot: int | None = CONVERSATION_SLOT) -> BaseChatModel:
    """The chat model. `slot` picks the local server's llama.cpp slot: the tools' own
    prompts (text-to-Cypher, in-context NER) use `TOOL_SLOT` and the router `ROUTER_SLOT`;
    `CONVERSATION_SLOT` (None) sends each thread to its own conversation slot
    (`ThreadSlots`), so no prompt evicts another's cached prefix."""
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
