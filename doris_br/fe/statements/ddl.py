"""CREATE / DROP DATABASE, CREATE / DROP TABLE and VIEW, ALTER TABLE (partitions, rename), TRUNCATE."""

from __future__ import annotations

from typing import Any

import attrs

from doris_br.clock import now_ms
from doris_br.errors import ER_BAD_TABLE, ER_DB_CREATE_EXISTS, ER_DB_DROP_EXISTS, ER_TABLE_EXISTS, DorisError
from doris_br.fe import auto_increment, ctas, dynamic_partitions
from doris_br.fe import query as queries
from doris_br.fe.indexes import check_bloom_properties, check_table_indexes, stored
from doris_br.fe.load import Fresh, Load, table_lock
from doris_br.fe.media import check_table_properties, kept_medium
from doris_br.fe.migrate import modify_partitions
from doris_br.fe.olap import (
    DELETE_SIGN,
    MERGE_ON_WRITE_PROPERTY,
    SEQUENCE_COL_PROPERTY,
    SEQUENCE_HIDDEN,
    SEQUENCE_TYPE_PROPERTY,
    Database,
    LoadLabel,
    Table,
    View,
    check_overlaps,
    find_database,
    find_table,
    find_view,
    get_table,
    partitions_of,
    resolve_partitions,
    session_database,
    session_table,
    sortable_key,
    tables_of,
    views_of,
)
from doris_br.fe.placement import create_partitions, drop_tablets
from doris_br.fe.privileges import require_on_db, require_on_table
from doris_br.fe.statements import handles
from doris_br.names import check_column_name, check_database_name, check_partition_name, check_table_name
from doris_br.schema import Column, DistributionSpec, PartitionDesc, TableSpec, base_type, canonical_type, type_params
from doris_br.sql.ddl import (
    AlterTable,
    CreateDatabase,
    CreateTable,
    DropDatabase,
    DropTable,
    TruncateTable,
)

ER_UNKNOWN_TABLE = 1109


# ---- databases ---------------------------------------------------------------------------------------------


@handles(CreateDatabase)
async def create_database(session: Any, node: CreateDatabase) -> None:
    name = node.name
    require_on_db(session.user, name, "CREATE_PRIV")
    catalog = session.fe.catalog
    if name.lower() == "information_schema" or find_database(catalog, name) is not None \
            or session.fe.jobs.restore_creating_database(name) is not None:
        if node.args.get("if_not_exists"):
            return
        raise DorisError(f"Can't create database '{name}'; database exists", ER_DB_CREATE_EXISTS)
    check_database_name(name)
    catalog.commit([Database(id=catalog.allocate_ids(), name=name, properties=node.args.get("properties") or {},
                             create_time_ms=now_ms())])


@handles(DropDatabase)
async def drop_database(session: Any, node: DropDatabase) -> None:
    name = node.name
    catalog = session.fe.catalog
    require_on_db(session.user, name, "DROP_PRIV")  # first, as Doris: existence is not told to just anyone
    db = find_database(catalog, name)
    if db is None:
        if node.args.get("if_exists"):
            return
        raise DorisError(f"Can't drop database '{name}'; database doesn't exist", ER_DB_DROP_EXISTS)
    tables = tables_of(catalog, db)
    session.fe.jobs.refuse_ddl(tables, "DROP DATABASE", force=bool(node.args.get("force")))
    partitions = [p for t in tables for p in partitions_of(catalog, t) + partitions_of(catalog, t, True)]
    labels = [label for label in catalog.all(LoadLabel) if label.db_id == db.id]
    catalog.commit(deletes=[*partitions, *tables, *views_of(catalog, db), *labels, db,
                            *auto_increment.marks_of(catalog, tables)])
    await drop_tablets(session.fe, partitions)


# ---- tables ------------------------------------------------------------------------------------------------


# Doris's short key: at most 3 columns and 36 bytes of index (FeConstants.shortkey_*).
SHORT_KEY_COLUMNS = 3
SHORT_KEY_BYTES = 36
NO_DEFAULT_KEY = ("The olap table first column could not be float, double, string or array, struct, map, please use "
                  "decimal or varchar instead.")


