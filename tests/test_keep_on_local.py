"""`__keep_on_local__`: BACKUP to it keeps the snapshot on the BEs (hard links, no upload) and FINISHES; SHOW SNAPSHOT
lists it; RESTORE from it over SQL is refused with Doris's text; DROP REPOSITORY on it never fails; the hard links
go when the job leaves the history or is cancelled."""

from __future__ import annotations

import json
from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import hold, release, wait_job
from tests.cluster import Cluster
from tests.test_http import make_table

LOCAL = "`__keep_on_local__`"
DB = "kol_db"
CONFIG = "max_backup_restore_job_num_per_db"


def snapshot_dirs(cluster: Cluster, job_id: int) -> list[Path]:
    """The job's snapshot folder on each BE that has one (be/storage.py: snapshot/<job id>/)."""
    return sorted(cluster.root.glob(f"be*/snapshot/{job_id}"))  # be0, or be0.SSD


def linked_files(folders: list[Path]) -> list[Path]:
    return [f for d in folders for f in d.rglob("*") if f.is_file()]


def local_backup(cluster: Cluster, label: str, db: str = DB) -> dict:
    cluster.query(f"BACKUP SNAPSHOT {db}.{label} TO {LOCAL}")
    row = wait_job(cluster, "BACKUP", db, label)
    assert row["State"] == "FINISHED", row
    return row


@pytest.fixture(scope="module")
def kol_db(cluster: Cluster) -> Cluster:
    make_table(cluster, DB)
    cluster.query(f"INSERT INTO {DB}.t VALUES (1, 'a', 1.5, '2024-01-01'), (2, 'b', 2.5, '2024-01-02')")
    return cluster


def test_backup_to_keep_on_local_keeps_hard_links_and_finishes(kol_db: Cluster) -> None:
    row = local_backup(kol_db, "l1")
    assert row["SnapshotFinishedTime"] and row["FinishedTime"] and row["Status"] == "[OK]"
    files = linked_files(snapshot_dirs(kol_db, int(row["JobId"])))
    data = [f for f in files if f.suffix == ".parquet"]
    assert data and all(f.stat().st_nlink >= 2 for f in data)  # hard links to the tablets' rowsets, no copy

    rows = kol_db.query(f"SHOW SNAPSHOT ON {LOCAL}")
    found = [r for r in rows if r[0] == "l1"]
    assert len(found) == 1 and found[0][2] == "OK", rows
    timestamp = found[0][1]
    detail = kol_db.query_dicts(f"SHOW SNAPSHOT ON {LOCAL} WHERE SNAPSHOT = 'l1' AND TIMESTAMP = '{timestamp}'")
    assert [(d["Snapshot"], d["Database"], d["Status"]) for d in detail] == [("l1", DB, "OK")]
    assert [t["name"] for t in json.loads(detail[0]["Details"])["olap_table_list"]] == ["t"]
    out = kol_db.mariadb(f"SHOW SNAPSHOT ON {LOCAL}")
    assert out.returncode == 0 and "l1" in out.stdout, out.stderr

    # Restoring from it over SQL is refused, before anything else is looked at.
    with pytest.raises(pymysql.MySQLError) as e:
        kol_db.query(f"RESTORE SNAPSHOT {DB}.l1 FROM {LOCAL} PROPERTIES ('backup_timestamp' = '{timestamp}')")
    assert e.value.args == (1105, "errCode = 2, detailMessage = restore from the local repo via SQL call is not "
                                  "supported")
    out = kol_db.mariadb(f"RESTORE SNAPSHOT {DB}.l1 FROM {LOCAL} PROPERTIES ('nonsense' = 'x')")
    assert "restore from the local repo via SQL call is not supported" in out.stderr

    # DROP REPOSITORY on it answers OK and changes nothing.
    kol_db.query(f"DROP REPOSITORY {LOCAL}")
    assert [r[0] for r in kol_db.query(f"SHOW SNAPSHOT ON {LOCAL}") if r[0] == "l1"] == ["l1"]
    assert "__keep_on_local__" not in {r[1] for r in kol_db.query("SHOW REPOSITORIES")}


def test_local_snapshot_released_when_its_job_leaves_the_history(kol_db: Cluster) -> None:
    first = local_backup(kol_db, "gone")
    first_dirs = snapshot_dirs(kol_db, int(first["JobId"]))
    assert first_dirs
    try:
        kol_db.query(f"ADMIN SET FRONTEND CONFIG ('{CONFIG}' = '1')")
        second = local_backup(kol_db, "stays")
    finally:
        kol_db.query(f"ADMIN SET FRONTEND CONFIG ('{CONFIG}' = '10')")
    kol_db.wait_for(lambda: not any(d.exists() for d in first_dirs))
    assert snapshot_dirs(kol_db, int(second["JobId"]))
    labels = [r[0] for r in kol_db.query(f"SHOW SNAPSHOT ON {LOCAL}")]
    assert "gone" not in labels and "stays" in labels
    assert [r["SnapshotName"] for r in kol_db.query_dicts(f"SHOW BACKUP FROM {DB}")] == ["stays"]


def test_cancelled_local_backup_releases_its_snapshot(kol_db: Cluster) -> None:
    hold(kol_db, "BACKUP.SAVE_META")
    try:
        kol_db.query(f"BACKUP SNAPSHOT {DB}.held TO {LOCAL}")
        row = wait_job(kol_db, "BACKUP", DB, "held", states=("SAVE_META",))
        folders = snapshot_dirs(kol_db, int(row["JobId"]))
        assert folders
        kol_db.query(f"CANCEL BACKUP FROM {DB}")
    finally:
        release(kol_db)
    row = wait_job(kol_db, "BACKUP", DB, "held")
    assert row["State"] == "CANCELLED", row
    kol_db.wait_for(lambda: not any(d.exists() for d in folders))
    assert "held" not in [r[0] for r in kol_db.query(f"SHOW SNAPSHOT ON {LOCAL}")]

