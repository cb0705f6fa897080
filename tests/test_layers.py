"""Which way the imports point: the UI (ui/, app.py) and the CLI above agent/, above the
lesson tools (tools/), above the cores (knowledge/), above the bottom layer (core/: settings
and errors). Read from the source with `ast`, so nothing is imported; imports inside
functions and under `if TYPE_CHECKING:` count too."""

from __future__ import annotations

import ast
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module the file imports, at any depth: `from a.b import c` gives `a.b` and
    `a.b.c` (c may be a module or a name in a.b); `importlib.import_module("a.b")` with a
    literal name counts too (the CLI once loaded bench/ that way)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def lesson_modules() -> set[str]:
    """The modules of tools/ that the registry takes as tools: those defining `make_tools`."""
    return {
        module_name(path)
        for path in python_files("tools")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "make_tools"
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    }


def test_the_ui_imports_no_lesson_module_of_tools() -> None:
    """The UI knows the artifact contract (`tools.artifacts`), not the tools behind it."""
    lessons = lesson_modules()
    assert "tools.rag" in lessons  # the test sees the lessons at all
    found = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in [ROOT / "app.py", *python_files("ui")]
        for name in imported(path)
        if any(name == lesson or name.startswith(f"{lesson}.") for lesson in lessons)
    }
    assert not found


PROJECT_PACKAGES = ("core", "knowledge", "tools", "agent", "ui", "bench", "scripts", "tests", "app")


def imports_of(folder: str, packages: Sequence[str]) -> set[str]:
    """`path imports name` for each import, in the .py files under `folder`, of a module in
    one of `packages` (the package itself or anything below it)."""
    return {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(folder)
        for name in imported(path)
        if any(name == package or name.startswith(f"{package}.") for package in packages)
    }


def test_knowledge_imports_neither_agent_nor_tools() -> None:
    """The cores sit below the tools and the agent: what they share with those (settings,
    `ToolInputError`) lives in core/, so they never import a layer above themselves."""
    assert "core.settings.Settings" in imported(ROOT / "knowledge" / "ingest.py")  # seen
    assert not imports_of("knowledge", ["agent", "tools", "ui", "bench", "app"])


def test_the_agent_imports_neither_the_ui_nor_the_benchmarks() -> None:
    """agent/ (the CLI included) sits below the UI and beside nothing of bench/: `genai101
    bench` comes in through the `genai101.commands` entry-point group instead."""
    assert "agent.providers" in imported(ROOT / "agent" / "cli.py")  # the test sees imports
    assert not imports_of("agent", ["ui", "bench", "app"])


def test_tools_import_no_agent_module() -> None:
    """The lesson tools sit below the agent: a tool that generates gets its chat model from
    its caller (`ToolContext.chat_model`, or the CLI's `chat_model` argument), so no module
    of tools/ imports agent/ (its providers included), nor the UI or the benchmarks."""
    assert "knowledge.graph_store" in imported(ROOT / "tools" / "graph.py")  # seen
    assert not imports_of("tools", ["agent", "ui", "bench", "app"])


def test_core_imports_none_of_the_project_packages() -> None:
    """core/ is the bottom layer: every package may import it, so it may import none of
    them back (only the standard library and python-dotenv)."""
    assert "dotenv" in imported(ROOT / "core" / "settings.py")  # the test sees its imports
    assert not imports_of("core", [p for p in PROJECT_PACKAGES if p != "core"])


def test_python_m_agent_cli_runs_the_genai101_command(monkeypatch, capsys) -> None:
    """The CLI without the console script on PATH lives at the top, in agent/ (the cores
    had a `python -m knowledge` entry point that imported it)."""
    monkeypatch.setattr(sys, "argv", ["genai101", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("agent.cli", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: genai101") and "ingest" in out and "chat" in out
    assert not (ROOT / "knowledge" / "__main__.py").exists()


def knowledge_imports() -> dict[str, set[str]]:
    """Each module of knowledge/ and the modules of knowledge/ it imports."""
    modules = {module_name(path): path for path in python_files("knowledge")}

    def module_of(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    return {
        module: {m for name in imported(path) if (m := module_of(name)) and m != module}
        for module, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reachable = {module: reach(module) for module in graph}
    groups = {
        frozenset({module} | {m for m in reachable[module] if module in reachable[m]})
        for module in graph
        if module in reachable[module]
    }
    return sorted(sorted(group) for group in groups)


def test_no_import_cycle_between_knowledge_modules() -> None:
    """None at all: the collection backends (vectorstore.py's files, pg.py's Postgres) are
    chosen in stores.py, above both, so pg.py builds on vectorstore.py and not back."""
    graph = knowledge_imports()
    assert "knowledge.cypher_checks" in graph["knowledge.text2cypher"]  # the edges are seen
    assert {"knowledge.pg", "knowledge.vectorstore"} <= graph["knowledge.stores"]
    assert "knowledge.pg" not in graph["knowledge.vectorstore"]
    assert cycles(graph) == []
