"""Settings that guard users: the login list, the login throttle, the chat settings panel's
values, and the modes of what the app writes to the data folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.launcher import auth_secret
from agent.runner import open_checkpointer
from core.settings import Settings, SettingsError, chat_choices
from ui.data_layer import LocalStorageClient, SQLiteDataLayer
from ui.logins import LoginGuard


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- GENAI101_USERS ---------------------------------------------------------------------


def test_users_are_name_password_pairs():
    s = Settings(users=" ada:love lace , alan:turing:machine")
    assert s.user_passwords() == {"ada": "love lace", "alan": "turing:machine"}
    assert Settings(users="").user_passwords() == {}


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ("alice:pa,ss word", "entry 2 has no ':'.*cannot contain a comma"),
        ("eve:", "'eve' has an empty password"),
        ("eve:   ", "'eve' has an empty password"),
        (":secret", "entry 1 has no user name"),
        ("ada:one,ada:two", "'ada' is listed twice"),
        ("ada:one,", "entry 2 is empty"),
    ],
)
def test_ambiguous_users_are_refused_at_start(monkeypatch, users, message):
    monkeypatch.setenv("GENAI101_USERS", users)
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env()
    assert "GENAI101_USERS" in str(caught.value)
    assert "ss word" not in str(caught.value)  # a password fragment is never echoed


# --- the login throttle -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_logins_check_the_password():
    guard = LoginGuard({"ada": "lovelace", "bob": "pässword"}, clock=Clock())
    assert guard.check("ada", "lovelace")
    assert guard.check("bob", "pässword")  # non-ASCII works (compare_digest needs bytes)
    assert not guard.check("ada", "Lovelace")
    assert not guard.check("ada", "")
    assert not guard.check("nobody", "lovelace")


def test_repeated_failures_refuse_even_the_right_password_for_a_growing_delay():
    clock = Clock()
    guard = LoginGuard({"ada": "lovelace", "bob": "turing"}, clock=clock)
    for _ in range(4):
        assert not guard.check("ada", "guess")
    assert guard.check("ada", "lovelace")  # four failures are free, and success resets
    for _ in range(5):
        assert not guard.check("ada", "guess")
    assert not guard.check("ada", "lovelace")  # the fifth failure starts a 1 s wait
    assert guard.check("bob", "turing")  # per user: bob is not slowed by ada's attacker
    clock.now += 1.0
    assert not guard.check("ada", "guess")  # the sixth failure: 2 s
    assert not guard.check("ada", "guess")  # refused unchecked: it does not count
    clock.now += 1.9
    assert not guard.check("ada", "lovelace")
    clock.now += 0.1
    assert guard.check("ada", "lovelace")
    assert not guard.check("ada", "guess")  # a success starts the count again
    assert guard.check("ada", "lovelace")


def test_the_delay_is_capped():
    clock = Clock()
    guard = LoginGuard({"ada": "lovelace"}, clock=clock)
    for _ in range(40):
        guard.check("ada", "guess")
        clock.now += LoginGuard.MAX_DELAY_S
    assert guard.check("ada", "lovelace")


# --- the chat settings panel ------------------------------------------------------------


def test_offered_chat_settings_are_accepted():
    values = {"provider": "groq", "ner_mode": "llm", "paraphrase_model": "fp32"}
    chosen, problems = chat_choices({**values, "wiki_online": True})
    assert chosen == {**values, "wiki_online": True} and problems == []


def test_other_chat_settings_values_are_refused_and_not_kept():
    chosen, problems = chat_choices(
        {
            "provider": "evil",
            "ner_mode": "spacy" * 1000,
            "paraphrase_model": ["int8"],
            "wiki_online": 1,
            "temperature": 2.0,  # not in the panel: ignored
        }
    )
    assert chosen == {}
    assert len(problems) == 4
    assert "provider" in problems[0] and "local, openai, groq or openai-compatible" in problems[0]
    assert "entity recognizer" in problems[1] and "spacy or llm" in problems[1]
    assert "paraphrase model" in problems[2] and "int8 or fp32" in problems[2]
    assert "Wikipedia" in problems[3] and "on or off" in problems[3]
    assert all(len(p) < 200 for p in problems)  # values are not echoed back
    # A partial update changes only what it names.
    assert chat_choices({"ner_mode": "llm"}) == ({"ner_mode": "llm"}, [])


# --- private files ----------------------------------------------------------------------


@pytest.fixture
def default_umask() -> Iterator[None]:
    """The usual 022 of a login shell, so a test sees what a freshly started app would."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def settings(tmp_path, default_umask) -> Settings:
    return Settings.from_env({"data_dir": tmp_path / "data"})


def test_data_folders_are_created_private(settings, tmp_path):
    path = settings.path("rag", "user-ada", "index.faiss")
    for folder in (tmp_path / "data", tmp_path / "data" / "rag", path.parent):
        assert mode(folder) == 0o700


async def test_chat_history_and_threads_are_private(settings):
    async with open_checkpointer(settings) as checkpointer:
        await checkpointer.setup()
    layer = SQLiteDataLayer(settings.path("chat", "threads.sqlite"), settings.path("chat", "f"))
    await layer.close()
    assert mode(settings.path("chat", "history.sqlite")) == 0o600
    assert mode(settings.path("chat", "threads.sqlite")) == 0o600
    assert mode(settings.path("chat")) == 0o700


async def test_element_files_are_private(tmp_path, default_umask):
    store = LocalStorageClient(tmp_path / "files")
    stored = await store.upload_file("user-1/element-1", b"secret")
    path = store.file_path(stored["object_key"])
    assert path.read_bytes() == b"secret"
    assert (mode(store.root), mode(path.parent), mode(path)) == (0o700, 0o700, 0o600)


def test_the_auth_secret_is_private_from_its_first_byte(settings, monkeypatch):
    # A chmod after writing leaves a moment when the secret is readable: none is needed.
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    secret = auth_secret(settings)
    path = settings.path("chat", "auth_secret")
    assert len(secret) >= 48 and path.read_text() == secret
    assert mode(path) == 0o600
    assert auth_secret(settings) == secret  # kept across restarts


def test_flash_attention_setting_is_checked_and_reaches_the_llm_child(tmp_path):
    from agent.llm_server import LocalLLMServer

    with pytest.raises(SettingsError, match="LLM_FLASH_ATTN"):
        Settings.from_env({"llm_flash_attn": "maybe"}).validate()
    settings = Settings.from_env({"data_dir": tmp_path, "llm_flash_attn": "off"})
    command = LocalLLMServer(settings).command(Path("m.gguf"))
    assert command[command.index("--flash-attn") + 1] == "off"
