"""Benchmarks: per-tool scripts (`bench/*_bench.py`, `rag_*.py`, ...) and the agent-level
harness behind `genai101 bench` (`bench.harness`), which runs them all with the local LLM
and prints one summary. A package so the harness and its tests can import its parts."""
