"""The command line's bad-input paths: clear messages and exit codes, never tracebacks."""

from __future__ import annotations

import importlib.metadata
import socket
import tomllib
from pathlib import Path

import pytest

from agent.cli import COMMANDS_GROUP, build_parser, main
from core.settings import Settings, SettingsError


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "GROQ_API_KEY", "GENAI101_PROVIDER", "GENAI101_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GENAI101_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def declared_entry_points(group: str) -> importlib.metadata.EntryPoints:
    """The entry points pyproject.toml declares, i.e. what installing the package registers.
    The tests read them from there: the installed metadata of an editable install is that of
    the last `pip install -e .`, which may predate the declaration."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = project["project"].get("entry-points", {})
    return importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, value, g)
        for g, points in declared.items()
        for name, value in points.items()
    ).select(group=group)


def commands(parser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)


def test_every_tool_brings_its_subcommand(capsys):
    expected = {"run", "chat", "entities", "ingest", "search", "load-graph", "cypher"}
    expected |= {"ask-graph", "attention", "paraphrase", "bench"}
    assert expected <= commands(build_parser(declared_entry_points))
    assert capsys.readouterr().err == ""


def test_bench_comes_from_the_commands_entry_point_group():
    (bench,) = declared_entry_points(COMMANDS_GROUP)
    assert (bench.name, bench.value) == ("bench", "bench.cli:add_commands")


def test_no_registered_commands_is_said_and_the_rest_still_work(capsys):
    parser = build_parser(lambda group: importlib.metadata.EntryPoints(()))
    assert "bench" not in commands(parser) and {"run", "chat", "entities"} <= commands(parser)
    err = capsys.readouterr().err
    assert COMMANDS_GROUP in err and "pip install -e ." in err


def test_unknown_provider_is_a_clear_error(env, capsys):
    env.setenv("GENAI101_PROVIDER", "gpt5-local")
    assert main(["chat", "hi"]) == 2
    err = capsys.readouterr().err
    assert "Unknown LLM provider 'gpt5-local'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("provider", "key"), [("openai", "OPENAI_API_KEY"), ("groq", "GROQ_API_KEY")]
)
def test_missing_api_key_is_reported_at_start(env, capsys, provider, key):
    env.setenv("GENAI101_PROVIDER", provider)
    assert main(["run"]) == 2
    assert f"set {key}" in capsys.readouterr().err


def test_ui_port_in_use_is_reported(env, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["run", "--port", str(s.getsockname()[1])]) == 2
    assert "already in use" in capsys.readouterr().err


def test_llm_port_held_by_another_program_is_reported(env, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        env.setenv("GENAI101_LLM_PORT", str(s.getsockname()[1]))
        with socket.socket() as ui:
            ui.bind(("127.0.0.1", 0))
            free = ui.getsockname()[1]
        assert main(["run", "--port", str(free)]) == 2
    assert "the local LLM's" in capsys.readouterr().err


def test_empty_chat_message_needs_no_model(env, capsys):
    assert main(["chat", "   "]) == 1
    assert "empty" in capsys.readouterr().out


def test_settings_from_environment_and_bad_values(env):
    env.setenv("GENAI101_LLM_CTX", "4096")
    env.setenv("GENAI101_WIKI_ONLINE", "yes")
    env.setenv("NEO4J_URI", "bolt://db:7687")
    s = Settings.from_env()
    assert (s.llm_ctx, s.wiki_online, s.neo4j_uri) == (4096, True, "bolt://db:7687")
    env.setenv("GENAI101_LLM_CTX", "lots")
    with pytest.raises(SettingsError, match="GENAI101_LLM_CTX='lots' is not a valid int"):
        Settings.from_env()
    env.setenv("GENAI101_LLM_CTX", "4096")
    assert Settings.from_env({"llm_ctx": 1}).llm_ctx == 1  # overrides win


def test_users_setting_parses_name_password_pairs():
    s = Settings(users="ada:lovelace, alan:turing:machine")
    assert s.user_passwords() == {"ada": "lovelace", "alan": "turing:machine"}
    with pytest.raises(SettingsError, match="entry 2 has no ':'"):
        Settings(users="ada:lovelace,broken").user_passwords()
