"""Stream Load: `curl --location-trusted -u user:pw -H "label:l1" -T data.csv http://fe:8030/api/db/tbl/_stream_load`.

Doris's FE redirects the PUT to a BE; ours loads it itself, through the same atomic load path as INSERT
(`doris_br.fe.load.Load`): one new version per touched partition, published with the label at once. With fe.conf
stream_load_redirect_to_be it answers 307 as Doris does, and the BE it names relays the load back here
(doris_br/be/http.py, doris_br/http/relay.py): the load is still this handler's.

A body is handled in blocks (fe.conf stream_load_block_bytes, 16 MiB): each block is parsed, routed and
streamed to the replicas while the next one arrives, so the FE never holds the whole body (fresh memory is what
cost most: the kernel zeroes every new page). CSV and JSON lines are cut at line ends; one JSON array
(strip_outer_array) is cut between its elements, which become JSON lines (doris_br.http.json_array), and is
refused above streaming_load_json_max_mb, as Doris refuses it.

Parsing is pyarrow's (multi-threaded CSV and JSON readers, typed by the table's schema). When the typed read of
a block fails or a row breaks a constraint, the block is read again as text and every row is checked in DuckDB
(TRY_CAST per column), so a bad row is named in the answer and `max_filter_ratio` can let it be filtered.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import sqlglot
from aiohttp import web
from aiohttp.web_urldispatcher import _default_expect_handler
from sqlglot import exp

from doris_br import duck
from doris_br.config import parse_bool
from doris_br.errors import DorisError
from doris_br.fe import indexes
from doris_br.fe.load import LabelAlreadyUsed, Load, check_label
from doris_br.fe.olap import Table, get_database, get_table
from doris_br.fe.privileges import require_on_table
from doris_br.http.auth import AuthFailed, authenticate, unauthorized
from doris_br.http.json_array import JsonArraySplitter, NotAJsonArray
from doris_br.http.merge_type import BadHeader, MergeOptions, merge_options, with_hidden
from doris_br.http.merge_type import check_table as check_merge
from doris_br.http.relay import is_relayed
from doris_br.schema import duckdb_type, type_params
from doris_br.sql import parse as parse_sql
from doris_br.sql import sandbox

log = logging.getLogger(__name__)
QUALITY_ERROR = "[DATA_QUALITY_ERROR]too many filtered rows"
REDIRECT_CONFIG = "stream_load_redirect_to_be"
# Doris's SystemInfoService.NO_BACKEND_LOAD_AVAILABLE_MSG
NO_BACKEND = "No backend available for load, please check the status of your backends."


def _address(request: web.Request) -> str:
    """host:port the client reached: its Host header, else (HTTP/1.0 clients send none; aiohttp would give the
    machine's name without a port) the address and port this connection was accepted on."""
    if request.headers.get("Host"):
        return request.host
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return request.host
    host = sockname[0]
    return f"[{host}]:{sockname[1]}" if ":" in host else f"{host}:{sockname[1]}"


# Error logs of recent loads, served at /api/_load_error_log?file=<id> (the ErrorURL of the answer).
ERROR_LOGS: OrderedDict[str, str] = OrderedDict()
MAX_ERROR_LOGS = 100
MAX_LOGGED_ROWS = 1000
# Doris's `timeout` header: its default (FE config stream_load_default_timeout_second) and its largest value.
DEFAULT_TIMEOUT_S = 600
MAX_TIMEOUT_S = 259200
# Ours: how long a load waits for the next bytes of its body (FE config stream_load_idle_timeout_second).
DEFAULT_IDLE_S = 300
DRAIN_S = 10.0


class LoadFailed(Exception):
    def __init__(self, message: str, error_log: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_log = error_log


class BodyTimedOut(LoadFailed):
    """The body stopped arriving, or took longer than the load's timeout: nothing is left to drain."""


@attrs.frozen
class Options:
    label: str
    format: str
    columns: list[str] | None
    separator: str
    line_delimiter: str
    max_filter_ratio: float
    strip_outer_array: bool
    enclose: str | None
    skip_lines: int = 0
    partitions: list[str] | None = None
    timeout_s: int = DEFAULT_TIMEOUT_S
    # `columns: k, tmp, v = tmp * 2`: (table column, DuckDB SQL over the file's columns), in header order
    mappings: tuple[tuple[str, str], ...] = ()
    merge: MergeOptions = MergeOptions()  # merge_type, delete, function_column.sequence_col


@attrs.frozen
class Limits:
    timeout_s: int
    idle_s: float
    deadline: float  # time.monotonic()


@attrs.frozen
class Parsed:
    data: pa.Table
    total: int
    bad: list[tuple[str, str]]  # (row, reason) of the filtered rows, in file order


def _unescape(text: str) -> str:
    """Doris's separators: `\\t`, `\\x01` and plain characters."""
    if text.lower().startswith("\\x") and len(text) > 2:
        return bytes.fromhex(text[2:]).decode("latin-1")
    return codecs.decode(text, "unicode_escape") if "\\" in text else text


def options(headers: Any, default_timeout_s: int = 0) -> Options:
    fmt = headers.get("format", "csv").strip().lower()
    skip = {"csv_with_names": 1, "csv_with_names_and_types": 2}.get(fmt, 0)  # their first lines are skipped
    if skip:
        fmt = "csv"
    if fmt not in ("csv", "json"):
        raise DorisError(f"unknown data format: {fmt}")
    cols = headers.get("columns")
    names, mappings = _columns(cols) if cols is not None and cols.strip() else (None, ())
    separator = _unescape(headers.get("column_separator", "\t"))
    if not separator or "\n" in separator or "\r" in separator:
        raise DorisError(f"column_separator must not be empty or hold a line end, got {separator!r}")
    enclose = headers.get("enclose") or None
    if enclose and len(separator.encode()) > 1:
        raise DorisError("a column_separator of more than one byte cannot be combined with enclose")
    try:
        ratio = float(headers.get("max_filter_ratio", "0"))
    except ValueError:
        raise DorisError(f"max_filter_ratio must be a number, got {headers.get('max_filter_ratio')!r}") from None
    if not 0 <= ratio <= 1:
        raise DorisError("max_filter_ratio must be between 0 and 1")
    label = headers.get("label") or str(uuid.uuid4())
    if len(label) > 128 or not re.fullmatch(r"[-\w:.]+", label):
        raise DorisError(f"Label format error. regex: ^[-_A-Za-z0-9:.]{{1,128}}$, label: {label}")
    partitions = [p.strip().strip("`") for p in headers.get("partitions", "").split(",") if p.strip()] or None
    try:
        timeout_s = int(headers.get("timeout") or default_timeout_s or DEFAULT_TIMEOUT_S)
    except ValueError:
        raise DorisError(f"timeout must be a number of seconds, got {headers.get('timeout')!r}") from None
    if not 1 <= timeout_s <= MAX_TIMEOUT_S:
        raise DorisError(f"timeout must be between 1 and {MAX_TIMEOUT_S} seconds, got {timeout_s}")
    try:
        merge = merge_options(headers)
    except BadHeader as e:
        raise LoadFailed(e.message) from None
    return Options(merge=merge, label=label, format=fmt, columns=names, separator=separator,
                   line_delimiter=_unescape(headers.get("line_delimiter", "\n")), max_filter_ratio=ratio,
                   strip_outer_array=headers.get("strip_outer_array", "false").lower() == "true", enclose=enclose,
                   skip_lines=skip, partitions=partitions, timeout_s=timeout_s, mappings=mappings)


def _columns(text: str) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """The `columns` header: the file's columns in order, and the mappings `target = expression` (Doris SQL,
    turned into DuckDB's). An expression reads only the row's columns: no subqueries, no tables."""
    try:
        parsed = parse_sql(f"SELECT {text}")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, RecursionError):
        raise DorisError(f"columns header cannot be parsed: {text}") from None
    select = parsed[0] if len(parsed) == 1 else None
    if not isinstance(select, exp.Select) or any(v for k, v in select.args.items() if k != "expressions"):
        raise DorisError(f"columns header cannot be parsed: {text}")
    sandbox.check(select)  # Doris's functions only: a mapping is the user's SQL
    indexes.resolve_matches(select, {})  # a MATCH on a file's column: the whole value is the term
    sandbox.bound_values(select)
    items = select.expressions
    names: list[str] = []
    mappings: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, exp.Column) and not item.table:
            names.append(item.name)
        elif isinstance(item, exp.EQ) and isinstance(item.this, exp.Column):
            if item.expression.find(exp.Query, exp.Table, exp.Subquery):
                raise DorisError(f"column mapping of {item.this.name} may only use the row's columns: {item.sql()}")
            mappings.append((item.this.name, item.expression.sql(dialect="duckdb")))
        else:
            raise DorisError(f"columns header: expected a column or `column = expression`, got {item.sql()}")
    every = [n.lower() for n in names] + [t.lower() for t, _ in mappings]
    if len(set(every)) != len(every):
        raise DorisError(f"Duplicate column in columns header: {text}")
    return names, tuple(mappings)


