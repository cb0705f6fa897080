"""The read-only guard for generated Cypher: the first of two gates.

It is the safety net, not READ routing: ArcadeDB (the embedded default) does not enforce
read-only transactions over Bolt, so anything that could write is refused before it reaches
the database, whatever the server. The second gate is the database's own parser
(`GraphStore.check_read_only`): a query runs only if both say it only reads.

The lexer errs towards refusing: where databases could read the text two ways (which
characters end a `//` comment, say), it takes the reading that exposes more code to the
word check, so a comment can never hide a clause that some parser would run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.errors import ToolInputError

# Everything any of our parsers (Neo4j's, ArcadeDB's, the JVM's, Python's str.splitlines)
# may treat as the end of a line, so of a `//` comment. ArcadeDB ends a comment at \r;
# Unicode's separators end one in parsers that follow Java's or Unicode's line rules.
LINE_TERMINATORS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

# Clauses and commands that write, administer or leave the graph; matched as whole words
# outside strings, comments and backticks, in any case. A word here costs a false refusal
# when a query uses it as a variable name, which a generated query rarely does.
# fmt: off
FORBIDDEN_WORDS = frozenset(
    {
        # Cypher's updating clauses; FOREACH exists only to update per element.
        "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "FOREACH",
        # LOAD CSV reads server files and URLs: disclosure and server-side requests.
        "LOAD",
        # GQL's INSERT, which ArcadeDB runs (NODETACH DELETE and SESSION SET hold words above).
        "INSERT",
        # Schema and administration (Neo4j, ArcadeDB): indexes, users, roles, databases.
        "DROP", "ALTER", "RENAME", "GRANT", "DENY", "REVOKE", "TERMINATE", "ENABLE",
        "DEALLOCATE", "REALLOCATE",
        # SHOW lists users, transactions and settings; USE leaves this graph (USE system).
        "SHOW", "USE",
        # Transaction and session control: `CALL { } IN TRANSACTIONS` commits on its own,
        # USING PERIODIC COMMIT too; BEGIN/COMMIT/ROLLBACK and GQL's SESSION SET/RESET/CLOSE
        # are statements ArcadeDB's parser accepts.
        "TRANSACTIONS", "PERIODIC", "BEGIN", "COMMIT", "ROLLBACK", "SESSION",
        # PROFILE runs the query and EXPLAIN does not, and both return a plan, not rows: no
        # question needs one, and the second gate puts EXPLAIN in front of the query itself.
        "EXPLAIN", "PROFILE",
        # ArcadeDB's SQL and console commands: no Cypher read uses them, so a front end that
        # passed one through as SQL could not slip it past us.
        "IMPORT", "EXPORT", "BACKUP", "RESTORE", "TRUNCATE", "REBUILD", "ALIGN",
    }
)
# fmt: on
# START and STOP administer only as START/STOP DATABASE and GQL's START TRANSACTION; alone
# they are common variable names (`WITH 0 AS start`) and labels (`(:Start)`).
CONTROL_WORDS = re.compile(r"(?<![.$\w])(START|STOP)\s+(DATABASES?|TRANSACTION)\b", re.I)
ALLOWED_PROCEDURES = frozenset(
    {
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.index.vector.querynodes",
        "db.schema.visualization",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
    }
)
# The most neighbours a vector search may ask for: the cost of an index search grows with k
# (its beam is at least k wide), and no answer shows more rows than the row limit anyway.
MAX_VECTOR_K = 50
VECTOR_CALL = re.compile(
    r"(?<![.$\w])db\s*\.\s*index\s*\.\s*vector\s*\.\s*queryNodes\s*\(", re.IGNORECASE
)


class WriteRefused(ToolInputError):
    """The query could change or administer the database (a malformed one is a plain
    ToolInputError: the model may repair that, but never a write)."""


def _segments(cypher: str) -> Iterator[tuple[str, int, int, str]]:
    """(kind, start, end, text) for each run of the query: `code`, `comment`, `string` or
    `name` (a backticked name, its text unescaped). Unterminated quotes or comments are
    refused: the database would parse them differently from us."""
    i, n, code_start = 0, len(cypher), 0
    while i < n:
        two = cypher[i : i + 2]
        if two not in ("//", "/*") and cypher[i] not in "'\"`":
            i += 1
            continue
        if code_start < i:
            yield "code", code_start, i, cypher[code_start:i]
        if two == "//":
            end = next((j for j in range(i + 2, n) if cypher[j] in LINE_TERMINATORS), n)
            yield "comment", i, end, ""
        elif two == "/*":
            # Cypher's block comments do not nest: the first */ ends one. A parser that
            # nested them would see more comment than we do, never less.
            close = cypher.find("*/", i + 2)
            if close < 0:
                raise ToolInputError("The query has an unterminated /* comment.")
            end = close + 2
            yield "comment", i, end, ""
        elif cypher[i] == "`":
            end, name = _backticked(cypher, i)
            yield "name", i, end, name
        else:
            end = _skip_string(cypher, i)
            yield "string", i, end, ""
        i = code_start = end
    if code_start < n:
        yield "code", code_start, n, cypher[code_start:]


def _backticked(cypher: str, start: int) -> tuple[int, str]:
    """The end of the backticked name at start and its text (`` is an escaped backtick)."""
    j, name = start + 1, []
    while True:
        close = cypher.find("`", j)
        if close < 0:
            raise ToolInputError("The query has an unterminated `backtick` name.")
        name.append(cypher[j:close])
        if cypher[close + 1 : close + 2] != "`":
            return close + 1, "".join(name)
        name.append("`")
        j = close + 2


def _skip_string(cypher: str, start: int) -> int:
    """The end of the string literal at start: a backslash escapes the next character (in
    Neo4j and ArcadeDB alike), so only an unescaped matching quote closes it."""
    quote, i = cypher[start], start + 1
    while i < len(cypher):
        if cypher[i] == "\\":
            i += 2
            continue
        if cypher[i] == quote:
            return i + 1
        i += 1
    raise ToolInputError("The query has an unterminated string literal.")


def strip_literals(cypher: str) -> tuple[str, str]:
    """Two views of the query without comments and string contents.

    `code` turns backticked names into the neutral word IDENT (so a label called `Create`
    is no clause, and a backticked procedure name is never on the allow-list); `plain`
    keeps their text (to catch `apoc`.`create`.node). A comment becomes a space, as it
    separates words for the database too (DETACH/**/DELETE).
    """
    code: list[str] = []
    plain: list[str] = []
    for kind, _, _, text in _segments(cypher):
        if kind == "code":
            code.append(text)
            plain.append(text)
        elif kind == "comment":
            code.append(" ")
            plain.append(" ")
        elif kind == "string":
            code.append("''")
            plain.append("''")
        else:
            code.append(" IDENT ")
            plain.append(text)
    return "".join(code), "".join(plain)


def _masked(cypher: str) -> str:
    """The query with comments blanked and string and name contents replaced by `_`, every
    character where it was: positions found in it are positions in the query."""
    out = []
    for kind, start, end, text in _segments(cypher):
        if kind == "code":
            out.append(text)
        elif kind == "comment":
            out.append(" " * (end - start))
        else:
            quote = cypher[start]
            out.append(quote + "_" * (end - start - 2) + quote)
    return "".join(out)


def check_read_only(cypher: str) -> str:
    """The query if it can only read; WriteRefused (or ToolInputError) saying why otherwise.

    Refuses write and admin clauses, LOAD CSV, CALL of any procedure outside a read-only
    allow-list (CALL { } subqueries are checked like the rest of the text), apoc.*, and
    more than one statement. Returns the query without a trailing semicolon.
    """
    if not cypher or not cypher.strip():
        raise ToolInputError("The query is empty.")
    code, plain = strip_literals(cypher)
    body = code.rstrip().rstrip(";")
    if ";" in body:
        raise WriteRefused("Only one statement is allowed: the query contains a ';'.")
    words = (m.group(1).upper() for m in re.finditer(r"(?<![.$\w])([A-Za-z_]\w*)", body))
    control = CONTROL_WORDS.search(body)
    word = next((w for w in words if w in FORBIDDEN_WORDS), control and control.group(1).upper())
    if word:
        raise WriteRefused(
            f"Refused: {word} would change or administer the database, and this tool only "
            "reads the knowledge graph."
        )
    if re.search(r"\bapoc\s*\.", plain, re.IGNORECASE):
        raise WriteRefused("Refused: APOC procedures and functions are not allowed here.")
    for match in re.finditer(r"\bCALL\b\s*", body, re.IGNORECASE):
        rest = body[match.end() :]
        if rest[:1] in ("{", "("):
            continue  # a subquery: its clauses went through the word check above
        name = re.match(r"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*", rest)
        proc = re.sub(r"\s+", "", name.group(0)).lower() if name else rest[:20]
        if proc not in ALLOWED_PROCEDURES:
            raise WriteRefused(
                f"Refused: CALL {proc} is not on the list of read-only procedures "
                f"({', '.join(sorted(ALLOWED_PROCEDURES))})."
            )
    return cypher.strip().rstrip(";").rstrip()


def cap_vector_k(cypher: str) -> str:
    """The query with every vector search's k cut to MAX_VECTOR_K.

    A k that is not a whole-number literal (a parameter, an expression) cannot be capped
    by reading the text, so it is refused with what to write instead.
    """
    masked = _masked(cypher)
    out, last = [], 0
    for match in VECTOR_CALL.finditer(masked):
        start, end = _second_argument(masked, match.end())
        k = masked[start:end].strip()
        if not re.fullmatch(r"\d+", k):
            raise ToolInputError(
                f"db.index.vector.queryNodes takes k as a whole number up to {MAX_VECTOR_K}, "
                f"not {cypher[start:end].strip()!r}."
            )
        if int(k) > MAX_VECTOR_K:
            start = masked.index(k, start)
            out.append(cypher[last:start] + str(MAX_VECTOR_K))
            last = start + len(k)
    return "".join(out) + cypher[last:]


def _second_argument(masked: str, start: int) -> tuple[int, int]:
    """Where the second argument of the call whose arguments begin at start lies (commas
    inside brackets belong to an inner expression); (start, start) if there is none."""
    depth, commas = 0, []
    for i in range(start, len(masked)):
        ch = masked[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                commas.append(i)
                break
            depth -= 1
        elif ch == "," and depth == 0:
            commas.append(i)
        if len(commas) == 2:
            break
    if len(commas) < 2:
        return start, start
    return commas[0] + 1, commas[1]
