"""Databases, tables, partitions (with their tablets and replicas) and views, as journaled catalog objects.

A Table holds its schema and layout; each Partition is its own journal object, so a load commits the new
visible versions of the partitions it touched without rewriting the table. Tablets: one per partition and
bucket, each with `replication_num` replicas on distinct BEs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from doris_br.errors import ER_BAD_DB, ER_NO_SUCH_TABLE, DorisError
from doris_br.fe.catalog import Backend, Catalog, register_kind
from doris_br.fe.privileges import require_on_table
from doris_br.schema import Column, DistributionSpec, Index, PartitionDesc, min_key, normalise_key

DEFAULT_REPLICATION = 3
MERGE_ON_WRITE_PROPERTY = "enable_unique_key_merge_on_write"
SEQUENCE_COL_PROPERTY = "function_column.sequence_col"
SEQUENCE_TYPE_PROPERTY = "function_column.sequence_type"
DELETE_SIGN = "__DORIS_DELETE_SIGN__"
SEQUENCE_HIDDEN = "__DORIS_SEQUENCE_COL__"
DEFAULT_AUTO_BUCKETS = 10
NOT_ENOUGH_BACKENDS = (
    "Failed to find enough backend, please check the replication num,replication tag and storage medium and "
    "avail capacity of backends or maybe all be on this node are in decommission state.\n"
    "Create failed replications:\nreplication tag: {{\"location\" : \"default\"}}, replication num: {need}, "
    "storage medium: {medium}"
)


@register_kind
@attrs.frozen
class Database:
    KIND: ClassVar[str] = "databases"
    id: int
    name: str
    properties: dict[str, str] = attrs.field(factory=dict)
    create_time_ms: int = 0

    @property
    def key(self) -> str:
        return str(self.id)


@attrs.frozen
class Replica:
    id: int
    backend_id: int


@attrs.frozen
class Tablet:
    id: int
    replicas: tuple[Replica, ...]
    # Totals over the visible versions, recorded when a load commits (SHOW TABLETS, SHOW DATA).
    row_count: int = 0
    data_size: int = 0


@register_kind
@attrs.frozen
class Table:
    KIND: ClassVar[str] = "tables"
    OWNER: ClassVar[str] = "db_id"  # the catalog keeps each database's tables together (Catalog.owned)
    id: int
    db_id: int
    name: str
    columns: tuple[Column, ...]
    keys_type: str
    key_columns: tuple[str, ...]
    partition_kind: str  # RANGE, LIST or UNPARTITIONED
    partition_columns: tuple[str, ...]
    distribution: DistributionSpec
    properties: dict[str, str] = attrs.field(factory=dict)
    comment: str = ""
    index_id: int = 0
    schema_hash: int = 0
    auto_partition: bool = False
    auto_unit: str = ""
    create_time_ms: int = 0
    indexes: tuple[Index, ...] = ()  # INVERTED / NGRAM_BF / BITMAP, in creation order
    # Columns every row stores but SELECT and DESC never show: UNIQUE tables' delete sign (absent on tables
    # created before it existed, which then refuse batch deletes) and a sequence_type's hidden sequence column.
    hidden_columns: tuple[Column, ...] = ()

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """What each stored row holds: the visible columns, then the hidden ones."""
        return self.columns + self.hidden_columns

    @property
    def merge_on_write(self) -> bool:
        """UNIQUE tables created without the property (before it existed) are merge-on-read, as in Doris 2.0."""
        return self.keys_type == "UNIQUE_KEYS" and \
            self.properties.get(MERGE_ON_WRITE_PROPERTY, "false").lower() == "true"

    @property
    def has_delete_sign(self) -> bool:
        return any(c.name == DELETE_SIGN for c in self.hidden_columns)

    @property
    def sequence_column(self) -> str | None:
        """The column whose larger value wins among rows of one key (ties: the later load), if any."""
        if SEQUENCE_COL_PROPERTY in self.properties:
            return self.column(self.properties[SEQUENCE_COL_PROPERTY]).name
        if any(c.name == SEQUENCE_HIDDEN for c in self.hidden_columns):
            return SEQUENCE_HIDDEN
        return None

    @property
    def replication_num(self) -> int:
        return replication_num(self.properties)

    @property
    def buckets(self) -> int:
        return self.distribution.buckets or DEFAULT_AUTO_BUCKETS

    def column(self, name: str) -> Column:
        for c in self.stored_columns:
            if c.name.lower() == name.lower():
                return c
        raise DorisError(f"Unknown column '{name}' in '{self.name}'", 1054)


@register_kind
@attrs.frozen
class Partition:
    KIND: ClassVar[str] = "partitions"
    OWNER: ClassVar[str] = "table_id"
    id: int
    table_id: int
    name: str
    tablets: tuple[Tablet, ...]
    # Range: [lower, upper), None = the type's minimum / MAXVALUE. List: the value tuples; none = default.
    lower: tuple[str, ...] | None = None
    upper: tuple[str, ...] | None = None
    values: tuple[tuple[str, ...], ...] = ()
    temporary: bool = False
    visible_version: int = 1
    visible_version_time_ms: int = 0
    replication_num: int = DEFAULT_REPLICATION
    # A DELETE stored as a delete predicate reached this partition: its tablets' row counts (rows loaded) are
    # no longer the rows a query sees, so count(*) must scan.
    has_delete_predicates: bool = False
    storage_medium: str = "HDD"  # HDD or SSD: where its replicas are (fe/media.py)

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def row_count(self) -> int:
        return sum(t.row_count for t in self.tablets)

    @property
    def data_size(self) -> int:
        return sum(t.data_size * len(t.replicas) for t in self.tablets)


@register_kind
@attrs.frozen
class View:
    KIND: ClassVar[str] = "views"
    OWNER: ClassVar[str] = "db_id"
    id: int
    db_id: int
    name: str
    sql: str
    columns: tuple[str, ...] = ()
    comment: str = ""
    create_time_ms: int = 0
    # (name, Doris type) of the columns it shows, from CREATE VIEW (empty for views journaled before they were kept)
    column_types: tuple[tuple[str, str], ...] = ()
    # the column list's comments, one per name in `columns` ('' where none was given)
    column_comments: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return str(self.id)


@register_kind
@attrs.frozen
class LoadLabel:
    """A finished load's label, unique in its database; committed with the versions the load published."""

    KIND: ClassVar[str] = "load_labels"
    db_id: int
    label: str
    txn_id: int
    table_id: int
    rows: int
    finish_time_ms: int

    @property
    def key(self) -> str:
        return f"{self.db_id}/{self.label}"