def _index_size(type_text: str) -> int:
    """The bytes a key column takes in Doris's short key index (PrimitiveType.getOlapColumnIndexSize)."""
    base, params = base_type(type_text), type_params(type_text)
    if base == "char":
        return params[0]
    if base == "decimal":
        return 4 if params[0] <= 9 else 8 if params[0] <= 18 else 16
    return {"boolean": 1, "tinyint": 1, "smallint": 2, "int": 4, "bigint": 8, "largeint": 16, "float": 4,
            "double": 8, "date": 4, "datetime": 8, "varchar": 20, "string": 20}[base]


def _default_keys(columns: tuple[Column, ...]) -> tuple[str, ...]:
    """Doris's default DUPLICATE KEY (CreateTableInfo.validate): a prefix within the short key's limits, stopping
    before a float, double or string column and after the first varchar; a first string-like column too big
    for the limits is the key alone."""
    keys: list[str] = []
    length = 0
    for c in columns:
        base = base_type(c.type)
        length += _index_size(c.type)
        if len(keys) >= SHORT_KEY_COLUMNS or length > SHORT_KEY_BYTES:
            if not keys and base in ("char", "varchar", "string"):
                keys.append(c.name)
            break
        if base in ("float", "double", "string"):
            break
        keys.append(c.name)
        if base == "varchar":
            break
    if not keys:
        raise DorisError(NO_DEFAULT_KEY)
    return tuple(keys)


def _check_partition_names(descs: tuple[PartitionDesc, ...] | list[PartitionDesc]) -> None:
    """Partitions named in the statement (FROM .. TO .. INTERVAL names its own)."""
    for d in descs:
        if d.interval is None:
            check_partition_name(d.name)


def _check_spec(name: str, spec: TableSpec) -> TableSpec:
    """Fill in what CREATE TABLE may leave out, and refuse what Doris refuses."""
    columns = spec.columns
    for c in columns:
        check_column_name(c.name)
    _check_partition_names(spec.partition.partitions)
    names = [c.name.lower() for c in columns]
    if not columns:
        raise DorisError("Table should contain at least one column")
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DorisError(f"Duplicate column name '{sorted(dup)[0]}'", 1060)
    keys_type, keys = spec.keys_type, spec.key_columns
    if not keys_type:
        if any(c.aggregation for c in columns):
            keys_type, keys = "AGG_KEYS", tuple(c.name for c in columns if not c.aggregation)
        else:
            keys_type, keys = "DUP_KEYS", _default_keys(columns)
    for k in keys:
        if k.lower() not in names:
            raise DorisError(f"Key column[{k}] doesn't exist.")
    if [n.lower() for n in keys] != names[:len(keys)]:
        raise DorisError("Key columns should be a ordered prefix of the schema. KeyColumns[" +
                         ", ".join(keys) + "] (starts from zero) is: " + names[len(keys) - 1 if keys else 0])
    key_set = {k.lower() for k in keys}
    out = []
    for c in columns:
        is_key = c.name.lower() in key_set
        if is_key and c.aggregation:
            raise DorisError(f"Key column {c.name} can not set aggregation type")
        if not is_key and keys_type == "AGG_KEYS" and not c.aggregation:
            raise DorisError(f"Aggregate type of column {c.name} must be set in AGGREGATE KEY table")
        if not is_key and keys_type != "AGG_KEYS" and c.aggregation:
            kind = "DUPLICATE" if keys_type == "DUP_KEYS" else "UNIQUE"
            raise DorisError(f"Column {c.name} in {kind} KEY table can not set aggregation type")
        out.append(attrs.evolve(c, is_key=is_key, name=c.name))
    keys = tuple(next(c.name for c in out if c.name.lower() == k.lower()) for k in keys)
    _check_auto_increment(out, keys_type)
    for c in spec.partition.columns:
        if c.lower() not in names:
            raise DorisError(f"Partition column[{c}] does not exist in column list.")
        if keys_type != "DUP_KEYS" and c.lower() not in key_set:
            raise DorisError("The partition column could not be aggregated column")
    dist = spec.distribution
    if dist is None:
        dist = DistributionSpec("RANDOM", (), 0, True) if keys_type == "DUP_KEYS" else \
            DistributionSpec("HASH", (keys[0],), 0, True)
    for c in dist.columns:
        if c.lower() not in names:
            raise DorisError(f"Distribution column[{c}] is not found in table[{name}]")
        if keys_type != "DUP_KEYS" and c.lower() not in key_set:
            raise DorisError(f"Distribution column[{c}] is not key column")
    if dist.kind == "RANDOM" and keys_type == "UNIQUE_KEYS":
        raise DorisError("Random distribution for unique key table is unsupported")
    if not dist.auto and dist.buckets <= 0:
        raise DorisError("Number of hash distribution should be greater than zero.")
    check_table_indexes(spec.indexes, tuple(out), keys_type)
    props = check_bloom_properties(spec.properties, tuple(out), keys_type, spec.indexes)
    props = check_table_properties(props)
    _check_unique_properties(keys_type, names, props)
    replication = props.pop("replication_num", None)
    if replication is not None:
        if not replication.isdigit() or int(replication) < 1:
            raise DorisError(f"Invalid replication_num: {replication}")
        props["replication_allocation"] = f"tag.location.default: {int(replication)}"
    return attrs.evolve(spec, columns=tuple(out), keys_type=keys_type, key_columns=keys, distribution=dist,
                        properties=props)


