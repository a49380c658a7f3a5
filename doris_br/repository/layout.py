"""Doris's repository layout (Repository.java), names only:

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
    return f"{location_path.rstrip('/')}/{PREFIX_REPO}{repo}"


def snapshot_dir(repo_root: str, label: str) -> str:
    return f"{repo_root}/{PREFIX_SNAPSHOT}{label}"


def tablet_dir(snapshot_root: str, db_id: int, table_id: int, partition_id: int, index_id: int,
               tablet_id: int) -> str:
    return (f"{snapshot_root}/{CONTENT}/__db_{db_id}/__tbl_{table_id}/__part_{partition_id}/__idx_{index_id}"
            f"/__{tablet_id}")


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
