"""Names in a metadata backup: folders, files and the manifest.

    <out>/meta_YYYY_MM_DD_HH_MM_SS/             a whole-system backup
    <out>/project_<db>_YYYY_MM_DD_HH_MM_SS/     one database and what it depends on
    <out>/table_<db>.<tbl>_YYYY_MM_DD_HH_MM_SS/ one table and what it depends on
      manifest.json                            scope, counts, and every file's kind, key, size and sha256
      <kind>/<object name>.json                one pretty-printed JSON file per object
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

MANIFEST = "manifest.json"
FORMAT = "doris-br-metastore/1"
STAMP_FORMAT = "%Y_%m_%d_%H_%M_%S"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
BACKUP_NAME = re.compile(r"^(meta|project_(?P<db>.+)|table_(?P<table>.+))_(?P<stamp>\d{4}(_\d{2}){5})$")
# Where a backup is built: hidden and never matching BACKUP_NAME, so a half-written one is never taken for one.
TEMPORARY_PREFIX = ".tmp-"

Objects = dict[str, dict[str, dict[str, Any]]]


def stamp(epoch: float | None = None) -> str:
    return time.strftime(STAMP_FORMAT, time.localtime(epoch))


def folder_name(scope: dict[str, str], when: str) -> str:
    """The backup's folder; names are escaped as in file names, so an old database named `a/../x` stays inside."""
    if scope["kind"] == "database":
        return f"project_{safe(scope['database'])}_{when}"
    if scope["kind"] == "table":
        return f"table_{safe(scope['database'])}.{safe(scope['table'])}_{when}"
    return f"meta_{when}"


def safe(text: str) -> str:
    """A file name part: path separators and control characters escaped; '@', '%' and ':' kept readable."""
    return quote(text, safe="@%:.-_=+,() ")


class _Names:
    """Readable names of the objects a file name refers to: databases and tables by id."""

    def __init__(self, objects: Objects) -> None:
        self.dbs = {d["id"]: d["name"] for d in objects.get("databases", {}).values()}
        self.tables = {t["id"]: (self.db(t.get("db_id")), t["name"]) for t in objects.get("tables", {}).values()}

    def db(self, db_id: Any) -> str:
        return self.dbs.get(db_id, f"db{db_id}")

    def table(self, table_id: Any) -> str:
        db, table = self.tables.get(table_id, ("?", f"table{table_id}"))
        return f"{db}.{table}"


def _in_db(key: str, body: dict[str, Any], names: _Names) -> str:
    return f"{names.db(body.get('db_id'))}.{body.get('name', key)}"


def _partition(key: str, body: dict[str, Any], names: _Names) -> str:
    # A temporary partition may share its name with a formal one of the same table.
    tmp = "tmp." if body.get("temporary") else ""
    return f"{names.table(body.get('table_id'))}.{tmp}{body.get('name', key)}"


def _job(key: str, body: dict[str, Any], names: _Names) -> str:
    # A backup and the restore of its snapshot often share a label: the key (job id) tells them apart.
    return f"{body.get('db_name') or names.db(body.get('db_id'))}.{body.get('label', '')}.{key}"


# kind -> the object's file name without ".json"; kinds not listed are named by their journal key.
NAMERS: dict[str, Callable[[str, dict[str, Any], _Names], str]] = {
    "databases": lambda key, body, names: str(body.get("name", key)),
    "tables": _in_db,
    "views": _in_db,
    "partitions": _partition,
    "load_labels": lambda key, body, names: f"{names.db(body.get('db_id'))}.{body.get('label', key)}",
    "jobs": _job,
    # "<job id>/<part>": the job's tablets (in slices), meta, info, plan, journaled apart from it
    "job_parts": lambda key, body, names: key.replace("/", "."),
    "backends": lambda key, body, names: f"{key}_{body.get('host')}_{body.get('port')}",
    "repositories": lambda key, body, names: str(body.get("name", key)),
}


def file_names(objects: Objects) -> dict[tuple[str, str], str]:
    """(kind, key) -> the object's path in a backup, `<kind>/<name>.json`, named after what it is.

    Names are unique in a consistent catalog; should two objects still share one, the later (by key) gets its
    key appended, so nothing is overwritten.
    """
    names = _Names(objects)
    out: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for kind in sorted(objects):
        namer = NAMERS.get(kind, lambda key, body, names: key)
        for key, body in sorted(objects[kind].items()):
            base = safe(namer(key, body, names))
            rel = f"{kind}/{base}.json"
            if rel in taken:
                rel = f"{kind}/{base}.{safe(key)}.json"
            taken.add(rel)
            out[(kind, key)] = rel
    return out