def _check_unique_properties(keys_type: str, names: list[str], props: dict[str, str]) -> None:
    """Merge-on-write (default "true" on new UNIQUE tables, as since Doris 2.1) and sequence columns: UNIQUE only."""
    mow = props.get(MERGE_ON_WRITE_PROPERTY)
    if mow is not None:
        if keys_type != "UNIQUE_KEYS":
            raise DorisError("enable_unique_key_merge_on_write property only support unique key table")
        if mow.lower() not in ("true", "false"):
            raise DorisError(f"Invalid enable_unique_key_merge_on_write property value: {mow}")
        props[MERGE_ON_WRITE_PROPERTY] = mow.lower()
    elif keys_type == "UNIQUE_KEYS":
        props[MERGE_ON_WRITE_PROPERTY] = "true"
    mapped, typed = props.get(SEQUENCE_COL_PROPERTY), props.get(SEQUENCE_TYPE_PROPERTY)
    if (mapped is not None or typed is not None) and keys_type != "UNIQUE_KEYS":
        raise DorisError("sequence column only support UNIQUE_KEYS")
    if mapped is not None and mapped.lower() not in names:
        raise DorisError(f"The specified sequence column[{mapped}] not exists")
    if typed is not None and typed.lower() not in SEQUENCE_TYPES:
        raise DorisError("sequence type only support integer types and date types")


# What a sequence_type may be: integers, dates and datetimes (Doris's PropertyAnalyzer.analyzeSequenceType).
SEQUENCE_TYPES = ("tinyint", "smallint", "int", "bigint", "largeint", "date", "datetime", "datev2", "datetimev2")


def hidden_columns(spec: TableSpec) -> tuple[Column, ...]:
    """The delete sign on every new UNIQUE table, and the hidden sequence column of a sequence_type."""
    if spec.keys_type != "UNIQUE_KEYS":
        return ()
    hidden = [Column(name=DELETE_SIGN, type="tinyint", nullable=False, default="0")]
    typed = spec.properties.get(SEQUENCE_TYPE_PROPERTY)
    if typed is not None and SEQUENCE_COL_PROPERTY not in spec.properties:
        hidden.append(Column(name=SEQUENCE_HIDDEN, type=canonical_type(typed.removesuffix("v2"), [])))
    return tuple(hidden)


