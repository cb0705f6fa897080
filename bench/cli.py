"""`genai101 bench`: `add_commands` here is the entry point `bench` of the group
`genai101.commands` (pyproject.toml), so the CLI in agent/ adds the command from the
installed metadata without importing bench/ by name."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from bench.harness import AGENT_PARTS, RESULTS

    cmd = subparsers.add_parser(
        "bench", help="measure routing, grounding, latency, concurrency and every tool"
    )
    cmd.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help=f"parts to run: {', '.join(AGENT_PARTS)}, or a tool (rag, entities, attention, "
        "paraphrase, graph); default: all",
    )
    cmd.add_argument("--limit", type=int, help="at most N cases per part (a quick run)")
    cmd.add_argument("--json-out", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    cmd.set_defaults(func=_cmd_bench)


def _cmd_bench(
    args: argparse.Namespace, settings: Settings, chat_model: Callable[[], BaseChatModel]
) -> int:
    from bench.harness import PartError, run

    try:
        results = run(settings, args.only, args.limit, args.json_out)
    except PartError as exc:
        print(f"genai101 bench: {exc}")
        return 2
    from bench.report import goals

    return 1 if any(g.met is False for g in goals(results)) else 0
