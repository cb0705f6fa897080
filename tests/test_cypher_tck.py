"""The read-only gates against the openCypher TCK: 1,353 queries labelled read, write,
write-noop or syntax-error (../shared/data/opencypher-tck, see its README).

Every write and write-noop must be refused; the reads refused are the false-refusal rate,
printed (run with -s to see it). Reads that call the TCK's own test procedures are refused
by design: they are not on the allow-list.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import ToolInputError
from core.settings import Settings
from knowledge.cypher_guard import check_read_only
from knowledge.graph_store import GraphStore
from tests.conftest import free_port

TCK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "opencypher-tck"
QUERIES = TCK / "queries.jsonl"
WRITES = ("write", "write-noop")


def tck_queries() -> list[dict[str, str]]:
    if not QUERIES.exists():
        pytest.skip(f"the openCypher TCK queries are not here: {QUERIES} (a peer checkout)")
    return [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines()]


def refusals(gate: Callable[[str], object]) -> tuple[Counter[str], Counter[str], list[str]]:
    """How many queries of each label gate refuses, of each label in all, and the writes it
    let through."""
    refused: Counter[str] = Counter()
    total: Counter[str] = Counter()
    passed_writes = []
    for row in tck_queries():
        total[row["label"]] += 1
        try:
            gate(row["query"])
        except ToolInputError:
            refused[row["label"]] += 1
        else:
            if row["label"] in WRITES:
                passed_writes.append(row["query"])
    return refused, total, passed_writes


def report(name: str, refused: Counter[str], total: Counter[str]) -> None:
    print(
        f"\n{name}: writes refused {refused['write'] + refused['write-noop']}/"
        f"{total['write'] + total['write-noop']}, reads refused {refused['read']}/"
        f"{total['read']}, syntax errors refused {refused['syntax-error']}/"
        f"{total['syntax-error']}"
    )


def test_the_lexical_guard_refuses_every_tck_write() -> None:
    refused, total, passed = refusals(check_read_only)
    report("lexical guard", refused, total)
    assert passed == []
    assert total["write"] + total["write-noop"] == 267
    # 26 reads call the TCK's test procedures (not allow-listed); 3 use a label `:Begin`.
    assert refused["read"] <= 29


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tck-graph"),
        graph_bolt_port=free_port(),
        graph_http_port=free_port(),
    )
    with GraphStore.open(settings) as store:
        yield store


@pytest.mark.slow
def test_arcadedb_s_parser_refuses_every_tck_write(empty_store: GraphStore) -> None:
    """The second gate alone (nothing runs: the parser only classifies)."""
    refused, total, passed = refusals(empty_store.check_read_only)
    report("ArcadeDB parser gate", refused, total)
    assert passed == []
    assert empty_store.read("MATCH (n) RETURN count(n) AS n").rows == [[0]]


@pytest.mark.slow
def test_both_gates_refuse_every_tck_write(empty_store: GraphStore) -> None:
    def both(query: str) -> None:
        empty_store.check_read_only(check_read_only(query))

    refused, total, passed = refusals(both)
    report("both gates", refused, total)
    assert passed == []