def replication_num(properties: dict[str, str]) -> int:
    if "replication_num" in properties:
        return int(properties["replication_num"])
    allocation = properties.get("replication_allocation")
    if allocation:
        found = re.search(r":\s*(\d+)", allocation)
        if found:
            return int(found.group(1))
    return DEFAULT_REPLICATION


# ---- lookups -----------------------------------------------------------------------------------------------


def find_database(catalog: Catalog, name: str) -> Database | None:
    return next((d for d in catalog.all(Database) if d.name == name), None)


def get_database(catalog: Catalog, name: str | None) -> Database:
    if not name:
        raise DorisError("No database selected", 1046)
    db = find_database(catalog, name)
    if db is None:
        raise DorisError(f"Unknown database '{name}'", ER_BAD_DB)
    return db


def session_database(session: Any, name: str | None) -> Database:
    """The named database, or the session's current one when the statement names none."""
    return get_database(session.fe.catalog, name or session.database)


def session_table(session: Any, qualified: tuple[str | None, str], needs: str | None = None) -> tuple[Database, Table]:
    """A statement's `[db.]table`: the database (named or current) and the table, or Doris's errors.

    `needs`: the privilege the statement needs on the table, checked (as Doris does) before the table is looked
    up, so one without it is not told whether the table exists."""
    db_name, name = qualified
    db = session_database(session, db_name)
    if needs is not None:
        require_on_table(session.user, needs, db.name, name)
    return db, get_table(session.fe.catalog, db, name)


def tables_of(catalog: Catalog, db: Database) -> list[Table]:
    return sorted(catalog.owned(Table, db.id), key=lambda t: t.name)


def views_of(catalog: Catalog, db: Database) -> list[View]:
    return sorted(catalog.owned(View, db.id), key=lambda v: v.name)


