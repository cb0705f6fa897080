"""The `genai101` command line.

`run` and `chat` live here; every module of `tools/` and `knowledge/` that defines
`add_commands(subparsers)` adds its own subcommands, so a tool brings its CLI with it.
Commands from outside those layers (`genai101 bench`) are entry points of the group
`genai101.commands` (pyproject.toml), each an `add_commands` function: the agent loads
them from the installed package's metadata and never imports bench/ by name.
A handler is `func(args, settings, chat_model) -> int`; it prints JSON when `args.json` is
set. `chat_model` is the factory a tool gets as `ToolContext.chat_model` (nothing is built
until a handler calls it): a command that generates (in-context NER, text-to-Cypher) takes
its model from here, so tools/ never imports the agent's providers.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.providers import tool_chat_model
from core.settings import Settings, SettingsError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


COMMANDS_GROUP = "genai101.commands"

AddCommands = Callable[[argparse._SubParsersAction], None]
EntryPointLookup = Callable[..., importlib.metadata.EntryPoints]


def _layer_commands() -> list[AddCommands]:
    """The `add_commands` of every module of knowledge/ and tools/ (the layers below)."""
    adders = []
    for pkg_name in ("knowledge", "tools"):
        pkg = importlib.import_module(pkg_name)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_") or info.name == "__main__":
                continue
            mod = importlib.import_module(f"{pkg_name}.{info.name}")
            if hasattr(mod, "add_commands"):
                adders.append(mod.add_commands)
    return adders


def _entry_point_commands(entry_points: EntryPointLookup) -> list[AddCommands]:
    """The `add_commands` functions registered under `COMMANDS_GROUP`, by name. Loading one
    imports only its module (bench/cli.py, not the benchmarks' heavy scripts). None found
    means the installed metadata predates the group: say so, and go on without them."""
    found = sorted(entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name)
    if not found:
        print(
            f"genai101: no commands are registered under the entry-point group "
            f"{COMMANDS_GROUP!r}, so `genai101 bench` is missing: reinstall the package "
            "(`pip install -e .`, or `make setup`).",
            file=sys.stderr,
        )
    return [ep.load() for ep in found]


def build_parser(
    entry_points: EntryPointLookup = importlib.metadata.entry_points,
) -> argparse.ArgumentParser:
    """The parser with every command; `entry_points` is the lookup of the registered ones
    (the installed metadata's, or a test's own)."""
    parser = argparse.ArgumentParser(prog="genai101", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the chat app (and the local LLM) in the browser")
    run.add_argument("--port", type=int, help="UI port (default: GENAI101_PORT or 8000)")
    run.set_defaults(func=_cmd_run)

    chat = sub.add_parser("chat", help="one agent turn from the terminal")
    chat.add_argument("message")
    chat.add_argument("--thread", default="cli", help="conversation id (history is kept)")
    chat.add_argument("--json", action="store_true")
    chat.set_defaults(func=_cmd_chat)

    for add_commands in [*_layer_commands(), *_entry_point_commands(entry_points)]:
        add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings, tool_chat_model(settings)) or 0)
    except SettingsError as exc:
        print(f"genai101: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _cmd_run(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    from agent.launcher import run_app

    return run_app(settings if args.port is None else settings.with_(port=args.port))


def _cmd_chat(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    from agent.runner import chat_once

    result = chat_once(settings, args.message, thread_id=args.thread)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        if result.get("route_note"):
            print(f"[router] {result['route_note']}")
        for call in result["tool_calls"]:
            print(f"[tool] {call['name']}({json.dumps(call['args'], ensure_ascii=False)})")
        check = result.get("check") or {}
        if check:
            verdict = "passed" if check.get("ok") else "failed: " + "; ".join(check["problems"])
            print(f"[check] {check.get('source', 'model')}, {verdict}")
        print(result["answer"])
    return 0 if not result.get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
