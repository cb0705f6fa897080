"""`python -m knowledge ingest PATH...` (and every other `genai101` subcommand): the same
CLI, reachable without the installed `genai101` script."""

import sys

from agent.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
