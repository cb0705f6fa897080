"""`python -m knowledge ingest PATH...` (and every other `genai101` subcommand): the same
CLI, reachable without the installed `genai101` script on PATH.

The command is the package's console script (`[project.scripts]` in pyproject.toml), looked
up in the installed package's metadata: this core package imports nothing of the CLI above
it, which lives in `agent.cli`."""

import sys
from importlib.metadata import entry_points


def main(argv: list[str]) -> int:
    scripts = entry_points(group="console_scripts", name="genai101")
    if not scripts:
        print("genai101 is not installed: run `pip install -e .` first.", file=sys.stderr)
        return 2
    (script,) = scripts
    return script.load()(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