# ---- parsing ----------------------------------------------------------------------------------------------


def _targets(table: Table, opts: Options) -> list[str]:
    """The table columns the load fills: the file's columns, or with mappings the file's columns that are
    table columns and the mapped ones."""
    if opts.columns is None:
        return [c.name for c in table.columns]
    return _loaded_as_read(table, opts) + [table.column(t).name for t, _ in opts.mappings]


def _loaded_as_read(table: Table, opts: Options) -> list[str]:
    """The file's columns that are table columns (all of them when there are no mappings)."""
    if not opts.mappings:
        return [table.column(n).name for n in opts.columns or []]
    known = {c.name.lower() for c in table.stored_columns}  # a file may fill __DORIS_DELETE_SIGN__
    return [table.column(n).name for n in opts.columns or [] if n.lower() in known]


def _file_columns(table: Table, opts: Options) -> list[str]:
    return _targets(table, opts) if not opts.mappings else list(opts.columns or [])


def _mapped(table: Table, opts: Options) -> str:
    """The SELECT over __text (the file's columns as text) giving the targets as text. In the expressions a
    table column has its type and any other column is text, made a number where arithmetic or a comparison
    with a number needs one, as Doris's implicit casts do."""
    known = {c.name.lower() for c in table.stored_columns}
    source = ", ".join(
        (f"TRY_CAST({duck.quote(n)} AS {duckdb_type(table.column(n).type)})" if n.lower() in known
         else duck.quote(n)) + f" AS {duck.quote(n)}, {duck.quote(n)} AS __raw{i}"
        for i, n in enumerate(opts.columns or []))
    raw = {n.lower(): f"__raw{i}" for i, n in enumerate(opts.columns or [])}
    outputs = [f"{raw[n.lower()]} AS {duck.quote(n)}" for n in _loaded_as_read(table, opts)]
    for target, sql in opts.mappings:
        column = table.column(target)
        value = _mapping_value(sql, frozenset(known))
        typed = f"TRY_CAST(({value}) AS {duckdb_type(column.type)})"  # as Doris outside strict mode: NULL
        outputs.append(f"CAST({typed} AS VARCHAR) AS {duck.quote(column.name)}")
    return f"WITH __src AS (SELECT {source} FROM __text) SELECT {', '.join(outputs)} FROM __src"


