"""The `genai101` command line.

`run` and `chat` live here; every module of `tools/` and `knowledge/` (and `bench/cli.py`) that defines
`add_commands(subparsers)` adds its own subcommands, so a tool brings its CLI with it.
A handler is `func(args, settings, chat_model) -> int`; it prints JSON when `args.json` is
set. `chat_model` is the factory a tool gets as `ToolContext.chat_model` (nothing is built
until a handler calls it): a command that generates (in-context NER, text-to-Cypher) takes
its model from here, so tools/ never imports the agent's providers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.providers import tool_chat_model
from core.settings import Settings, SettingsError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def _command_modules() -> list:
    mods = []
    for pkg_name in ("knowledge", "tools"):
        pkg = importlib.import_module(pkg_name)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_") or info.name == "__main__":
                continue
            mod = importlib.import_module(f"{pkg_name}.{info.name}")
            if hasattr(mod, "add_commands"):
                mods.append(mod)
    # bench/ holds scripts with heavy imports: only its command module is loaded.
    return [*mods, importlib.import_module("bench.cli")]


def build_parser() -> argparse.ArgumentParser:
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

    for mod in _command_modules():
        mod.add_commands(sub)
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
