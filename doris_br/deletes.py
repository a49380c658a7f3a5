"""Delete predicates: how a DELETE on a DUPLICATE, AGGREGATE or merge-on-read UNIQUE table is stored and applied.

A DELETE there is a load of no rows: each tablet of each touched partition gets a version file whose Parquet
key-value metadata holds the predicate (METADATA_KEY: JSON). The predicate removes the rows of every older
version of the same tablet. Files never change once written, so a predicate travels with backups and restores
as the file does. BE scans filter each file's rows by the predicates of the newer files of its tablet;
compaction applies them for good (be/compaction.py), keeping in its output those that still apply to older files.

Values are kept as text with the column's DuckDB type and rendered as quoted, typed literals; columns are quoted
names and the operators come from a fixed list, so nothing a user wrote is ever spliced into SQL as written.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import attrs
import pyarrow.parquet as pq

from doris_br import duck

METADATA_KEY = b"doris_br.delete"
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
# A DuckDB type as duckdb_type() writes it: a name, maybe with (precision, scale).
_TYPE = re.compile(r"[A-Z]+(\(\d{1,2}(,\d{1,2})?\))?")


@attrs.frozen
class Condition:
    """One conjunct: `column op values`, values as text of the column's DuckDB type."""

    column: str
    op: str
    values: tuple[str, ...]
    type: str

    def sql(self) -> str:
        if self.op not in OPERATORS or not _TYPE.fullmatch(self.type):
            raise ValueError(f"bad delete condition {self!r}")
        column = duck.quote(self.column)
        if self.op in ("IS NULL", "IS NOT NULL"):
            return f"{column} {self.op}"
        literals = [f"CAST('{v.replace(chr(39), chr(39) * 2)}' AS {self.type})" for v in self.values]
        if self.op in ("IN", "NOT IN"):
            return f"{column} {self.op} ({', '.join(literals)})"
        return f"{column} {self.op} {literals[0]}"


@attrs.frozen
class DeletePredicate:
    """The conjunction of a DELETE's conditions, issued at `version` (0 while the file's name does not say it
    yet: a predicate in a `v<N>.parquet` of its own is issued at N)."""

    version: int
    conditions: tuple[Condition, ...]

    def sql(self) -> str:
        return "(" + " AND ".join(c.sql() for c in self.conditions) + ")"


def to_metadata(predicates: list[DeletePredicate]) -> dict[bytes, bytes]:
    body = [{"version": p.version, "conditions": [[c.column, c.op, list(c.values), c.type] for c in p.conditions]}
            for p in predicates]
    return {METADATA_KEY: json.dumps(body).encode()}


def from_metadata(metadata: dict[bytes, bytes] | None, file_version: int) -> list[DeletePredicate]:
    """The predicates a file holds; those written without a version get the file's own."""
    if not metadata or METADATA_KEY not in metadata:
        return []
    out = []
    for entry in json.loads(metadata[METADATA_KEY]):
        conditions = tuple(Condition(str(c), str(op), tuple(str(v) for v in values), str(t))
                           for c, op, values, t in entry["conditions"])
        out.append(DeletePredicate(int(entry["version"]) or file_version, conditions))
    return out


@attrs.frozen
class Footer:
    """What a rowset file's footer says that reads need: its delete predicates and its row count."""

    predicates: list[DeletePredicate]
    rows: int


_CACHE: dict[tuple[str, int, int], Footer] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 200_000


def footer(path: Path, end_version: int) -> Footer:
    """A rowset file's footer, read once per file (keyed by inode and mtime: a version file an orphan's publish
    replaced is another file)."""
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_mtime_ns)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is not None:
        return found
    meta = pq.read_metadata(path)
    found = Footer(from_metadata(meta.metadata, end_version), meta.num_rows)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def of_file(path: Path, end_version: int) -> list[DeletePredicate]:
    return footer(path, end_version).predicates


def deleted_by_newer(chain: list[tuple[Path, int]]) -> list[list[DeletePredicate]]:
    """For each file of one tablet's chain ((path, end version), oldest first), the delete predicates of the
    newer files: the rows of a file that any of them matches are deleted."""
    own = [of_file(path, end) for path, end in chain]
    return [[d for later in own[i + 1:] for d in later if d.version > end] for i, (_, end) in enumerate(chain)]


def deleted_sql(predicates: list[DeletePredicate]) -> str:
    """True for a row any of the predicates deletes (NULL comparisons delete nothing). Predicates that are one
    `column = value` or `column IN (...)` (the usual many small deletes) become one IN list per column, which
    the engine tests once per row rather than once per predicate."""
    values: dict[tuple[str, str], list[str]] = {}
    others: list[str] = []
    for p in predicates:
        c = p.conditions[0] if len(p.conditions) == 1 else None
        if c is not None and c.op in ("=", "IN"):
            values.setdefault((c.column, c.type), []).extend(c.values)
        else:
            others.append(p.sql())
    tests = [Condition(column, "IN", tuple(dict.fromkeys(vs)), type_).sql() for (column, type_), vs in values.items()]
    return "coalesce(" + " OR ".join(tests + others) + ", false)"
