"""A snapshot's info file (__info_<timestamp>): Doris's BackupJobInfo JSON, as typed classes.

The backup writes it (SnapshotInfo.to_json), a restore, SHOW SNAPSHOT, retention and DROP SNAPSHOT read it
(SnapshotInfo.from_json), and a job keeps it in its journal in the same form. The file is the repository's word,
written by us, by Doris, or by anyone: from_json checks every field it reads and says what is wrong (BadInfo), and
leaves alone the fields Doris writes that nothing here reads. Ours beside Doris's: `file_sizes` (each stored file's
size, so a restore checks it) and `ttl` (BACKUP's retention, fe/snapshots.py); Doris ignores both.
"""

from __future__ import annotations

from typing import Any

import attrs

META_VERSION = 1
FORMAT_VERSION = (2, 1, 0)  # the Doris release whose snapshot layout we write


class BadInfo(ValueError):
    """The info file does not have the shape of a BackupJobInfo."""


@attrs.frozen
class IndexInfo:
    id: int
    schema_hash: int
    tablets: dict[int, tuple[str, ...]]  # source tablet id -> its stored files' names (with their md5)
    tablets_order: tuple[int, ...]  # the tablets in bucket order: a restore maps them to its tablets by position


@attrs.frozen
class PartitionInfo:
    id: int
    version: int
    indexes: dict[str, IndexInfo]  # by index name (the table's name for its base index)


@attrs.frozen
class TableInfo:
    id: int
    schema_hash: int
    partitions: dict[str, PartitionInfo]


@attrs.frozen
class ViewInfo:
    id: int
    name: str


@attrs.frozen
class SnapshotInfo:
    name: str  # the label
    database: str
    db_id: int
    backup_time_ms: int
    content: str  # ALL | METADATA_ONLY
    tables: dict[str, TableInfo]
    views: tuple[ViewInfo, ...] = ()
    tablet_backends: dict[int, int] = attrs.field(factory=dict)  # tablet id -> the BE it was snapshotted on
    tablet_paths: dict[int, str] = attrs.field(factory=dict)  # tablet id -> its folder in the repository
    file_sizes: dict[int, dict[str, int]] = attrs.field(factory=dict)  # tablet id -> stored name -> bytes
    ttl: str | None = None
    meta_version: int = META_VERSION
    format_version: tuple[int, int, int] = FORMAT_VERSION

    @property
    def has_data(self) -> bool:
        return self.content.upper() != "METADATA_ONLY"

    def summary(self) -> SnapshotInfo:
        """The snapshot's tables and partitions, without their tablets and files (a finished job's history)."""
        tables = {name: attrs.evolve(t, partitions={n: attrs.evolve(p, indexes={}) for n, p in t.partitions.items()})
                  for name, t in self.tables.items()}
        return attrs.evolve(self, tables=tables, tablet_backends={}, tablet_paths={}, file_sizes={})

    def to_json(self) -> dict[str, Any]:
        """Doris's BackupJobInfo JSON (with our file_sizes, and ttl when there is one)."""
        return {
            "name": self.name,
            "database": self.database,
            "id": self.db_id,
            "backup_time": self.backup_time_ms,
            "content": self.content,
            "backup_result": "succeed",
            "meta_version": self.meta_version,
            "major_version": self.format_version[0],
            "minor_version": self.format_version[1],
            "patch_version": self.format_version[2],
            "backup_objects": {name: _table_json(t) for name, t in self.tables.items()},
            "new_backup_objects": {"views": [{"id": v.id, "name": v.name} for v in self.views],
                                   "odbc_tables": [], "odbc_resources": []},
            "tablet_be_map": {str(k): v for k, v in self.tablet_backends.items()},
            "tablet_snapshot_path_map": {str(k): v for k, v in self.tablet_paths.items()},
            "table_commit_seq_map": {},
            "file_sizes": {str(k): v for k, v in self.file_sizes.items()},
            **({"ttl": self.ttl} if self.ttl is not None else {}),
        }

    @classmethod
    def from_json(cls, body: Any) -> SnapshotInfo:
        """The info as the file has it; BadInfo says which field is wrong."""
        if not isinstance(body, dict):
            raise BadInfo("the info is not a JSON object")
        version = (_int(body, "major_version"), _int(body, "minor_version"), _int(body, "patch_version"))
        views = _dict(body, "new_backup_objects").get("views") or []
        ttl = body.get("ttl")
        return cls(
            name=_str(body, "name"), database=_str(body, "database"), db_id=_int(body, "id"),
            backup_time_ms=_int(body, "backup_time"), content=_str(body, "content", "ALL"),
            tables={_name(k): _table(k, v) for k, v in _dict(body, "backup_objects").items()},
            views=tuple(ViewInfo(_int(v, "id"), _str(v, "name")) for v in _list_of_dicts(views, "views")),
            tablet_backends={_id(k): _int_value(v, "tablet_be_map")
                             for k, v in _dict(body, "tablet_be_map").items()},
            tablet_paths={_id(k): _str_value(v, "tablet_snapshot_path_map")
                          for k, v in _dict(body, "tablet_snapshot_path_map").items()},
            file_sizes={_id(k): _sizes(v) for k, v in _dict(body, "file_sizes").items()},
            ttl=ttl if isinstance(ttl, str) else None,
            meta_version=_int(body, "meta_version", META_VERSION), format_version=version,
        )


