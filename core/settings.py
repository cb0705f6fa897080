"""All configuration in one frozen dataclass, read from the environment and an optional `.env`.

Every module receives a `Settings` instead of reading `os.environ` itself, so tests can build
one with `Settings.from_env(overrides)` and nothing leaks between them.

The data folder holds other people's chats, uploads and the auth secret, so what this module
creates there is private to the OS user running the app: folders 0700, files 0600.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from itertools import takewhile
from pathlib import Path
from typing import Any

PROVIDERS = ("local", "openai", "groq", "openai-compatible")
NER_MODES = ("spacy", "llm")
PARAPHRASE_MODELS = ("int8", "fp32")
FLASH_ATTN = ("auto", "on", "off")

# The chat settings panel's choices: (label, offered values). Anything else a browser sends
# is refused: a turn runs with these (`agent.context.Context`), and a made-up provider or
# recognizer would fail it.
CHAT_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "provider": ("LLM provider", PROVIDERS),
    "ner_mode": ("entity recognizer", NER_MODES),
    "paraphrase_model": ("paraphrase model", PARAPHRASE_MODELS),
}


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
    # One KV buffer for all slots: conversations, tool prompts, router (28 KiB a token).
    llm_ctx: int = 32768
    # Conversation slots: each thread keeps its own cached prefix in one while it is among
    # the most recent this many (agent.llm_server.ThreadSlots); the tools' prompts and the
    # router have a slot each besides. 10 against 1 (bench/concurrency.py, 2-turn
    # conversations): 3 learners at once finished in 77 s instead of 118 (p90 turn 51 s
    # instead of 92), 10 in 306 s instead of 318 (p90 157 s instead of 214: the cores are
    # the limit there, the median stayed ~115-120 s), 1 learner 17 s a turn instead of 23.
    llm_conversation_slots: int = 10
    # Generation threads: 2 made one stream 1.75x faster at a 2,500-token context on idle
    # cores (11.7 vs 6.7 tokens/s) and no slower at 2-4 streams; with a core busy elsewhere
    # 1 holds up better (bench/llm_slots.py, ../shared/notes/llm.md).
    llm_threads: int = 2
    llm_batch_threads: int = 2
    # llama.cpp's flash attention: "on" read a 2,500-token conversation prompt ~15% faster
    # than "off" here (bench/llm_slots.py); "auto" leaves the choice to llama.cpp.
    llm_flash_attn: str = "on"
    llm_cache_mib: int = 256
    llm_max_tokens: int = 512
    llm_timeout_s: float = 120.0

    # The agent.
    max_message_chars: int = 4000
    # Below this classifier probability the LLM router decides. In conversations the 1.5B
    # router sent more unsure messages to a wrong tool than the classifier's own best guess
    # did, at 5-20 s a call, so it is asked only when the classifier is lost.
    route_threshold: float = 0.35
    # The history window jumps when the rendered history passes this many tokens; every
    # jump re-reads the whole kept history, so it is large enough that a lesson-length
    # conversation (10-15 turns) never jumps.
    history_tokens: int = 6000

    # Torch shares the 2 cores with the LLM server: one thread is faster than two.
    torch_threads: int = 1

    # Chainlit UI. With `users` ("name:password,name2:password2", see `parse_users`) the app
    # asks for a login; without, everyone on this machine is the one local user "learner".
    # Either way threads are saved and can be resumed. The auth secret is generated into the
    # data folder if unset.
    host: str = "127.0.0.1"
    port: int = 8000
    users: str = ""
    auth_secret: str = ""

    # Shared store. A postgresql:// URL puts chat threads, LangGraph history and document
    # collections in that database, so several app processes (or machines) serve one class;
    # empty keeps the embedded SQLite and FAISS files under the data folder.
    database_url: str = ""

    # Document RAG.
    chunk_size: int = 500
    chunk_overlap: int = 100
    rag_top_k: int = 4  # passages at most, each a hit widened within its section:
    rag_passage_chars: int = 900  # one passage's window
    rag_context_chars: int = 2400  # all passages of one search together
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

        Every entry point (app, CLI, launcher) starts here, so this is where the process's
        umask becomes 077: the files libraries create in the data folder (the LangGraph
        history, RAG indexes) are then private too, not just the ones this code writes.
        """
        os.umask(0o077)
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
        if self.ner_mode not in NER_MODES:
            raise SettingsError(f"{_env_name('ner_mode')} must be spacy or llm.")
        if self.llm_flash_attn not in FLASH_ATTN:
            raise SettingsError(f"{_env_name('llm_flash_attn')} must be auto, on or off.")
        if self.paraphrase_model not in PARAPHRASE_MODELS:
            raise SettingsError(f"{_env_name('paraphrase_model')} must be int8 or fp32.")
        self.user_passwords()

    def user_passwords(self) -> dict[str, str]:
        return parse_users(self.users)

    def path(self, *parts: str) -> Path:
        """A path under the data folder, its missing folders created private (0700)."""
        p = Path(self.data_dir).expanduser().resolve().joinpath(*parts)
        private_dir(p.parent)
        return p


