"""The snapshot info file (__info_<timestamp>): Doris's BackupJobInfo JSON, and its brief form."""

from __future__ import annotations

import json
from typing import Any


def brief(info: dict[str, Any]) -> str:
    """What SHOW SNAPSHOT ... AND TIMESTAMP shows as Details and SHOW RESTORE as RestoreObjs."""
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
    return json.dumps(body, indent=2)
