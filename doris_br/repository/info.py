"""The snapshot info file (__info_<timestamp>): Doris's BackupJobInfo JSON, and its brief form."""

from __future__ import annotations

import json
from typing import Any

from doris_br.names import UnsafeName, path_component
from doris_br.repository import layout


def brief(info: dict[str, Any], expire_time: str | None = None) -> str:
    """What SHOW SNAPSHOT ... AND TIMESTAMP shows as Details and SHOW RESTORE as RestoreObjs; `expire_time`
    (ours: when retention drops the backup) is added when there is one."""
    tables = info.get("backup_objects") or {}
    views = (info.get("new_backup_objects") or {}).get("views") or []
    body = {
        "name": info.get("name"),
        "database": info.get("database"),
        "backup_time": info.get("backup_time"),
        "content": info.get("content", "ALL"),
        "olap_table_list": [
            {"name": name, "partition_names": sorted((t.get("partitions") or {}).keys())}
            for name, t in sorted(tables.items())
        ],
        "view_list": [{"name": v.get("name")} for v in views],
        "odbc_table_list": [],
        "odbc_resource_list": [],
    }
    if expire_time is not None:
        body["expire_time"] = expire_time
    return json.dumps(body, indent=2)


def referenced_files(label: str, info: dict[str, Any]) -> set[str]:
    """The data files a snapshot's info names, relative to the repository's root, found as a restore finds them
    (fe/jobs/restore.py: the tablet folder of its ids in the label's folder). A name or id that would lead out
    of its tablet folder is left out: no restore reads it, and no drop may delete what it points at."""
    files: set[str] = set()
    snapshot = layout.PREFIX_SNAPSHOT + label
    db_id = info.get("id")
    for table in (info.get("backup_objects") or {}).values():
        for part in (table.get("partitions") or {}).values():
            for index in (part.get("indexes") or {}).values():
                for tablet_id, names in (index.get("tablets") or {}).items():
                    try:
                        folder = layout.tablet_dir(snapshot, db_id, table.get("id"), part.get("id"),
                                                   index.get("id"), int(tablet_id))
                        files.update(f"{folder}/{path_component(n)}" for n in names)
                    except (UnsafeName, ValueError, TypeError):
                        continue
    return files