def find_table(catalog: Catalog, db: Database, name: str) -> Table | None:
    return next((t for t in catalog.owned(Table, db.id) if t.name == name), None)


def find_view(catalog: Catalog, db: Database, name: str) -> View | None:
    return next((v for v in catalog.owned(View, db.id) if v.name == name), None)


def table_not_found(name: str, db_name: str) -> DorisError:
    """Nereids' error for a table a query or DESCRIBE names that is not there: 1105, not MySQL's 1146, and
    SQLAlchemy's Doris dialects read it as "the table is absent" (has_table, create_all, pandas to_sql)."""
    return DorisError(f"Table [{name}] does not exist in database [{db_name}].")


def describe_table_not_found(name: str, db_name: str) -> DorisError:
    """DESCRIBE's and SHOW COLUMNS' error for a missing table: Doris's ERR_UNKNOWN_TABLE text, sent as 1105.
    sqlalchemy-doris's has_table runs DESCRIBE and reads a 1105 whose detail starts `Unknown table` as "absent"."""
    return DorisError(f"Unknown table '{name}' in {db_name}")


def get_table(catalog: Catalog, db: Database, name: str) -> Table:
    table = find_table(catalog, db, name)
    if table is None:
        raise DorisError(f"Unknown table '{name}'", ER_NO_SUCH_TABLE)
    return table


def partitions_of(catalog: Catalog, table: Table, temporary: bool = False) -> list[Partition]:
    parts = [p for p in catalog.owned(Partition, table.id) if p.temporary == temporary]
    return sorted(parts, key=_partition_order(table))


def partitions_by_table(catalog: Catalog, tables: Iterable[Table]) -> dict[int, list[Partition]]:
    """partitions_of for many tables (information_schema lists them all), by table id."""
    return {t.id: partitions_of(catalog, t) for t in tables}


def find_tablet(catalog: Catalog, tablet_id: int) -> tuple[Partition, int, Tablet] | None:
    """The tablet's partition, its place (bucket) in it, and the tablet."""
    for p in catalog.all(Partition):
        for order, t in enumerate(p.tablets):
            if t.id == tablet_id:
                return p, order, t
    return None


def replicas_by_backend(partitions: Iterable[Partition]) -> dict[int, list[tuple[int, Partition]]]:
    """(tablet id, its partition) of every replica of these partitions, by backend."""
    by_backend: dict[int, list[tuple[int, Partition]]] = {}
    for p in partitions:
        for t in p.tablets:
            for r in t.replicas:
                by_backend.setdefault(r.backend_id, []).append((t.id, p))
    return by_backend


def _partition_order(table: Table):  # type: ignore[no-untyped-def]
    """Range partitions by lower bound (MIN first), others by id (creation order)."""

    def order(p: Partition) -> tuple:
        if table.partition_kind == "RANGE":
            return (p.lower is not None, sortable_key(table, p.lower or ()), p.id)
        return ((), (), p.id)

    return order


def sortable_key(table: Table, key: tuple[str, ...]) -> tuple:
    out: list = []
    for name, value in zip(table.partition_columns, key, strict=False):
        base = table.column(name).type.split("(")[0]
        out.append(int(value) if base in ("tinyint", "smallint", "int", "bigint", "largeint") else value)
    return tuple(out)


# ---- placement ---------------------------------------------------------------------------------------------


def place_tablets(alive: list[Backend], buckets: int, replication: int, first_id: int, salt: int) -> list[Tablet]:
    """`buckets` tablets with ids from first_id, each with `replication` replicas on distinct alive BEs.

    Replicas rotate over the BEs so tablets spread evenly; `salt` shifts the start per partition.
    """
    if replication < 1:
        raise DorisError("replication num should be larger than 0")
    if len(alive) < replication:
        raise DorisError(NOT_ENOUGH_BACKENDS.format(need=replication, medium="HDD"))
    ordered = sorted(alive, key=lambda b: b.id)
    next_id = first_id
    tablets = []
    for bucket in range(buckets):
        tablet_id = next_id
        replicas = []
        for r in range(replication):
            replicas.append(Replica(id=next_id + 1 + r, backend_id=ordered[(salt + bucket + r) % len(ordered)].id))
        next_id += 1 + replication
        tablets.append(Tablet(id=tablet_id, replicas=tuple(replicas)))
    return tablets


