"""A snapshot's info file as typed classes (repository/snapshot_info.py): Doris's JSON read and written back the
same, fields Doris may leave out taking Doris's defaults, and a hostile file refused with the field it got wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from doris_br.repository.snapshot_info import BadInfo, SnapshotInfo

# An info as Doris 2.1 writes it (BackupJobInfo), with ours beside: file_sizes and ttl.
DORIS_INFO: dict[str, Any] = {
    "name": "snap1", "database": "db1", "id": 10003, "backup_time": 1700000000000, "content": "ALL",
    "backup_result": "succeed", "meta_version": 1, "major_version": 2, "minor_version": 1, "patch_version": 0,
    "backup_objects": {"t": {"id": 10004, "schema_hash": 0, "partitions": {
        "p1": {"id": 10010, "version": 3, "indexes": {"t": {
            "id": 10005, "schema_hash": 0, "tablets": {"10012": ["v2.parquet.ab12"], "10011": ["v3.parquet.cd34"]},
            "tablets_order": [10012, 10011]}}},
        "p2": {"id": 10020, "version": 1, "indexes": {}}}}},
    "new_backup_objects": {"views": [{"id": 10030, "name": "v"}], "odbc_tables": [], "odbc_resources": []},
    "tablet_be_map": {"10011": 10001, "10012": 10002},
    "tablet_snapshot_path_map": {"10011": "/r/__ss_snap1/x", "10012": "/r/__ss_snap1/y"},
    "table_commit_seq_map": {},
    "file_sizes": {"10011": {"v3.parquet.cd34": 99}, "10012": {"v2.parquet.ab12": 7}},
    "ttl": "7d",
}


def test_an_info_reads_and_writes_back_the_same() -> None:
    info = SnapshotInfo.from_json(DORIS_INFO)
    assert info.to_json() == DORIS_INFO
    index = info.tables["t"].partitions["p1"].indexes["t"]
    assert index.tablets_order == (10012, 10011) and index.tablets[10011] == ("v3.parquet.cd34",)
    assert info.file_sizes[10012] == {"v2.parquet.ab12": 7} and info.views[0].name == "v" and info.has_data


def test_what_doris_may_leave_out_takes_its_defaults() -> None:
    body = {"name": "s", "backup_objects": {"t": {"partitions": {"p": {"indexes": {"t": {
        "tablets": {"12": ["a"], "11": ["b"]}}}}}}}}
    info = SnapshotInfo.from_json(body)
    assert (info.db_id, info.content, info.ttl, info.views) == (0, "ALL", None, ())
    assert info.tables["t"].partitions["p"].indexes["t"].tablets_order == (11, 12)  # id order, as created


def _broken(path: tuple[str, ...], value: object) -> dict[str, Any]:
    body = copy.deepcopy(DORIS_INFO)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


@pytest.mark.parametrize(("body", "says"), [
    ([], "the info is not a JSON object"),
    (_broken(("id",), "10003"), "id is not a whole number"),
    (_broken(("backup_objects",), []), "backup_objects is not a JSON object"),
    (_broken(("backup_objects", "t", "partitions", "p1", "version"), True), "backup_objects.t.p1.version"),
    (_broken(("backup_objects", "t", "partitions", "p1", "indexes", "t", "tablets", "x"), []), "'x' is not a tablet"),
    (_broken(("backup_objects", "t", "partitions", "p1", "indexes", "t", "tablets_order"), [10012]),
     "tablets_order does not list its tablets"),
    (_broken(("backup_objects", "t", "partitions", "p1", "indexes", "t", "tablets", "10011"), [3]),
     "backup_objects.t.p1.t.tablets is not a string"),
    (_broken(("file_sizes", "10011"), {"f": "9"}), "file_sizes is not a whole number"),
    (_broken(("new_backup_objects", "views"), [{"id": 1, "name": 2}]), "name is not a string"),
])
def test_a_malformed_info_is_refused_with_what_is_wrong(body: object, says: str) -> None:
    with pytest.raises(BadInfo, match=None) as refused:
        SnapshotInfo.from_json(body)
    assert says in str(refused.value)
