"""AUTO_INCREMENT columns: ids allocated by the FE in batches, never handed out twice, also across restarts.

Each table with an AUTO_INCREMENT column has an AutoIncrement object in the journal holding the high-water
mark: every id below `reserved` may have been handed out. A load takes ids from the batch held in memory; when
it runs out, the next batch is journaled (`reserved` raised) before any id of it is handed out. A restarted FE
starts over at `reserved`, so ids are unique and increase within a batch, but are not dense (Doris's ids are
"unique, not guaranteed continuous" too).

A restore carries the mark in the snapshot's meta (Doris's backup meta holds the table's auto-increment
state) and raises the table's mark to it, never lowers it (`raise_to`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from doris_br.fe.catalog import Catalog, register_kind
from doris_br.schema import Column

# Ids journaled at once: one disk sync per this many ids, at most this many skipped by a restart.
BATCH = 100_000


@register_kind
@attrs.frozen
class AutoIncrement:
    KIND: ClassVar[str] = "auto_increments"
    table_id: int
    reserved: int  # no id at or above this has been handed out

    @property
    def key(self) -> str:
        return str(self.table_id)


@attrs.define
class _Batch:
    next_id: int
    end: int  # exclusive; journaled as the table's `reserved`


_BATCHES: dict[int, _Batch] = {}  # table id -> ids held in memory


def column_of(columns: tuple[Column, ...]) -> Column | None:
    return next((c for c in columns if c.auto_increment), None)


def next_id(catalog: Catalog, table_id: int, column: Column) -> int:
    """The id the table's next row would get: what SHOW / a backup records as its counter."""
    batch = _BATCHES.get(table_id)
    if batch is not None:
        return batch.next_id
    mark = catalog.get(AutoIncrement, str(table_id))
    return max(column.auto_increment_start, mark.reserved if mark else 0)


def allocate(catalog: Catalog, table_id: int, column: Column, count: int) -> int:
    """The first of `count` consecutive new ids. Runs on the event loop without awaiting, so two loads never
    take the same batch; a new batch is journaled before its ids are handed out."""
    batch = _BATCHES.get(table_id)
    if batch is None or batch.end - batch.next_id < count:
        start = next_id(catalog, table_id, column)
        end = start + max(count, BATCH)
        catalog.commit([AutoIncrement(table_id=table_id, reserved=end)])
        batch = _BATCHES[table_id] = _Batch(next_id=start, end=end)
    first = batch.next_id
    batch.next_id += count
    return first


def raise_to(catalog: Catalog, table_id: int, counter: int) -> list[AutoIncrement]:
    """The journal object that makes the table's next id at least `counter` (a restore's), or none if it is
    already; the caller commits it. Memory follows at once: the batch held is dropped when it is lower."""
    mark = catalog.get(AutoIncrement, str(table_id))
    batch = _BATCHES.get(table_id)
    if batch is not None and batch.next_id < counter:
        del _BATCHES[table_id]
    if mark is not None and mark.reserved >= counter:
        return []
    return [AutoIncrement(table_id=table_id, reserved=counter)]


def marks_of(catalog: Catalog, tables: list[Any]) -> list[AutoIncrement]:
    """The journal objects of these tables' counters (deleted with the tables)."""
    marks = [catalog.get(AutoIncrement, str(t.id)) for t in tables]
    return [m for m in marks if m is not None]


def forget(table_id: int) -> None:
    """A dropped table's (or one whose mark a restore replaced) batch in memory."""
    _BATCHES.pop(table_id, None)


def missing(data: pa.Table, source_columns: list[str], columns: list[str], column: Column) -> int:
    """How many rows of a block need an id: all when the load does not give the column, else its NULLs."""
    target = [c.lower() for c in columns]
    if column.name.lower() not in target:
        return data.num_rows
    return data.column(source_columns[target.index(column.name.lower())]).null_count


def fill(data: pa.Table, source_columns: list[str], columns: list[str], column: Column,
         first: int) -> tuple[pa.Table, list[str], list[str]]:
    """The block with ids from `first` on where the column is missing or NULL (explicit values are kept)."""
    target = [c.lower() for c in columns]
    if column.name.lower() not in target:
        ids = pa.array(np.arange(first, first + data.num_rows, dtype=np.int64))
        name = "__auto_increment"
        return data.append_column(name, ids), [*source_columns, name], [*columns, column.name]
    source = source_columns[target.index(column.name.lower())]
    values = data.column(source).combine_chunks()
    if not values.null_count:
        return data, source_columns, columns
    is_null = values.is_null()
    # The n-th NULL gets first + n.
    ids = pc.add(pc.subtract(pc.cumulative_sum(is_null.cast(pa.int64())), 1), first)
    if pa.types.is_null(values.type):
        filled = ids
    else:
        filled = pc.if_else(is_null, ids.cast(values.type), values)
    index = data.column_names.index(source)
    return data.set_column(index, source, filled), source_columns, columns
