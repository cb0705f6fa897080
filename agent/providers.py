"""Chat-model providers: the local llama.cpp server (default), OpenAI, Groq, or any
OpenAI-compatible server (vLLM, llama.cpp elsewhere). All return a LangChain chat model, so
the graph and the tools never know which one they talk to."""

from __future__ import annotations

import atexit
from functools import lru_cache
from typing import TYPE_CHECKING

from agent.llm_server import MODEL_ALIAS, LocalLLMServer
from agent.settings import Settings, SettingsError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "groq": "llama-3.1-8b-instant"}


def tool_call_stop(settings: Settings) -> list[str]:
    """Stop sequences for the tool-routing call. The local 1.5B model, once it has written
    its ```json tool-call block, tends to repeat it until max_tokens (over a minute on two
    cores); stopping at the block's end keeps one call, which llama.cpp still parses."""
    return ["}\n```"] if settings.provider == "local" else []


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


@lru_cache(maxsize=4)
def local_server(settings: Settings) -> LocalLLMServer:
    """One server per settings for the whole process, stopped when the process exits."""
    server = LocalLLMServer(settings)
    atexit.register(server.stop)
    return server


def make_chat_model(settings: Settings) -> BaseChatModel:
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
    from langchain_openai import ChatOpenAI

    # A connection pool per model: langchain-openai otherwise shares one process-wide async
    # client, whose pooled connections belong to the event loop that opened them, so a
    # second event loop in the process (each test, each CLI turn) fails with "Event loop is
    # closed" on its first call.
    common["http_async_client"] = httpx.AsyncClient(timeout=settings.llm_timeout_s)
    if settings.provider == "openai":
        return ChatOpenAI(
            model=settings.model or DEFAULT_MODELS["openai"],
            api_key=settings.openai_api_key,
            base_url=settings.base_url or None,
            **common,
        )
    if settings.provider == "openai-compatible":
        return ChatOpenAI(
            model=settings.model,
            api_key=settings.openai_api_key or "none",
            base_url=settings.base_url,
            **common,
        )
    server = local_server(settings)
    server.ensure_running()
    return ChatOpenAI(
        model=MODEL_ALIAS,
        api_key="local",
        base_url=server.base_url,
        # Greedy decoding makes the 1.5B model loop on a phrase; llama.cpp's repetition
        # penalty breaks the loop without making answers random.
        extra_body={"repeat_penalty": 1.1},
        **common,
    )
