"""The SQL dialect layer: what features write (SQLite's `?` placeholders and the portable subset, docs/storage.md)
turned into what PostgreSQL runs. SQLite runs it as written.

- `?` becomes `$1`, `$2`, ... in order; `?N` (one parameter used twice) becomes `$N` (numbered as SQLite does).
- `json_each(?)`, the way to pass a list as one parameter (a JSON array), becomes `jsonb_array_elements(...)`: each
  element is a row with one column, `value`. Features cast what they read from it (`CAST(value AS BIGINT)`,
  `CAST(k.value ->> 0 AS BIGINT)`), which both engines understand.
- `CROSS JOIN t AS x ON ...` (SQLite's way to fix the join order, e.g. the JSON list first) becomes `JOIN t AS x ON`:
  PostgreSQL's planner chooses the order itself and accepts no ON after CROSS JOIN.

Placeholders inside string literals, quoted identifiers and comments are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

_JSON_EACH = re.compile(r"\bjson_each\(\s*(\?\d*)\s*\)", re.IGNORECASE)
_CROSS_JOIN_ON = re.compile(r"\bCROSS\s+JOIN(\s+\w+(?:(?:\s+AS)?\s+(?!ON\b)\w+)?\s+ON\b)", re.IGNORECASE)
# A string literal, a quoted identifier, a comment, or a placeholder; the first three are copied as they are.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?(\d*)", re.DOTALL)


@lru_cache(maxsize=2048)
def to_postgresql(sql: str) -> str:
    """The statement with PostgreSQL's numbered placeholders and its spelling of the few SQLite-isms allowed."""
    sql = _JSON_EACH.sub(r"jsonb_array_elements(CAST(\1 AS jsonb))", sql)
    sql = _CROSS_JOIN_ON.sub(r"JOIN\1", sql)
    largest = 0  # as SQLite numbers them: a bare ? is one more than the largest number so far

    def placeholder(match: re.Match[str]) -> str:
        nonlocal largest
        if not match.group(0).startswith("?"):
            return match.group(0)
        number = int(match.group(1)) if match.group(1) else largest + 1
        largest = max(largest, number)
        return f"${number}"

    return _TOKEN.sub(placeholder, sql)


def rows_changed(status: str) -> int:
    """The row count in a PostgreSQL command tag ("UPDATE 3", "INSERT 0 1", "DELETE 0"); 0 for other commands."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() and status.split(" ", 1)[0] in _COUNTED else 0


_COUNTED = {"INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "COPY"}
