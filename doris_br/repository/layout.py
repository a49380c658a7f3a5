"""Doris's repository layout (Repository.java), names only; every name goes into a path through
doris_br.names.path_component, so none leads outside the repository:

    <location>/__palo_repository_<repo>/
      __repo_info
      __ss_<label>/
        __meta.<md5>
        __info_<yyyy-MM-dd-HH-mm-ss>.<md5>
        __ss_content/__db_<dbId>/__tbl_<tblId>/__part_<partId>/__idx_<indexId>/__<tabletId>/<file>.<md5>
"""

from __future__ import annotations

import re
import time

from doris_br.names import path_component, path_id

PREFIX_REPO = "__palo_repository_"
REPO_INFO = "__repo_info"
PREFIX_SNAPSHOT = "__ss_"
CONTENT = "__ss_content"
PREFIX_INFO = "__info_"
META = "__meta"
KEEP_ON_LOCAL = "__keep_on_local__"

TIMESTAMP_FORMAT = "%Y-%m-%d-%H-%M-%S"
MD5_SUFFIX = re.compile(r"^(?P<name>.+)\.(?P<md5>[0-9a-f]{32})$")


def repo_dir(location_path: str, repo: str) -> str:
    return f"{location_path.rstrip('/')}/{path_component(PREFIX_REPO + repo)}"


def snapshot_dir(repo_root: str, label: str) -> str:
    return f"{repo_root}/{path_component(PREFIX_SNAPSHOT + label)}"


def tablet_dir(snapshot_root: str, db_id: object, table_id: object, partition_id: object, index_id: object,
               tablet_id: object) -> str:
    """Ids may come from a snapshot's info: anything but an int raises UnsafeName."""
    ids = [path_id(i) for i in (db_id, table_id, partition_id, index_id, tablet_id)]
    return (f"{snapshot_root}/{CONTENT}/__db_{ids[0]}/__tbl_{ids[1]}/__part_{ids[2]}/__idx_{ids[3]}"
            f"/__{ids[4]}")


def with_md5(name: str, md5: str) -> str:
    return f"{name}.{md5}"


def split_md5(name: str) -> tuple[str, str | None]:
    """`file.dat.<md5>` -> ("file.dat", md5); a name without a checksum -> (name, None)."""
    match = MD5_SUFFIX.match(name)
    if match is None:
        return name, None
    return match["name"], match["md5"]


def info_name(timestamp: str) -> str:
    return f"{PREFIX_INFO}{timestamp}"


def backup_timestamp(epoch_ms: int) -> str:
    """The `yyyy-MM-dd-HH-mm-ss` of a backup, in the FE's local time as Doris writes it."""
    return time.strftime(TIMESTAMP_FORMAT, time.localtime(epoch_ms / 1000))