@functools.lru_cache(maxsize=256)
def _mapping_value(sql: str, table_columns: frozenset[str]) -> str:
    """A mapping's DuckDB SQL with its implicit casts: parsed once per load, not once per block."""
    return _numbers_where_needed(sqlglot.parse_one(sql, read="duckdb"), table_columns).sql(dialect="duckdb")


_BLANK = re.compile(rb"\s+")
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)
_COMPARISON = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)


def _numbers_where_needed(expression: exp.Expression, table_columns: frozenset[str]) -> exp.Expression:
    def numeric(node: exp.Expression) -> bool:
        return isinstance(node, _ARITHMETIC) or (isinstance(node, exp.Literal) and not node.is_string)

    for column in list(expression.find_all(exp.Column)):
        parent = column.parent
        if column.name.lower() in table_columns or parent is None:
            continue
        other = [v for v in parent.args.values() if isinstance(v, exp.Expression) and v is not column]
        if isinstance(parent, _ARITHMETIC) or (isinstance(parent, _COMPARISON) and any(map(numeric, other))):
            column.replace(exp.TryCast(this=column.copy(), to=exp.DataType.build("DOUBLE")))
    return expression


def _problems(table: Table, data: pa.Table) -> bool:
    """Whether typed rows break a constraint the load would refuse (NULL in NOT NULL, VARCHAR too long)."""
    for name in data.column_names:
        c = table.column(name)
        col = data.column(name)
        if not c.nullable and col.null_count:
            return True
        if c.type.startswith(("varchar", "char")) and len(col):
            longest = pc.max(pc.binary_length(col)).as_py()
            if longest is not None and longest > type_params(c.type)[0]:
                return True
    return False


def _csv_read(body: pa.Buffer, opts: Options, names: list[str], types: dict[str, pa.DataType],
              invalid: list[tuple[int, str]], skip: int, threads: bool = True) -> pa.Table:
    def on_invalid(row: Any) -> str:
        invalid.append((row.number or 0, row.text))
        return "skip"

    return pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20, use_threads=threads,
                                       skip_rows=skip),
        parse_options=pacsv.ParseOptions(delimiter=opts.separator, quote_char=opts.enclose or False,
                                         escape_char=False, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(column_types=types, null_values=["\\N"], strings_can_be_null=True,
                                             quoted_strings_can_be_null=False))


