"""What is shown and derived from a snapshot's info (repository/snapshot_info.py): its brief form, and the files it
names."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from doris_br.names import UnsafeName, path_component
from doris_br.repository import layout
from doris_br.repository.snapshot_info import SnapshotInfo


def brief(info: SnapshotInfo, expire_time: str | None = None) -> str:
    """What SHOW SNAPSHOT ... AND TIMESTAMP shows as Details and SHOW RESTORE as RestoreObjs; `expire_time`
    (ours: when retention drops the backup) is added when there is one."""
    body: dict[str, Any] = {
        "name": info.name,
        "database": info.database,
        "backup_time": info.backup_time_ms,
        "content": info.content,
        "olap_table_list": [
            {"name": name, "partition_names": sorted(t.partitions)} for name, t in sorted(info.tables.items())
        ],
        "view_list": [{"name": v.name} for v in info.views],
        "odbc_table_list": [],
        "odbc_resource_list": [],
    }
    if expire_time is not None:
        body["expire_time"] = expire_time
    return json.dumps(body, indent=2)


def referenced_files(label: str, info: SnapshotInfo) -> set[str]:
    """The data files a snapshot's info names, relative to the repository's root, found as a restore finds them
    (fe/jobs/restore.py: the tablet folder of its ids in the label's folder). A name that would lead out of its
    tablet folder is left out: no restore reads it, and no drop may delete what it points at."""
    files: set[str] = set()
    snapshot = layout.PREFIX_SNAPSHOT + label
    for table in info.tables.values():
        for part in table.partitions.values():
            for index in part.indexes.values():
                for tablet_id, names in index.tablets.items():
                    with contextlib.suppress(UnsafeName):  # an id that is no folder name (a negative one)
                        folder = layout.tablet_dir(snapshot, info.db_id, table.id, part.id, index.id, tablet_id)
                        for name in names:
                            with contextlib.suppress(UnsafeName):
                                files.add(f"{folder}/{path_component(name)}")
    return files
