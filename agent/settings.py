"""All configuration in one frozen dataclass, read from the environment and an optional `.env`.

Every module receives a `Settings` instead of reading `os.environ` itself, so tests can build
one with `Settings.from_env(overrides)` and nothing leaks between them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROVIDERS = ("local", "openai", "groq", "openai-compatible")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _env_name(name: str) -> str:
    return f"GENAI101_{name.upper()}"


@dataclass(frozen=True)
class Settings:
    # Where everything the app makes lives: model file, indexes, graph, chat history.
    data_dir: Path = Path("data")

    # LLM provider: local (llama.cpp started by the app), openai, groq, or openai-compatible.
    provider: str = "local"
    model: str = ""  # empty: the provider's default (see agent/providers.py)
    base_url: str = ""  # for openai-compatible (vLLM, llama.cpp elsewhere)
    openai_api_key: str = ""
    groq_api_key: str = ""
    temperature: float = 0.0

    # The local llama.cpp server (xllamacpp in a child process).
    llm_port: int = 8765
    llm_ctx: int = 8192
    llm_threads: int = 1
    llm_batch_threads: int = 2
    llm_cache_mib: int = 256
    llm_max_tokens: int = 512
    llm_timeout_s: float = 120.0

    # The agent.
    max_message_chars: int = 4000
    max_tool_rounds: int = 1
    route_threshold: float = 0.5  # router classifier: below this probability the LLM decides
    history_tokens: int = 3000

    # Torch shares the 2 cores with the LLM server: one thread is faster than two.
    torch_threads: int = 1

    # Chainlit UI. With `users` ("name:password,name2:password2") the app asks for a login;
    # without, everyone on this machine is the one local user "learner". Either way threads
    # are saved and can be resumed. The auth secret is generated into the data folder if unset.
    host: str = "127.0.0.1"
    port: int = 8000
    users: str = ""
    auth_secret: str = ""

    # Document RAG.
    chunk_size: int = 500
    chunk_overlap: int = 100
    rag_top_k: int = 4
    upload_max_mb: int = 10
    rag_corpus_dir: str = ""  # empty: the shipped knowledge/corpus

    # Knowledge graph: NEO4J_URI set means that server; empty means embedded ArcadeDB.
    neo4j_uri: str = ""
    neo4j_username: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = ""
    graph_bolt_port: int = 7687
    graph_http_port: int = 2480
    cypher_timeout_s: float = 10.0
    cypher_row_limit: int = 50

    # Entities.
    ner_mode: str = "spacy"  # spacy | llm
    wiki_online: bool = False
    wiki_timeout_s: float = 5.0
    max_entity_chars: int = 5000

    # Attention.
    attention_max_tokens: int = 128

    # Paraphrase.
    paraphrase_model: str = "int8"  # int8 | fp32

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> Settings:
        """Environment (and `.env` in the working directory) first, then `overrides`.

        Variables are `GENAI101_<FIELD>`; the graph also honours the standard `NEO4J_*`
        names and the providers `OPENAI_API_KEY` / `GROQ_API_KEY`, so existing setups work.
        """
        _load_dotenv()
        aliases = {
            "neo4j_uri": "NEO4J_URI",
            "neo4j_username": "NEO4J_USERNAME",
            "neo4j_password": "NEO4J_PASSWORD",
            "neo4j_database": "NEO4J_DATABASE",
            "openai_api_key": "OPENAI_API_KEY",
            "groq_api_key": "GROQ_API_KEY",
            "auth_secret": "CHAINLIT_AUTH_SECRET",
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(_env_name(f.name))
            if raw is None and f.name in aliases:
                raw = os.environ.get(aliases[f.name])
            if raw is not None:
                values[f.name] = _convert(f.name, raw, f.type)
        values.update(overrides or {})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        if self.provider not in PROVIDERS:
            raise SettingsError(
                f"Unknown LLM provider {self.provider!r}: choose one of {', '.join(PROVIDERS)} "
                f"(set {_env_name('provider')})."
            )
        if self.provider == "openai-compatible" and not self.base_url:
            raise SettingsError(
                f"The openai-compatible provider needs a server URL: set {_env_name('base_url')}, "
                "for example http://localhost:8000/v1 for vLLM."
            )
        if self.ner_mode not in ("spacy", "llm"):
            raise SettingsError(f"{_env_name('ner_mode')} must be spacy or llm.")
        if self.paraphrase_model not in ("int8", "fp32"):
            raise SettingsError(f"{_env_name('paraphrase_model')} must be int8 or fp32.")

    def user_passwords(self) -> dict[str, str]:
        pairs = (item.split(":", 1) for item in self.users.split(",") if ":" in item)
        return {name.strip(): pw for name, pw in pairs if name.strip()}

    def path(self, *parts: str) -> Path:
        """A path under the data folder, its parent created."""
        p = Path(self.data_dir).expanduser().resolve().joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def _convert(name: str, raw: str, type_name: Any) -> Any:
    t = str(type_name)
    try:
        if t == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if t == "int":
            return int(raw)
        if t == "float":
            return float(raw)
        if t == "Path":
            return Path(raw)
    except ValueError as exc:
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a valid {t}.") from exc
    return raw


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(Path.cwd() / ".env", override=False)