def _new_table(session: Any, db: Database, name: str, spec: TableSpec) -> Table:
    """The Table a checked spec describes, with fresh ids; not yet committed."""
    first = session.fe.catalog.allocate_ids(2)
    return Table(
        id=first, db_id=db.id, name=name, columns=spec.columns, keys_type=spec.keys_type,
        key_columns=spec.key_columns, partition_kind=spec.partition.kind, partition_columns=spec.partition.columns,
        distribution=spec.distribution or DistributionSpec(), properties=spec.properties, comment=spec.comment,
        index_id=first + 1, schema_hash=abs(hash((name, first))) % 2_000_000_000, auto_partition=spec.partition.auto,
        auto_unit=spec.partition.auto_unit, create_time_ms=now_ms(), hidden_columns=hidden_columns(spec),
        indexes=tuple(stored(i, session.fe.catalog.allocate_ids(), spec.columns) for i in spec.indexes),
    )


def _check_auto_increment(columns: list[Column], keys_type: str) -> None:
    """Doris's rules for AUTO_INCREMENT columns (ColumnDefinition.validate), in its words."""
    auto = [c for c in columns if c.auto_increment]
    if not auto:
        return
    if len(auto) > 1:
        raise DorisError("there can be at most one auto increment column in OlapTable.")
    column = auto[0]
    if column.nullable:
        raise DorisError("the auto increment column should be NOT NULL.")
    if column.default is not None:
        raise DorisError("the auto increment column can't have default value.")
    if column.type != "bigint":
        raise DorisError("the auto increment must be BIGINT type.")
    if keys_type == "AGG_KEYS":
        raise DorisError("the auto increment is only supported in duplicate table and unique table.")


async def _create(session: Any, db: Database, name: str, spec: TableSpec,
                  descs: list[PartitionDesc] | None = None) -> None:
    """Build the table and its partitions (descs as stored, or from the spec) and commit them together."""
    catalog = session.fe.catalog
    table = _new_table(session, db, name, spec)
    table = attrs.evolve(table, properties=dynamic_partitions.analyze(
        dynamic_partitions.shape_of(table), {}, table.properties, len(session.fe.backends.alive()),
        session.fe.dynamic_partitions.max_partitions()))
    if descs is None:
        if table.partition_kind == "UNPARTITIONED":
            descs = [PartitionDesc(name=name)]
        else:
            descs = resolve_partitions(table, spec.partition.partitions)
    partitions = await create_partitions(session.fe, table, descs)
    if name_taken(session, db, name):  # created meanwhile by another session, or a restore of it accepted
        await drop_tablets(session.fe, partitions)
        raise DorisError(f"Table '{name}' already exists", ER_TABLE_EXISTS)
    catalog.commit([table, *partitions])
    if dynamic_partitions.DynamicPartition.of(table.properties) is not None:
        await session.fe.dynamic_partitions.schedule(table.id)  # as Doris: the partitions exist once CREATE answers


def name_taken(session: Any, db: Database, name: str, replaceable: View | None = None) -> bool:
    """A table, a view other than `replaceable` (CREATE OR REPLACE VIEW's), or one a running restore will create
    (Doris has registered it by then)."""
    catalog = session.fe.catalog
    view = find_view(catalog, db, name)
    return find_table(catalog, db, name) is not None or (view is not None and view != replaceable) \
        or session.fe.jobs.restore_creating(db.id, name) is not None


@handles(CreateTable)
async def create_table(session: Any, node: CreateTable) -> None:
    db_name, name = node.this
    db = session_database(session, db_name)
    require_on_table(session.user, "CREATE_PRIV", db.name, name)
    if name_taken(session, db, name):
        if node.args.get("if_not_exists"):
            return
        raise DorisError(f"Table '{name}' already exists", ER_TABLE_EXISTS)
    check_table_name(name)
    like = node.args.get("like")
    if like is not None:
        src_db, source = session_table(session, like, needs="SELECT_PRIV")
        spec = TableSpec(columns=source.columns, keys_type=source.keys_type, key_columns=source.key_columns,
                         distribution=source.distribution, properties=dict(source.properties),
                         comment=source.comment, indexes=source.indexes)
        spec = attrs.evolve(spec, partition=attrs.evolve(spec.partition, kind=source.partition_kind,
                                                         columns=source.partition_columns,
                                                         auto=source.auto_partition, auto_unit=source.auto_unit))
        descs = [PartitionDesc(name=name if source.partition_kind == "UNPARTITIONED" else p.name, lower=p.lower,
                               upper=p.upper, values=p.values)
                 for p in partitions_of(session.fe.catalog, source)]
        await _create(session, db, name, spec, descs)
        return
    spec = node.args["spec"]
    if spec.engine != "olap":
        raise DorisError(f"Unknown engine name: {spec.engine}")
    if node.args.get("query") is not None:
        await _create_as_select(session, db, name, node)
        return
    await _create(session, db, name, _check_spec(name, spec))


