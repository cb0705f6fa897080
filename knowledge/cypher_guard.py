"""The read-only guard for generated Cypher.

It is the safety net, not READ routing: ArcadeDB (the embedded default) does not enforce
read-only transactions over Bolt, so anything that could write is refused before it reaches
the database, whatever the server.
"""

from __future__ import annotations

import re

from tools.errors import ToolInputError

# Clauses and commands that write or administer; matched as whole words outside strings,
# comments and backticks, in any case.
# fmt: off
FORBIDDEN_WORDS = frozenset(
    {
        "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "FOREACH", "LOAD",
        "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "TERMINATE", "START", "STOP", "SHOW",
        "USE", "ENABLE", "COMMIT", "TRANSACTIONS", "PERIODIC", "IMPORT",
    }
)
# fmt: on
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


class WriteRefused(ToolInputError):
    """The query could change or administer the database (a malformed one is a plain
    ToolInputError: the model may repair that, but never a write)."""


def strip_literals(cypher: str) -> tuple[str, str]:
    """Two views of the query without comments and string contents.

    `code` turns backticked names into the neutral word IDENT (so a label called `Create`
    is no clause, and a backticked procedure name is never on the allow-list); `plain`
    keeps their text (to catch `apoc`.`create`.node). Unterminated quotes or comments are
    refused: the database would parse them differently from us.
    """
    code: list[str] = []
    plain: list[str] = []
    i, n = 0, len(cypher)
    while i < n:
        ch = cypher[i]
        two = cypher[i : i + 2]
        if two == "//":
            end = cypher.find("\n", i)
            i = n if end < 0 else end
            code.append(" ")
            plain.append(" ")
        elif two == "/*":
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise ToolInputError("The query has an unterminated /* comment.")
            i = end + 2
            code.append(" ")
            plain.append(" ")
        elif ch in "'\"":
            i = _skip_string(cypher, i)
            code.append("''")
            plain.append("''")
        elif ch == "`":
            j, name = i + 1, []
            while True:
                if j >= n:
                    raise ToolInputError("The query has an unterminated `backtick` name.")
                if cypher[j] == "`":
                    if cypher[j + 1 : j + 2] == "`":  # `` is an escaped backtick
                        name.append("`")
                        j += 2
                        continue
                    break
                name.append(cypher[j])
                j += 1
            i = j + 1
            code.append(" IDENT ")
            plain.append("".join(name))
        else:
            code.append(ch)
            plain.append(ch)
            i += 1
    return "".join(code), "".join(plain)


def _skip_string(cypher: str, start: int) -> int:
    quote, i = cypher[start], start + 1
    while i < len(cypher):
        if cypher[i] == "\\":
            i += 2
            continue
        if cypher[i] == quote:
            return i + 1
        i += 1
    raise ToolInputError("The query has an unterminated string literal.")


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
    for match in re.finditer(r"(?<![.$\w])([A-Za-z_]\w*)", body):
        word = match.group(1).upper()
        if word in FORBIDDEN_WORDS:
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