def parse_users(users: str) -> dict[str, str]:
    """`GENAI101_USERS` as {name: password}.

    The format: entries separated by commas, each `name:password`, split at the first colon
    (a password may contain colons); spaces around names and passwords are ignored. Names
    and passwords must be non-empty, names unique. A password cannot contain a comma: a
    lenient reader turned "alice:pa,ss word" into the password "pa" without a word, so any
    entry that does not fit is refused instead. Messages name the entry by position and
    never echo a password.
    """
    if not users.strip():
        return {}
    var = _env_name("users")
    passwords: dict[str, str] = {}
    for n, entry in enumerate(users.split(","), start=1):
        if not entry.strip():
            raise SettingsError(f"{var}: entry {n} is empty (remove the extra comma).")
        name, colon, password = (part.strip() for part in entry.partition(":"))
        if not colon:
            raise SettingsError(
                f"{var}: entry {n} has no ':'. Write name:password pairs separated by commas; "
                "a password cannot contain a comma, so choose one without."
            )
        if not name:
            raise SettingsError(f"{var}: entry {n} has no user name before its ':'.")
        if not password:
            raise SettingsError(f"{var}: user {name!r} has an empty password.")
        if name in passwords:
            raise SettingsError(f"{var}: user {name!r} is listed twice.")
        passwords[name] = password
    return passwords


def chat_choices(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The chat settings panel's values that were offered, and a message for each that was
    not (its setting then keeps its current value).

    The browser can send anything: 200 made-up `ner_mode` values once built 201 graphs.
    Keys the panel does not have are ignored; the messages do not echo the values.
    """
    chosen: dict[str, Any] = {}
    problems: list[str] = []
    for key, (label, offered) in CHAT_CHOICES.items():
        if key not in values:
            continue
        if isinstance(values[key], str) and values[key] in offered:
            chosen[key] = values[key]
        else:
            choices = ", ".join(offered[:-1]) + f" or {offered[-1]}"
            problems.append(f"The {label} must be {choices}; keeping the current one.")
    if "wiki_online" in values:
        if isinstance(values["wiki_online"], bool):
            chosen["wiki_online"] = values["wiki_online"]
        else:
            problems.append("Online Wikipedia linking is on or off; keeping the current one.")
    return chosen, problems


def private_dir(folder: Path) -> Path:
    """Create `folder` and its missing parents 0700 (`mkdir(parents=True)` would give the
    parents the default mode); existing folders are left as they are."""
    missing = list(takewhile(lambda d: not d.exists(), [folder, *folder.parents]))
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
    return folder


def private_file(path: Path, data: bytes | None = None) -> Path:
    """Create `path` 0600 from its first byte (writing, then chmod, leaves a moment when it
    is readable), or make an existing one 0600; with `data`, replace its content."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if data is not None else 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if data is not None:
            os.write(fd, data)
    finally:
        os.close(fd)
    return path


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