async def _create_as_select(session: Any, db: Database, name: str, node: CreateTable) -> None:
    """CREATE TABLE ... AS SELECT: the query runs first (one that fails creates nothing), then its rows are
    loaded into the new table's tablets, and the table becomes visible with them in one commit."""
    spec: TableSpec = node.args["spec"]
    if spec.columns:
        raise DorisError("Should not define the entire column in CTAS")
    data = queries.narrowed(await queries.execute_query(session, node.args["query"]))
    columns = ctas.result_columns(session, node.args["query"], data, tuple(node.args.get("ctas_columns") or ()))
    # Doris's CTAS default distribution, "hard coded 10 to be consistent with legacy planner".
    distribution = spec.distribution or DistributionSpec("HASH", (columns[0].name,), 10, False)
    spec = _check_spec(name, attrs.evolve(spec, columns=columns, distribution=distribution))
    table = _new_table(session, db, name, spec)
    descs = [PartitionDesc(name=name)] if table.partition_kind == "UNPARTITIONED" else \
        resolve_partitions(table, spec.partition.partitions)
    fresh = Fresh(await create_partitions(session.fe, table, descs), new_table=True)
    names = data.column_names
    async with Load(session.fe, db, table, fresh=fresh) as load:
        await load.add(data, names, [c.name for c in columns])
        await load.commit()


@handles(DropTable)
async def drop_table(session: Any, node: DropTable) -> None:
    db_name, name = node.this
    db = session_database(session, db_name)
    require_on_table(session.user, "DROP_PRIV", db.name, name)  # first: existence is not told to just anyone
    catalog = session.fe.catalog
    view = find_view(catalog, db, name)
    table = find_table(catalog, db, name)
    if node.args.get("view") and view is None and table is not None:
        raise DorisError(f"'{db.name}.{name}' is not VIEW")
    if view is not None and (node.args.get("view") or table is None):
        catalog.commit(deletes=[view])
        return
    if table is None:
        if node.args.get("if_exists"):
            return
        raise DorisError(f"Unknown table '{name}' in {db.name}", ER_UNKNOWN_TABLE)
    force = bool(node.args.get("force"))
    session.fe.jobs.refuse_ddl([table], "DROP TABLE", force)
    async with table_lock(table.id):
        session.fe.jobs.refuse_ddl([table], "DROP TABLE", force)  # a restore accepted while this waited
        partitions = partitions_of(catalog, table) + partitions_of(catalog, table, temporary=True)
        catalog.commit(deletes=[*partitions, table, *auto_increment.marks_of(catalog, [table])])
        auto_increment.forget(table.id)
    await drop_tablets(session.fe, partitions)


# ---- ALTER TABLE, TRUNCATE -----------------------------------------------------------------------------