def _table_json(table: TableInfo) -> dict[str, Any]:
    return {"id": table.id, "schema_hash": table.schema_hash, "partitions": {
        name: {"id": p.id, "version": p.version, "indexes": {
            index_name: {"id": i.id, "schema_hash": i.schema_hash,
                         "tablets": {str(t): list(files) for t, files in i.tablets.items()},
                         "tablets_order": list(i.tablets_order)}
            for index_name, i in p.indexes.items()}}
        for name, p in table.partitions.items()}}


def _table(name: str, body: Any) -> TableInfo:
    where = f"backup_objects.{name}"
    body = _object(body, where)
    return TableInfo(id=_int(body, "id", where=where), schema_hash=_int(body, "schema_hash", where=where),
                     partitions={_name(k): _partition(f"{where}.{k}", v)
                                 for k, v in _dict(body, "partitions", where).items()})


def _partition(where: str, body: Any) -> PartitionInfo:
    body = _object(body, where)
    return PartitionInfo(id=_int(body, "id", where=where), version=_int(body, "version", where=where),
                         indexes={_name(k): _index(f"{where}.{k}", v)
                                  for k, v in _dict(body, "indexes", where).items()})


def _index(where: str, body: Any) -> IndexInfo:
    body = _object(body, where)
    tablets = {_id(k): tuple(_str_value(n, f"{where}.tablets") for n in _list(v, f"{where}.tablets"))
               for k, v in _dict(body, "tablets", where).items()}
    listed = body.get("tablets_order")
    # An info without the order (older writers) has its tablets in id order, as they were created.
    order = tuple(sorted(tablets)) if listed is None else tuple(
        _int_value(t, f"{where}.tablets_order") for t in _list(listed, f"{where}.tablets_order"))
    if set(order) != set(tablets) or len(order) != len(tablets):
        raise BadInfo(f"{where}: tablets_order does not list its tablets")
    return IndexInfo(id=_int(body, "id", where=where), schema_hash=_int(body, "schema_hash", where=where),
                     tablets=tablets, tablets_order=order)


# ---- checked reads: a field that is missing takes its default, as Doris's reader (Gson) gives it; one of the wrong
# type is an error ----------------------------------------------------------------------------------------------


def _int(body: dict[str, Any], key: str, default: int = 0, where: str = "") -> int:
    return _int_value(body.get(key, default), f"{where + '.' if where else ''}{key}")


def _str(body: dict[str, Any], key: str, default: str = "", where: str = "") -> str:
    return _str_value(body.get(key, default), f"{where + '.' if where else ''}{key}")


def _dict(body: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    return _object(body.get(key, {}), f"{where + '.' if where else ''}{key}")


def _int_value(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInfo(f"{where} is not a whole number")
    return value


def _str_value(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadInfo(f"{where} is not a string")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInfo(f"{where} is not a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadInfo(f"{where} is not a list")
    return value


def _list_of_dicts(value: Any, where: str) -> list[dict[str, Any]]:
    return [_object(v, where) for v in _list(value, where)]


def _id(key: str) -> int:
    try:
        return int(key)
    except ValueError:
        raise BadInfo(f"{key!r} is not a tablet id") from None


def _name(key: str) -> str:
    if not key:
        raise BadInfo("a table, partition or index has no name")
    return key


def _sizes(value: Any) -> dict[str, int]:
    return {_str_value(k, "file_sizes"): _int_value(v, "file_sizes") for k, v in _object(value, "file_sizes").items()}
