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
from typing import Any
from urllib.parse import quote

MANIFEST = "manifest.json"
FORMAT = "doris-br-metastore/1"
STAMP_FORMAT = "%Y_%m_%d_%H_%M_%S"
BACKUP_NAME = re.compile(r"^(meta|project_(?P<db>.+)|table_(?P<table>.+))_(?P<stamp>\d{4}(_\d{2}){5})$")


def stamp(epoch: float | None = None) -> str:
    return time.strftime(STAMP_FORMAT, time.localtime(epoch))


def folder_name(scope: dict[str, str], when: str) -> str:
    if scope["kind"] == "database":
        return f"project_{scope['database']}_{when}"
    if scope["kind"] == "table":
        return f"table_{scope['database']}.{scope['table']}_{when}"
    return f"meta_{when}"


def _safe(text: str) -> str:
    return quote(text, safe="@%:.-_=+,() ")


def object_file_name(kind: str, key: str, body: dict[str, Any], db_names: dict[int, str],
                     table_names: dict[int, tuple[str, str]]) -> str:
    """The file an object is written to: named after what it is, not only its id."""
    name = body.get("name")
    if kind in ("tables", "views") and name is not None:
        return _safe(f"{db_names.get(body.get('db_id'), body.get('db_id'))}.{name}") + ".json"
    if kind == "partitions" and name is not None:
        db, table = table_names.get(body.get("table_id"), ("?", str(body.get("table_id"))))
        return _safe(f"{db}.{table}.{name}.{key}") + ".json"
    if kind == "backends":
        return _safe(f"{key}_{body.get('host')}_{body.get('port')}") + ".json"
    if kind == "jobs":
        return _safe(f"{body.get('db_name', '')}.{body.get('label', '')}.{key}") + ".json"
    if kind in ("databases", "repositories") and name is not None:
        return _safe(str(name)) + ".json"
    return _safe(key) + ".json"