@handles(AlterTable)
async def alter_table(session: Any, node: AlterTable) -> None:
    db, table = session_table(session, node.this, needs="ALTER_PRIV")
    name, catalog = table.name, session.fe.catalog
    session.fe.jobs.refuse_ddl([table], "ALTER TABLE")
    action = node.args["action"]
    if action == "REPLACE":
        await _replace_table(session, db, table, node)
        return
    temporary = bool(node.args.get("temporary"))
    async with table_lock(table.id):
        table = get_table(catalog, db, name)
        session.fe.jobs.refuse_ddl([table], "ALTER TABLE")
        existing = partitions_of(catalog, table, temporary=temporary)
        if action in ("ADD_PARTITION", "DROP_PARTITION") and not temporary:
            dynamic_partitions.refuse_partition_ddl(table)
        if action == "ADD_PARTITION":
            if table.partition_kind == "UNPARTITIONED":
                raise DorisError(f"Table[{name}]'s partition type is UNPARTITIONED, can not add partition")
            desc: PartitionDesc = node.args["partition"]
            _check_partition_names([desc])
            if any(p.name == desc.name for p in partitions_of(catalog, table) + partitions_of(catalog, table, True)):
                raise DorisError(f"Duplicate partition name {desc.name}")
            previous = None
            if desc.upper_only and table.partition_kind == "RANGE":
                new_upper = resolve_partitions(table, [attrs.evolve(desc, upper_only=False)])[0].upper
                below = [p.upper for p in existing if p.upper is not None and (
                    new_upper is None or sortable_key(table, p.upper) <= sortable_key(table, new_upper))]
                previous = max(below, key=lambda u: sortable_key(table, u)) if below else None
            resolved = resolve_partitions(table, [desc], previous_upper=previous)
            check_overlaps(table, [PartitionDesc(name=p.name, lower=p.lower, upper=p.upper, values=p.values)
                                   for p in existing] + resolved)
            new = await create_partitions(session.fe, table, resolved, temporary=temporary)
            catalog.commit(new)
        elif action == "DROP_PARTITION":
            pname = node.args["name"]
            victim = next((p for p in existing if p.name == pname), None)
            if victim is None:
                if node.args.get("if_exists"):
                    return
                raise DorisError(f"Partition {pname} does not exist")
            catalog.commit(deletes=[victim])
            await drop_tablets(session.fe, [victim])
        elif action == "RENAME":
            new_name = node.args["new_name"]
            if name_taken(session, db, new_name):
                raise DorisError(f"Table '{new_name}' already exists", ER_TABLE_EXISTS)
            check_table_name(new_name)
            renamed = attrs.evolve(table, name=new_name)
            unpartitioned = [attrs.evolve(p, name=new_name) for p in existing
                             if table.partition_kind == "UNPARTITIONED" and p.name == table.name]
            catalog.commit([renamed, *unpartitioned])
        elif action == "MODIFY_COMMENT":  # dbt-doris's persist_docs (relation)
            catalog.commit([attrs.evolve(table, comment=node.args["comment"])])
        elif action == "MODIFY_COLUMN_COMMENT":  # dbt-doris's persist_docs (columns)
            catalog.commit([_with_column_comment(table, node.args["name"], node.args["comment"])])
        elif action == "RENAME_PARTITION":
            old, new_name = node.args["name"], node.args["new_name"]
            victim = next((p for p in existing if p.name == old), None)
            if victim is None:
                raise DorisError(f"Partition {old} does not exist")
            if any(p.name == new_name for p in existing):
                raise DorisError(f"Partition name[{new_name}] is already used")
            check_partition_name(new_name)
            catalog.commit([attrs.evolve(victim, name=new_name)])
        elif action == "MODIFY_PARTITION":
            await modify_partitions(session.fe, table, node.args.get("partitions"), node.args["properties"])
        else:
            props = dynamic_partitions.analyze(
                dynamic_partitions.shape_of(table), table.properties, node.args["properties"],
                len(session.fe.backends.alive()), session.fe.dynamic_partitions.max_partitions())
            props = check_table_properties(check_bloom_properties(props, table.columns, table.keys_type,
                                                                  table.indexes))
            if any(k.startswith(dynamic_partitions.PREFIX) for k in node.args["properties"]):
                session.fe.dynamic_partitions.touched(table.id)
            if "replication_num" in props:
                props["replication_allocation"] = f"tag.location.default: {int(props.pop('replication_num'))}"
            catalog.commit([attrs.evolve(table, properties=props)])


def _with_column_comment(table: Table, column: str, comment: str) -> Table:
    if not any(c.name.lower() == column.lower() for c in table.columns):
        raise DorisError(f"Unknown column: {column}")
    columns = tuple(attrs.evolve(c, comment=comment) if c.name.lower() == column.lower() else c
                    for c in table.columns)
    return attrs.evolve(table, columns=columns)