def ids_per_partition(buckets: int, replication: int) -> int:
    """Ids one partition needs: itself, its tablets and their replicas."""
    return 1 + buckets * (1 + replication)


# ---- partition bounds --------------------------------------------------------------------------------------


def _step(value: str, type_text: str, step: int, unit: str) -> str:
    base = type_text.split("(")[0]
    if base in ("date", "datetime"):
        day = dt.datetime.fromisoformat(value)
        if unit == "YEAR":
            nxt = day.replace(year=day.year + step)
        elif unit == "MONTH":
            months = day.month - 1 + step
            nxt = day.replace(year=day.year + months // 12, month=months % 12 + 1)
        elif unit == "WEEK":
            nxt = day + dt.timedelta(weeks=step)
        elif unit == "HOUR":
            nxt = day + dt.timedelta(hours=step)
        else:
            nxt = day + dt.timedelta(days=step)
        return normalise_key(type_text, nxt.isoformat(sep=" "))
    return str(int(value) + step)


def _step_name(value: str, type_text: str, unit: str) -> str:
    """Doris's names for FROM .. TO .. INTERVAL partitions: p_2020, p_202001, p_20200101, p_1."""
    if type_text.split("(")[0] not in ("date", "datetime"):
        return f"p_{value}"
    digits = value.replace("-", "").replace(" ", "").replace(":", "")
    length = {"YEAR": 4, "MONTH": 6, "HOUR": 10}.get(unit, 8)
    return f"p_{digits[:length]}"


def resolve_partitions(table: Table, descs: tuple[PartitionDesc, ...] | list[PartitionDesc],
                       previous_upper: tuple[str, ...] | None = None) -> list[PartitionDesc]:
    """Bounds as stored: LESS THAN filled in from the previous partition, FROM .. TO expanded, keys normalised."""
    types = [table.column(c).type for c in table.partition_columns]

    def norm(key: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if key is None:
            return None
        try:
            out = tuple(normalise_key(t, v) for t, v in zip(types, key, strict=False))
        except ValueError as e:
            raise DorisError(str(e)) from None
        # A lower bound at the type's minimum is no bound at all (and dates like 0000-01-01 do not cast).
        return None if out == tuple(min_key(t) for t in types[:len(out)]) else out

    out: list[PartitionDesc] = []
    last_upper = previous_upper
    for d in descs:
        if d.interval is not None:
            step, unit = d.interval
            lower, upper = norm(d.lower), norm(d.upper)
            assert lower is not None and upper is not None
            current = lower[0]
            while sortable_key(table, (current,)) < sortable_key(table, upper):
                nxt = _step(current, types[0], step, unit)
                out.append(PartitionDesc(name=_step_name(current, types[0], unit), lower=(current,), upper=(nxt,)))
                current = nxt
            last_upper = out[-1].upper if out else last_upper
        elif table.partition_kind == "RANGE":
            lower = last_upper if d.upper_only else norm(d.lower)
            upper = norm(d.upper)
            if upper is not None and lower is not None and sortable_key(table, upper) <= sortable_key(table, lower):
                raise DorisError(f"The lower values must smaller than upper values in partition {d.name}")
            out.append(attrs.evolve(d, lower=lower, upper=upper, upper_only=False))
            last_upper = upper
        else:
            out.append(attrs.evolve(d, values=tuple(norm(v) or () for v in d.values)))
    check_overlaps(table, out)
    return out


def check_overlaps(table: Table, descs: list[PartitionDesc]) -> None:
    names = [d.name for d in descs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DorisError(f"Duplicate partition name {sorted(dup)[0]}")
    if table.partition_kind != "RANGE":
        return
    spans = sorted(descs, key=lambda d: (d.lower is not None, sortable_key(table, d.lower or ())))
    for a, b in zip(spans, spans[1:], strict=False):
        if a.upper is None or (b.lower is None) or sortable_key(table, a.upper) > sortable_key(table, b.lower):
            raise DorisError(f"Range {b.name} is intersected with range {a.name}")