def _json_records(body: pa.Buffer, opts: Options, bad: list[tuple[int, str, str]],
                  first_line: int = 1) -> list[tuple[int, dict]]:
    """The JSON objects with their line numbers (the block's first is `first_line`). A JSON array's blocks
    are JSON lines too, one element per line: their numbers are the elements', and an element that is not
    valid JSON fails the load, as one read of the whole array did."""
    text = body.to_pybytes().decode("utf-8", errors="replace")
    numbered = []
    # Lines end at \n only, as the blocks are cut and counted: a JSON string may hold U+2028 and the like.
    for n, line in enumerate(text.removesuffix("\n").split("\n"), first_line):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            numbered.append((n, json.loads(line)))
        except ValueError as e:
            if opts.strip_outer_array:
                raise LoadFailed(f"{QUALITY_ERROR}: the body is not a JSON array: element {n}: {e}") from None
            bad.append((n, f"line {n}: {line}", f"not valid JSON: {e}"))
    out = []
    for n, record in numbered:
        if isinstance(record, dict):
            out.append((n, record))
        else:
            bad.append((n, f"line {n}: {json.dumps(record)}", "not a JSON object"))
    return out


def _json_read(body: pa.Buffer, names: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """JSON lines read by pyarrow, typed by the table. pyarrow's reader takes dates and times only as numbers,
    so they are read as text and cast after (ArrowInvalid for a value that is not one, as for any bad value)."""
    as_text = [n for n in names if pa.types.is_temporal(types[n])]
    schema = pa.schema([(n, pa.string() if n in as_text else types[n]) for n in names])
    data = pajson.read_json(pa.BufferReader(body), read_options=pajson.ReadOptions(block_size=16 << 20),
                            parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                              unexpected_field_behavior="ignore"))
    for n in as_text:
        data = data.set_column(data.schema.get_field_index(n), n, pc.cast(data.column(n), types[n]))
    return data


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


# Bytes that stand in for a column separator of several bytes (pyarrow splits on one): the first not in the block.
_STAND_INS = [bytes([b]) for b in (0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1C))]


def _one_byte_separator(body: pa.Buffer, opts: Options) -> tuple[pa.Buffer, Options, Any]:
    """The block and options to parse with, and how to turn a raw row of it back into the body's text."""
    separator = opts.separator.encode()
    if len(separator) == 1:
        return body, opts, lambda row: row
    data = body.to_pybytes()
    stand_in = next((b for b in _STAND_INS if b not in data), None)
    if stand_in is None:
        raise LoadFailed(f"{QUALITY_ERROR}: a block of the body holds every control character, so the column "
                         f"separator {opts.separator!r} cannot be split on")
    sub = stand_in.decode()
    return pa.py_buffer(data.replace(separator, stand_in)), attrs.evolve(opts, separator=sub), \
        lambda row: row.replace(sub, opts.separator)


def parse(table: Table, opts: Options, body: pa.Buffer, first_line: int = 1) -> Parsed:
    """A block of the body whose first row is row `first_line` of the body (counting the skipped header lines
    but not blank lines, as pyarrow does); only the body's first block skips lines."""
    names = _file_columns(table, opts)
    mapped = bool(opts.mappings)  # read as text, then computed: no typed fast path
    types = {} if mapped else {n: table.column(n).arrow for n in names}
    skip = opts.skip_lines if first_line == 1 else 0
    if opts.format == "csv":
        body, read_opts, restore = _one_byte_separator(body, opts)
        invalid: list[tuple[int, str]] = []
        try:
            data = None if mapped else _csv_read(body, read_opts, names, types, invalid, skip)
            if data is not None and not invalid and not _problems(table, data):
                return Parsed(data, data.num_rows, [])
        except pa.ArrowInvalid:
            pass
        invalid = []  # read again as text, in one thread so that skipped rows know their line numbers
        text = _csv_read(body, read_opts, names, dict.fromkeys(names, pa.string()), invalid, skip, threads=False)
        invalid = [(n + first_line - 1, restore(row)) for n, row in invalid]
        first = first_line + skip
        bad = [(n, f"line {n}: {row}", f"the row has a wrong number of columns (the table takes {len(names)})")
               for n, row in invalid]
        skipped = np.array(sorted(n for n, _ in invalid), dtype=np.int64)
        lines = np.setdiff1d(np.arange(first, first + text.num_rows + len(invalid)), skipped)[:text.num_rows]
        rows_text = None
    else:
        bad = []
        if not mapped:
            try:
                data = _json_read(body, names, types)
                if not _problems(table, data):
                    return Parsed(data.select(names), data.num_rows, [])
            except pa.ArrowInvalid:
                pass
        numbered = _json_records(body, opts, bad, first_line)
        records = [r for _, r in numbered]
        lowered = [{k.lower(): v for k, v in r.items()} for r in records]
        text = pa.table({n: pa.array([_json_text(r.get(n.lower())) for r in lowered], pa.string()) for n in names})
        rows_text = [json.dumps(r) for r in records]
        lines = np.array([n for n, _ in numbered], dtype=np.int64)
    if mapped:
        cur = duck.cursor()  # a mapping is the user's SQL: the sandbox, where DuckDB can touch no file
        try:
            cur.register("__text", text)
            text, names = cur.sql(_mapped(table, opts)).to_arrow_table(), _targets(table, opts)
        except duck.ENGINE_ERRORS as e:
            raise LoadFailed(f"{QUALITY_ERROR}: a column mapping cannot be computed: {duck.error_text(e)}") from None
        finally:
            cur.close()
    good, row_bad = _check_rows(table, text, names, opts, rows_text, lines)
    found = sorted(bad + row_bad, key=lambda b: b[0])
    return Parsed(good, text.num_rows + len(bad), [(row, reason) for _, row, reason in found])