def _swap_option(properties: dict[str, str]) -> bool:
    """PROPERTIES of REPLACE WITH TABLE: only 'swap' (default true; anything but 'true' in any case is false, as
    Java's Boolean.parseBoolean reads it) and 'force' (no recycle bin here: a replaced table is always gone)."""
    props = dict(properties)
    swap = props.pop("swap", "true").lower() == "true"
    props.pop("force", None)
    if props:
        raise DorisError("Unknown properties: [" + ", ".join(props) + "]")
    return swap


def _renamed(catalog: Any, table: Table, new_name: str) -> list[Any]:
    """The table under a new name, with an unpartitioned table's one partition, which bears its name, renamed too."""
    parts = [attrs.evolve(p, name=new_name) for p in partitions_of(catalog, table)
             if table.partition_kind == "UNPARTITIONED" and p.name == table.name]
    return [attrs.evolve(table, name=new_name), *parts]


async def _replace_table(session: Any, db: Database, table: Table, node: AlterTable) -> None:
    """ALTER TABLE a REPLACE WITH TABLE b: b takes a's name and a takes b's ('swap' = 'true', the default) or a is
    dropped, in one journal commit, so a reader sees either the old table or the new one under the name.

    dbt-doris's table models end this way: the model is built as `<name>__dbt_tmp` and then replaces `<name>`.
    ALTER is checked on both tables (Doris checks `a`; b's data becomes readable under a's name, so b too)."""
    catalog = session.fe.catalog
    swap = _swap_option(node.args.get("properties") or {})
    other_name = node.args["name"]
    require_on_table(session.user, "ALTER_PRIV", db.name, other_name)
    if find_table(catalog, db, other_name) is None:
        if find_view(catalog, db, other_name) is not None:
            raise DorisError(f"Type of {other_name} doesn't match, expected data tables=[OLAP, MATERIALIZED_VIEW]")
        raise DorisError(f"table not found, tableName={other_name}", ER_BAD_TABLE)
    other = get_table(catalog, db, other_name)
    if other.id == table.id:  # Doris would drop the table it keeps; here replacing a table by itself changes nothing
        return
    session.fe.jobs.refuse_ddl([table, other], "ALTER TABLE")
    first, second = sorted((table, other), key=lambda t: t.id)  # one lock order, so two replaces cannot deadlock
    async with table_lock(first.id), table_lock(second.id):
        table, other = get_table(catalog, db, table.name), get_table(catalog, db, other_name)
        session.fe.jobs.refuse_ddl([table, other], "ALTER TABLE")  # a job accepted while this waited
        puts = _renamed(catalog, other, table.name)
        if swap:
            catalog.commit(puts + _renamed(catalog, table, other.name))
            return
        dropped = partitions_of(catalog, table) + partitions_of(catalog, table, temporary=True)
        catalog.commit(puts=puts, deletes=[*dropped, table, *auto_increment.marks_of(catalog, [table])])
        auto_increment.forget(table.id)  # as DROP TABLE: the replaced table's counter goes with it
    await drop_tablets(session.fe, dropped)


@handles(TruncateTable)
async def truncate_table(session: Any, node: TruncateTable) -> None:
    """Doris replaces the partitions by empty ones (new ids, version 1) and drops the old tablets."""
    db, table = session_table(session, node.this, needs="LOAD_PRIV")
    name, catalog = table.name, session.fe.catalog
    session.fe.jobs.refuse_ddl([table], "TRUNCATE TABLE")
    async with table_lock(table.id):
        table = get_table(catalog, db, name)
        session.fe.jobs.refuse_ddl([table], "TRUNCATE TABLE")
        partitions = partitions_of(catalog, table)
        names = node.args.get("partitions")
        if names:
            by_name = {p.name: p for p in partitions}
            for n in names:
                if n not in by_name:
                    raise DorisError(f"Partition {n} does not exist")
            partitions = [by_name[n] for n in names]
        descs = [PartitionDesc(name=p.name, lower=p.lower, upper=p.upper, values=p.values,
                               properties=kept_medium(table, p)) for p in partitions]
        fresh = await create_partitions(session.fe, table, descs)
        catalog.commit(puts=fresh, deletes=partitions)
    await drop_tablets(session.fe, partitions)