def _check_rows(table: Table, text: pa.Table, names: list[str], opts: Options, rows_text: list[str] | None,
                lines: np.ndarray) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Every text row checked against the column types in DuckDB: the good rows, and the first bad ones named."""
    checks = []
    for n in names:
        c = table.column(n)
        q = duck.quote(n)
        conds = [f"({q} IS NOT NULL AND TRY_CAST({q} AS {duckdb_type(c.type)}) IS NULL)"]
        if not c.nullable:
            conds.append(f"{q} IS NULL")
        if c.type.startswith(("varchar", "char")):
            conds.append(f"coalesce(strlen({q}), 0) > {type_params(c.type)[0]}")  # bytes, as Doris counts
        checks.append(" OR ".join(conds) + f" AS {q}")
    if text.num_rows == 0:
        return text, []
    cur = duck.cursor()
    try:
        cur.register("__text", text)
        flags = cur.sql(f"SELECT {', '.join(checks)} FROM __text").to_arrow_table()
    finally:
        cur.close()
    bad_any = np.zeros(text.num_rows, dtype=bool)
    for n in names:
        bad_any |= flags.column(n).to_numpy(zero_copy_only=False).astype(bool)
    bad_rows = []
    for i in np.flatnonzero(bad_any)[:MAX_LOGGED_ROWS]:
        i = int(i)
        reasons = []
        for n in names:
            if flags.column(n)[i].as_py():
                c = table.column(n)
                value = text.column(n)[i].as_py()
                if value is None:
                    reasons.append(f"column {c.name} is NOT NULL but got NULL")
                elif c.type.startswith(("varchar", "char")):
                    reasons.append(f"column {c.name}: '{value}' is longer than {c.type}")
                else:
                    reasons.append(f"column {c.name}: '{value}' is not a valid {c.type.upper()}")
        if rows_text is not None:
            row = rows_text[i]
        else:
            row = opts.separator.join("\\N" if v is None else str(v) for v in text.slice(i, 1).to_pylist()[0].values())
        line = int(lines[i])
        bad_rows.append((line, f"line {line}: {row}", "; ".join(reasons)))
    # The good rows stay text: the load casts them in DuckDB, as the check did.
    return text.filter(pa.array(~bad_any)), bad_rows


# ---- the handler ------------------------------------------------------------------------------------------


def _answer(label: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"TxnId": extra.pop("TxnId", -1), "Label": label, "Comment": "", "TwoPhaseCommit": "false",
                           "Status": status, "Message": message}
    out.update(extra)
    return out


def _keep_error_log(lines: list[tuple[str, str]]) -> str:
    key = uuid.uuid4().hex
    ERROR_LOGS[key] = "\n".join(f"Reason: {reason}. src line [{row}];" for row, reason in lines) + "\n"
    while len(ERROR_LOGS) > MAX_ERROR_LOGS:
        ERROR_LOGS.popitem(last=False)
    return key


async def _chunks(content: Any, limits: Limits) -> AsyncIterator[bytes]:
    """The body as it arrives. The load holds its table until it ends, so a client that stops sending is
    given up on after `idle_s`, and any load at its `timeout` (Doris's header)."""
    while True:
        wait = min(limits.idle_s, limits.deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(content.readany(), max(wait, 0))
        except TimeoutError:
            if time.monotonic() >= limits.deadline:
                raise BodyTimedOut(f"[TIMEOUT]the load did not end within its timeout of {limits.timeout_s} s") \
                    from None
            raise BodyTimedOut(f"[TIMEOUT]no data received for {limits.idle_s:g} s: the load is given up") from None
        if not chunk:
            return
        yield chunk


async def _blocks(content: Any, block_bytes: int, limits: Limits) -> AsyncIterator[bytes | memoryview]:
    """The body in blocks of about `block_bytes`, each ending at a line end so that no CSV row or JSON line
    straddles two (CSV values never hold line ends: pyarrow's newlines_in_values is off)."""
    chunks: list[bytes] = []
    size = 0
    want = block_bytes
    async for chunk in _chunks(content, limits):
        chunks.append(chunk)
        size += len(chunk)
        if size < want:
            continue
        data = b"".join(chunks)
        end = data.rfind(b"\n") + 1
        if end == 0:  # one long line so far: look again a block later, not at every chunk
            chunks, want = [data], size + want
            continue
        rest = data[end:]
        chunks, size, want = ([rest], len(rest), block_bytes) if rest else ([], 0, block_bytes)
        yield memoryview(data)[:end]  # a view: the block is not copied
    if size:
        yield b"".join(chunks)


async def _array_blocks(content: Any, block_bytes: int, limits: Limits, splitter: JsonArraySplitter,
                        max_bytes: int) -> AsyncIterator[memoryview]:
    """One JSON array's complete elements, about `block_bytes` at a time, as JSON lines (one per element); a
    body over `max_bytes` (streaming_load_json_max_mb) fails the load as soon as it has sent that much."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in _chunks(content, limits):
        chunks.append(chunk)
        size += len(chunk)
        if splitter.offset + size > max_bytes:
            raise LoadFailed(json_too_big(max_bytes, splitter.offset + size))
        if size >= block_bytes:
            block = await asyncio.to_thread(_split, splitter, chunks, False)
            chunks, size = [], 0
            if block:
                yield block
    block = await asyncio.to_thread(_split, splitter, chunks, True)
    if block:
        yield block


def _split(splitter: JsonArraySplitter, chunks: list[bytes], last: bool) -> memoryview:
    try:
        block = splitter.feed(b"".join(chunks))
        if last:
            splitter.finish()
        return block
    except NotAJsonArray as e:
        raise LoadFailed(f"{QUALITY_ERROR}: {e}") from None


def json_too_big(max_bytes: int, size: int) -> str:
    """Doris's answer to a JSON body over streaming_load_json_max_mb (be/src/http/action/stream_load.cpp)."""
    return (f"[INTERNAL_ERROR]The size of this batch exceed the max size [{max_bytes}]  of json type data  data "
            f"[ {size} ]. Split the file, or use 'read_json_by_line'")


def json_max_bytes(fe: Any) -> int:
    """streaming_load_json_max_mb in bytes: ADMIN SET FRONTEND CONFIG's value, else fe.conf's."""
    text = fe.frontend_config.get("streaming_load_json_max_mb", fe.config.streaming_load_json_max_mb)
    try:
        return int(float(text) * (1 << 20))
    except ValueError:
        raise DorisError(f"streaming_load_json_max_mb must be a number of MB, got {text!r}") from None


@attrs.define
class Tally:
    """What the blocks parsed so far held: rows, filtered rows, the first bad ones, bytes."""

    total: int = 0
    loaded: int = 0
    bad: list[tuple[str, str]] = attrs.Factory(list)
    bytes: int = 0
    blocks: int = 0  # parsed
    lines: int = 0  # JSON lines parsed
    blank: bool = True  # nothing but white space so far

    @property
    def filtered(self) -> int:
        return self.total - self.loaded

    def add(self, parsed: Parsed) -> None:
        self.blocks += 1
        self.total += parsed.total
        self.loaded += parsed.data.num_rows
        self.bad.extend(parsed.bad[:MAX_LOGGED_ROWS - len(self.bad)])

    def count_lines(self, opts: Options, block: bytes | memoryview) -> None:
        if opts.format == "json":  # JSON lines are numbered by line, blank ones included
            self.lines += int(np.count_nonzero(np.frombuffer(block, np.uint8) == ord("\n")))  # no copy

    def log(self) -> list[tuple[str, str]]:
        more = self.filtered - len(self.bad)
        return [*self.bad, ("...", f"{more} more bad rows")] if more > 0 else self.bad


async def _load_block(table: Table, opts: Options, block: bytes | memoryview, load: Load, tally: Tally) -> None:
    # Rows are numbered as in one read of the whole body; the blocks before this one are all counted: CSV
    # numbers rows as pyarrow does (blank lines not counted), JSON lines number every line.
    if opts.format == "csv":
        first_line = 1 if tally.blocks == 0 else tally.total + opts.skip_lines + 1
    else:
        first_line = tally.lines + 1
    try:
        parsed = await asyncio.to_thread(parse, table, opts, pa.py_buffer(block), first_line)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise LoadFailed(f"{QUALITY_ERROR}: the data cannot be read as {opts.format}: {e}") from None
    tally.add(parsed)
    tally.count_lines(opts, block)
    if tally.filtered and opts.max_filter_ratio == 0:
        return  # the load fails: the rest is only parsed, to count the rows in the answer
    data = parsed.data
    if opts.merge != MergeOptions():
        data = await asyncio.to_thread(with_hidden, table, opts.merge, data)
    names = data.column_names
    await load.add(data, names, names)


async def _receive(request: web.Request, table: Table, opts: Options, load: Load, tally: Tally,
                   block_bytes: int, limits: Limits, json_max: int) -> None:
    """Parse and send each block while the next one arrives (one block in flight, so memory stays bounded)."""
    pending: asyncio.Future | None = None
    splitter = JsonArraySplitter() if opts.format == "json" and opts.strip_outer_array else None
    blocks = (_blocks(request.content, block_bytes, limits) if splitter is None
              else _array_blocks(request.content, block_bytes, limits, splitter, json_max))
    try:
        async for block in blocks:
            tally.bytes += len(block)
            if tally.blank:
                if _BLANK.fullmatch(block):  # no copy of the block
                    tally.count_lines(opts, block)
                    continue
                tally.blank = False
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(_load_block(table, opts, block, load, tally))
        if pending is not None:
            await pending
        if splitter is not None:  # the body, not the JSON lines it was made into
            tally.bytes, tally.blank = splitter.offset, tally.blank and not splitter.started
    finally:
        if pending is not None and not pending.done():  # a failed receive: let the block's threads finish
            await asyncio.gather(pending, return_exceptions=True)


# ---- redirect to a BE ---------------------------------------------------------------------------------


def redirects(request: web.Request) -> bool:
    """Whether this Stream Load is answered with a redirect to a BE: stream_load_redirect_to_be is on (ADMIN SET
    FRONTEND CONFIG's value, else fe.conf's) and the request did not come through a BE's relay."""
    fe = request.app["fe"]
    value = fe.frontend_config.get(REDIRECT_CONFIG)
    enabled = parse_bool(str(value)) if value is not None else fe.config.stream_load_redirect_to_be
    return enabled and not is_relayed(request.headers, fe.relay_token)


def _redirect(request: web.Request, user: Any) -> web.Response:
    """Doris's LoadAction: the user's LOAD privilege on the table checked, then 307 with a Location on an alive
    BE's HTTP port, the same path and query. The body is not read: the client sends it to the BE."""
    fe = request.app["fe"]
    label = request.headers.get("label", "")
    db_name, table_name = request.match_info["db"], request.match_info["table"]
    try:
        db = get_database(fe.catalog, db_name)
        table = get_table(fe.catalog, db, table_name)
        require_on_table(user, "LOAD_PRIV", db.name, table.name)
    except DorisError as e:
        return web.json_response(_answer(label, "Fail", f"errCode = 2, detailMessage = {e.detail}"))
    target = fe.backends.http_target()
    if target is None:
        return web.json_response(_answer(label, "Fail", NO_BACKEND))
    host, port = target
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    location = f"http://{netloc}{request.rel_url.raw_path_qs}"  # the relative path: never the client's host
    log.info("redirect stream load to destination=%s, db: %s, tbl: %s, label: %s", netloc, db_name, table_name,
             label)
    return web.Response(status=307, headers={"Location": location}, content_type="text/html", charset="utf-8")


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` (curl sends it for large bodies). A Stream Load the FE redirects, or refuses for its
    credentials, is answered at once, before the client sends a byte of its body, as Doris's FE does; any other
    is told to go on."""
    if redirects(request):
        return await stream_load(request)  # reads no body when it redirects
    await _default_expect_handler(request)
    return None


async def stream_load(request: web.Request) -> web.Response:
    fe = request.app["fe"]
    started = time.monotonic()
    label = request.headers.get("label", "")
    try:
        user, _ = authenticate(request, allow_cookie=False)
    except AuthFailed as e:
        return unauthorized(e)
    if redirects(request):
        return _redirect(request, user)
    db_name, table_name = request.match_info["db"], request.match_info["table"]
    try:
        opts = options(request.headers, int(fe.frontend_config.get("stream_load_default_timeout_second", 0)))
        limits = Limits(opts.timeout_s, float(fe.frontend_config.get("stream_load_idle_timeout_second",
                                                                      DEFAULT_IDLE_S)), started + opts.timeout_s)
        label = opts.label
        db = get_database(fe.catalog, db_name)
        table = get_table(fe.catalog, db, table_name)
        require_on_table(user, "LOAD_PRIV", db.name, table.name)
        check_merge(table, opts.merge)
        json_max = json_max_bytes(fe)
        if opts.format == "json" and opts.strip_outer_array and (request.content_length or 0) > json_max:
            raise LoadFailed(json_too_big(json_max, request.content_length or 0))  # as Doris: before reading it
        check_label(fe, db.id, label)  # before any of the body is read
        if opts.format == "csv" and opts.line_delimiter not in ("\n", "\r\n"):
            raise DorisError("line_delimiter other than \\n is not supported")
        read_start = time.monotonic()
        tally = Tally()
        async with Load(fe, db, table, opts.partitions, label, streaming=True) as load:
            await _receive(request, load.table, opts, load, tally, fe.config.stream_load_block_bytes, limits,
                           json_max)
            read_ms = int((time.monotonic() - read_start) * 1000)  # receiving, parsing, most of the writing
            if tally.blank:
                raise LoadFailed("all partitions have no load data: the request body is empty")
            error_url = None
            if tally.bad:
                key = _keep_error_log(tally.log())
                error_url = f"http://{_address(request)}/api/_load_error_log?file={key}"
            filtered = tally.filtered
            if filtered and (tally.total == 0 or filtered / tally.total > opts.max_filter_ratio):
                first_row, first_reason = tally.bad[0]
                raise LoadFailed(f"{QUALITY_ERROR}: {filtered} of {tally.total} rows filtered, more than "
                                 f"max_filter_ratio {opts.max_filter_ratio:g} allows; first bad row, {first_row}: "
                                 f"{first_reason}", error_url)
            if tally.loaded == 0:
                raise LoadFailed("all partitions have no load data", error_url)
            write_start = time.monotonic()
            outcome = await load.commit()
        done = time.monotonic()
        answer = _answer(
            label, "Success", "OK", TxnId=outcome.txn_id, NumberTotalRows=tally.total,
            NumberLoadedRows=outcome.rows, NumberFilteredRows=filtered, NumberUnselectedRows=0,
            LoadBytes=tally.bytes, LoadTimeMs=int((done - started) * 1000), BeginTxnTimeMs=0,
            StreamLoadPutTimeMs=0, ReadDataTimeMs=read_ms,
            WriteDataTimeMs=int((done - write_start) * 1000), CommitAndPublishTimeMs=0)
        if error_url:
            answer["ErrorURL"] = error_url
        return web.json_response(answer)
    except LoadFailed as e:
        extra = {"ErrorURL": e.error_log} if e.error_log else {}
        answer = _answer(label, "Fail", e.message, LoadTimeMs=int((time.monotonic() - started) * 1000), **extra)
        if isinstance(e, BodyTimedOut):
            return web.json_response(answer)
        return await _drained(request, answer)
    except LabelAlreadyUsed as e:
        return web.json_response(_answer(label, "Label Already Exists", f"errCode = 2, detailMessage = {e.detail}",
                                         ExistingJobStatus="FINISHED"))
    except DorisError as e:
        return await _drained(request, _answer(label, "Fail", f"errCode = 2, detailMessage = {e.detail}"))
    except ConnectionResetError:  # the client (or the BE relaying it) went away mid-body: the load is given up
        log.info("stream load into %s.%s given up: the client's connection was lost", db_name, table_name)
        return web.json_response(_answer(label, "Fail", "the connection was lost before the body ended"))
    except Exception:  # never a traceback, nor Python's text, to the client
        log.exception("stream load into %s.%s failed", db_name, table_name)
        message = "[INTERNAL_ERROR]the load failed unexpectedly; the FE's log has the details"  # not Python's text
        return await _drained(request, _answer(label, "Fail", message), 500)


async def _drained(request: web.Request, answer: dict[str, Any], status: int = 200) -> web.Response:
    """The answer to a load that failed before the end of its body: the rest is read and dropped first, so a
    client still sending gets the answer rather than a reset connection."""
    with contextlib.suppress(Exception):  # a client that stopped sending gets the answer after a while
        await asyncio.wait_for(request.release(), DRAIN_S)
    return web.json_response(answer, status=status)


async def load_error_log(request: web.Request) -> web.Response:
    text = ERROR_LOGS.get(request.query.get("file", ""))
    if text is None:
        return web.Response(status=404, text="no such error log\n")
    return web.Response(text=text)
