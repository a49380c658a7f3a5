"""Issue 4: BACKUP SNAPSHOT, SHOW BACKUP, CANCEL BACKUP, on local and S3 repositories, with faults."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pymysql
import pytest

from doris_br.checksum import MD5_XATTR
from tests.backup_helpers import (
    backup_and_wait,
    create_local_repo,
    hold,
    make_sales_db,
    release,
    snapshot_timestamp,
    table_rows,
    wait_job,
)
from tests.cluster import Cluster
from tests.s3server import S3Server


def error_of(cluster: Cluster, sql: str, **kwargs: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql, **kwargs)
    return e.value.args[0], e.value.args[1]


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_whole_database_backup_layout_info_and_show(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "bk_whole")
    create_local_repo(cluster, "bk_whole_repo", tmp_path)
    ts = backup_and_wait(cluster, "bk_whole", "snap1", "bk_whole_repo")
    row = cluster.query_dicts("SHOW BACKUP FROM bk_whole")[0]
    assert list(row) == ["JobId", "SnapshotName", "DbName", "State", "BackupObjs", "CreateTime",
                         "SnapshotFinishedTime", "UploadFinishedTime", "FinishedTime", "UnfinishedTasks", "Progress",
                         "TaskErrMsg", "Status", "Timeout"]
    assert (row["SnapshotName"], row["DbName"], row["State"], row["Status"], row["Timeout"]) == (
        "snap1", "bk_whole", "FINISHED", "[OK]", "86400")
    assert row["BackupObjs"] == "[`bk_whole`.`agg`], [`bk_whole`.`dup`], [`bk_whole`.`uniq`], [`bk_whole`.`dup_view`]"
    assert int(row["JobId"]) > 0 and row["UnfinishedTasks"] == "" and row["TaskErrMsg"] == ""
    assert all(len(row[c]) == 19 for c in ("CreateTime", "SnapshotFinishedTime", "UploadFinishedTime",
                                            "FinishedTime"))
    assert row["Progress"].count("(bytes ") >= 1

    snap = tmp_path / "__palo_repository_bk_whole_repo" / "__ss_snap1"
    top = sorted(p.name for p in snap.iterdir())
    assert top[0].startswith("__info_" + ts + ".") and top[1].startswith("__meta.") and top[2] == "__ss_content"
    # Every stored file is named <file>.<md5 of its content>.
    files = stored_files(snap)
    for f in files:
        assert f.name.rsplit(".", 1)[1] == hashlib.md5(f.read_bytes()).hexdigest(), f
    info = json.loads(next(snap.glob("__info_*")).read_text())
    for key in ("name", "database", "id", "backup_time", "content", "backup_result", "meta_version",
                "major_version", "minor_version", "patch_version", "backup_objects", "new_backup_objects",
                "tablet_be_map", "tablet_snapshot_path_map", "table_commit_seq_map"):
        assert key in info, key
    assert (info["name"], info["database"], info["backup_result"]) == ("snap1", "bk_whole", "succeed")
    assert sorted(info["backup_objects"]) == ["agg", "dup", "uniq"]
    assert info["new_backup_objects"]["views"][0]["name"] == "dup_view"
    dup = info["backup_objects"]["dup"]
    assert sorted(dup["partitions"]) == ["p1", "p2"]
    index = dup["partitions"]["p1"]["indexes"]["dup"]
    assert len(index["tablets_order"]) == 3  # BUCKETS 3
    versions = {r["PartitionName"]: int(r["VisibleVersion"])
                for r in cluster.query_dicts("SHOW PARTITIONS FROM bk_whole.dup")}
    assert dup["partitions"]["p1"]["version"] == versions["p1"]
    tablet_dirs = {p.parent for p in files if "__ss_content" in str(p)}
    # The Doris layout: __db_<id>/__tbl_<id>/__part_<id>/__idx_<id>/__<tablet>
    sample = sorted(tablet_dirs)[0].relative_to(snap / "__ss_content").parts
    assert [part.split("_")[2] if part.startswith("__") and part.count("_") >= 3 else part for part in sample]
    assert sample[0].startswith("__db_") and sample[1].startswith("__tbl_") and sample[2].startswith("__part_")
    assert sample[3].startswith("__idx_") and sample[4].startswith("__")
    total_tablets = sum(len(p["indexes"][t]["tablets_order"]) for t, tb in info["backup_objects"].items()
                        for p in tb["partitions"].values())
    assert len(tablet_dirs) == total_tablets == 3 * 2 + 2 + 2
    # The snapshot is listed, and its details read back.
    detail = cluster.query_dicts(f"SHOW SNAPSHOT ON bk_whole_repo WHERE SNAPSHOT = 'snap1' AND TIMESTAMP = '{ts}'")
    assert detail[0]["Status"] == "OK" and detail[0]["Database"] == "bk_whole"
    # BE snapshots are released once the meta is saved.
    assert not list(cluster.root.glob("be*/snapshot/*/*"))


def test_chosen_tables_partitions_and_exclude(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "bk_chosen")
    create_local_repo(cluster, "bk_chosen_repo", tmp_path)
    backup_and_wait(cluster, "bk_chosen", "on1", "bk_chosen_repo", "ON (dup PARTITION (p2), agg)")
    info = json.loads(next((tmp_path / "__palo_repository_bk_chosen_repo" / "__ss_on1").glob("__info_*")).read_text())
    assert sorted(info["backup_objects"]) == ["agg", "dup"]
    assert sorted(info["backup_objects"]["dup"]["partitions"]) == ["p2"]
    row = cluster.query_dicts("SHOW BACKUP FROM bk_chosen WHERE SnapshotName = 'on1'")[0]
    assert row["BackupObjs"] == "[`bk_chosen`.`dup` PARTITIONS (`p2`)], [`bk_chosen`.`agg`]"
    backup_and_wait(cluster, "bk_chosen", "ex1", "bk_chosen_repo", "EXCLUDE (dup, nonexistent)")
    info = json.loads(next((tmp_path / "__palo_repository_bk_chosen_repo" / "__ss_ex1").glob("__info_*")).read_text())
    assert sorted(info["backup_objects"]) == ["agg", "uniq"]
    assert [r["SnapshotName"] for r in cluster.query_dicts("SHOW BACKUP FROM bk_chosen LIKE 'e%'")] == ["ex1"]


def test_backup_validation_errors(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "bk_err")
    create_local_repo(cluster, "bk_err_repo", tmp_path / "rw")
    (tmp_path / "ro").mkdir()
    create_local_repo(cluster, "bk_err_ro", tmp_path / "ro")
    cluster.query("DROP REPOSITORY bk_err_ro")
    cluster.query(f'CREATE READ ONLY REPOSITORY bk_err_ro WITH LOCAL ON LOCATION "file://{tmp_path}/ro"')
    backup_and_wait(cluster, "bk_err", "taken", "bk_err_repo", "ON (agg)")
    cases = {
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo ON (nosuch)": "Unknown table 'nosuch'",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo ON (dup PARTITION (p9))": "Unknown partition p9 in tabledup",
        "BACKUP SNAPSHOT bk_err.taken TO bk_err_repo": "Snapshot with name 'taken' already exist in repository",
        "BACKUP SNAPSHOT bk_err.taken TO bk_err_repo PROPERTIES ('type' = 'incremental')":
            "Currently does not support incremental backup",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_ro": "Repository bk_err_ro is read only",
        "BACKUP SNAPSHOT bk_err.x TO nosuch_repo": "Repository nosuch_repo does not exist",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo PROPERTIES ('type' = 'weird')": "Invalid backup job type: weird",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo PROPERTIES ('content' = 'some')": "Invalid backup job content:some",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo PROPERTIES ('timeout' = '10')": "timeout must be at least 10 min",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo PROPERTIES ('timeout' = 'soon')": "Invalid timeout format: soon",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo PROPERTIES ('colour' = 'red')":
            "Unknown backup job properties: ['colour']",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo ON (bk_err.dup)":
            "Cannot specify database name on backup objects: dup. Specify database name before label",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo ON (dup, dup)": "Duplicated table: dup",
        "BACKUP SNAPSHOT bk_err.x TO bk_err_repo ON (dup AS d2)": "Can not set alias for table in Backup Command: dup",
        "BACKUP SNAPSHOT bk_err.`bad label!` TO bk_err_repo": "Label format error. regex: ^[-_A-Za-z0-9:]{1,128}$",
        "BACKUP SNAPSHOT no_db.x TO bk_err_repo": "Unknown database 'no_db'",
        "BACKUP SNAPSHOT x TO bk_err_repo": "No database selected",
    }
    for sql, message in cases.items():
        code, text = error_of(cluster, sql)
        assert message in text, (sql, text)
    assert error_of(cluster, "BACKUP SNAPSHOT bk_err.x bk_err_repo")[0] == 1064
    assert error_of(cluster, "CANCEL BACKUP FROM bk_err")[1].endswith("No backup job is currently running")
    # One job per database at a time.
    hold(cluster, "BACKUP.PENDING")
    try:
        cluster.query("BACKUP SNAPSHOT bk_err.first TO bk_err_repo ON (agg)")
        _, text = error_of(cluster, "BACKUP SNAPSHOT bk_err.second TO bk_err_repo ON (agg)")
        assert "Can only run one backup or restore job of a database at same time" in text
        # Until its snapshot is taken, the table cannot be truncated, altered or dropped.
        for state in ("PENDING", "SNAPSHOTING"):
            hold(cluster, f"BACKUP.{state}")
            wait_job(cluster, "BACKUP", "bk_err", "first", states=(state,))
            for sql in ["TRUNCATE TABLE bk_err.agg", "DROP TABLE bk_err.agg",
                        "ALTER TABLE bk_err.agg SET ('replication_num' = '1')"]:
                assert "is in backup job first" in error_of(cluster, sql)[1], (state, sql)
        cluster.query("INSERT INTO bk_err.agg VALUES (1, 1, 1)")  # loads are allowed
    finally:
        release(cluster)
    assert wait_job(cluster, "BACKUP", "bk_err", "first")["State"] == "FINISHED"
    cluster.query("TRUNCATE TABLE bk_err.agg")


def test_backup_holds_rows_visible_when_it_started(cluster: Cluster, tmp_path: Path) -> None:
    before = make_sales_db(cluster, "bk_live")
    create_local_repo(cluster, "bk_live_repo", tmp_path)
    hold(cluster, "BACKUP.SNAPSHOTING")
    try:
        cluster.query("BACKUP SNAPSHOT bk_live.live TO bk_live_repo")
        wait_job(cluster, "BACKUP", "bk_live", "live", states=("SNAPSHOTING",))
        for i in range(3):  # loads land while the job runs
            cluster.query(f"INSERT INTO bk_live.dup VALUES ({1000 + i}, '2024-01-05', 'late')")
            cluster.query(f"INSERT INTO bk_live.uniq VALUES (1, {900 + i})")
    finally:
        release(cluster)
    assert wait_job(cluster, "BACKUP", "bk_live", "live")["State"] == "FINISHED"
    ts = snapshot_timestamp(cluster, "bk_live_repo", "live")
    cluster.query(f"RESTORE SNAPSHOT bk_live_copy.live FROM bk_live_repo PROPERTIES ('backup_timestamp' = '{ts}')")
    assert wait_job(cluster, "RESTORE", "bk_live_copy", "live")["State"] == "FINISHED"
    assert table_rows(cluster, "bk_live_copy") == before
    assert table_rows(cluster, "bk_live") != before


def test_s3_backup(cluster: Cluster, s3: S3Server) -> None:
    make_sales_db(cluster, "bk_s3")
    bucket = s3.create_bucket("backups-s3")
    cluster.query(f'CREATE REPOSITORY bk_s3_repo WITH S3 ON LOCATION "s3://{bucket}/prod" {s3.properties()}')
    ts = backup_and_wait(cluster, "bk_s3", "s3snap", "bk_s3_repo")
    keys = s3.keys(bucket, "prod/__palo_repository_bk_s3_repo/__ss_s3snap/")
    assert any(k.endswith(".parquet." + k.rsplit(".", 1)[1]) for k in keys)
    assert any(f"/__info_{ts}." in k for k in keys) and any("/__meta." in k for k in keys)
    body = s3.client().get_object(Bucket=bucket, Key=next(k for k in keys if ".parquet." in k))["Body"].read()
    assert hashlib.md5(body).hexdigest() == next(k for k in keys if ".parquet." in k).rsplit(".", 1)[1]
    assert [r[0] for r in cluster.query("SHOW SNAPSHOT ON bk_s3_repo")] == ["s3snap"]


@pytest.mark.parametrize("state", ["PENDING", "SNAPSHOTING", "UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META",
                                   "UPLOAD_INFO"])
def test_cancel_in_every_state_leaves_no_snapshot(cluster: Cluster, tmp_path: Path, state: str) -> None:
    db = f"bk_cancel_{state.lower()}"
    make_sales_db(cluster, db, rows=10)
    create_local_repo(cluster, f"{db}_repo", tmp_path)
    hold(cluster, f"BACKUP.{state}")
    try:
        cluster.query(f"BACKUP SNAPSHOT {db}.doomed TO {db}_repo")
        row = wait_job(cluster, "BACKUP", db, "doomed", states=(state,))
        cluster.query(f"CANCEL BACKUP FROM {db}")
    finally:
        release(cluster)
    row = wait_job(cluster, "BACKUP", db, "doomed")
    assert (row["State"], row["Status"]) == ("CANCELLED", "[COMMON_ERROR, msg: user cancelled]")
    assert cluster.query(f"SHOW SNAPSHOT ON {db}_repo") == []
    assert not (tmp_path / f"__palo_repository_{db}_repo" / "__ss_doomed").exists()
    assert not list(cluster.root.glob(f"be*/snapshot/{row['JobId']}/*"))
    backup_and_wait(cluster, db, "doomed", f"{db}_repo", "ON (agg)")  # the label is free again


def test_fe_killed_during_uploading_resumes(own_cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(own_cluster, "bk_fe_kill")
    create_local_repo(own_cluster, "bk_fe_kill_repo", tmp_path)
    hold(own_cluster, "BACKUP.UPLOADING")
    own_cluster.query("BACKUP SNAPSHOT bk_fe_kill.s TO bk_fe_kill_repo")
    wait_job(own_cluster, "BACKUP", "bk_fe_kill", "s", states=("UPLOADING",))
    own_cluster.kill_fe()
    own_cluster.start_fe(auto_backends=False)  # the hold lived in the FE's memory only
    row = wait_job(own_cluster, "BACKUP", "bk_fe_kill", "s")
    assert row["State"] == "FINISHED" and row["Status"] == "[OK]"
    assert snapshot_timestamp(own_cluster, "bk_fe_kill_repo", "s")


def test_be_killed_during_upload_is_retried(own_cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(own_cluster, "bk_be_kill")
    create_local_repo(own_cluster, "bk_be_kill_repo", tmp_path)
    hold(own_cluster, "BACKUP.UPLOADING")
    own_cluster.query("BACKUP SNAPSHOT bk_be_kill.s TO bk_be_kill_repo")
    wait_job(own_cluster, "BACKUP", "bk_be_kill", "s", states=("UPLOADING",))
    own_cluster.kill_be(0)
    release(own_cluster)
    row = own_cluster.wait_for(lambda: [r for r in own_cluster.query_dicts("SHOW BACKUP FROM bk_be_kill")
                                        if r["TaskErrMsg"]], timeout=20)[0]
    assert row["State"] == "UPLOADING" and "BAD_CONNECTION" in row["TaskErrMsg"]
    own_cluster.start_be(0)
    row = wait_job(own_cluster, "BACKUP", "bk_be_kill", "s")
    assert row["State"] == "FINISHED" and row["TaskErrMsg"] == ""


def test_privileges_history_and_metadata_only(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "bk_priv", rows=4)
    create_local_repo(cluster, "bk_priv_repo", tmp_path)
    cluster.query("CREATE USER IF NOT EXISTS 'loader'@'%' IDENTIFIED BY 'l'")
    cluster.query("CREATE USER IF NOT EXISTS 'reader'@'%' IDENTIFIED BY 'r'")
    cluster.query("GRANT LOAD_PRIV ON bk_priv.* TO loader")
    cluster.query("GRANT SELECT_PRIV ON bk_priv.* TO reader")
    code, text = error_of(cluster, "BACKUP SNAPSHOT bk_priv.m0 TO bk_priv_repo", user="reader", password="r")
    assert code == 1227 and "(LOAD)" in text
    assert error_of(cluster, "SHOW BACKUP FROM bk_priv", user="reader", password="r")[0] == 1044
    for i in range(11):
        cluster.query(f"BACKUP SNAPSHOT bk_priv.m{i} TO bk_priv_repo PROPERTIES ('content' = 'METADATA_ONLY')",
                      user="loader", password="l")
        assert wait_job(cluster, "BACKUP", "bk_priv", f"m{i}")["State"] == "FINISHED"
    labels = [r["SnapshotName"] for r in cluster.query_dicts("SHOW BACKUP FROM bk_priv", user="loader", password="l")]
    assert labels == [f"m{i}" for i in range(1, 11)]  # the last 10, oldest first
    info = json.loads(next((tmp_path / "__palo_repository_bk_priv_repo" / "__ss_m3").glob("__info_*")).read_text())
    assert info["content"] == "METADATA_ONLY"
    assert all(not p["indexes"] for t in info["backup_objects"].values() for p in t["partitions"].values())


def test_backup_through_mariadb_client(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "bk_cli", rows=6)
    out = cluster.mariadb(f'CREATE REPOSITORY bk_cli_repo WITH LOCAL ON LOCATION "file://{tmp_path}"; '
                          "BACKUP SNAPSHOT bk_cli.cli TO bk_cli_repo ON (dup, uniq)")
    assert out.returncode == 0, out.stderr
    wait_job(cluster, "BACKUP", "bk_cli", "cli")
    out = cluster.mariadb("SHOW BACKUP FROM bk_cli\\G")
    assert "State: FINISHED" in out.stdout and "SnapshotName: cli" in out.stdout
    out = cluster.mariadb("SHOW SNAPSHOT ON bk_cli_repo")
    assert out.stdout.splitlines()[0] == "Snapshot\tTimestamp\tStatus" and "\tOK" in out.stdout


def test_jobs_time_out_with_doris_status(own_cluster: Cluster, tmp_path: Path) -> None:
    """A job without a timeout property takes Doris's backup_job_default_timeout_ms; past it, TIMEOUT."""
    c = own_cluster
    make_sales_db(c, "bk_timeout", rows=6)
    create_local_repo(c, "bk_timeout_repo", tmp_path)
    ts = backup_and_wait(c, "bk_timeout", "done", "bk_timeout_repo", "ON (agg)")
    c.query("ADMIN SET FRONTEND CONFIG ('backup_job_default_timeout_ms' = '2000')")
    hold(c, "BACKUP.UPLOADING", "RESTORE.DOWNLOADING")
    c.query("BACKUP SNAPSHOT bk_timeout.slow TO bk_timeout_repo ON (dup)")
    row = wait_job(c, "BACKUP", "bk_timeout", "slow", timeout=30)
    assert (row["State"], row["Status"], row["Timeout"]) == ("CANCELLED", "[TIMEOUT, msg: ]", "2")
    assert not (tmp_path / "__palo_repository_bk_timeout_repo" / "__ss_slow").exists()
    c.query(f"RESTORE SNAPSHOT bk_timeout_copy.done FROM bk_timeout_repo PROPERTIES ('backup_timestamp' = '{ts}')")
    row = wait_job(c, "RESTORE", "bk_timeout_copy", "done", timeout=30)
    assert (row["State"], row["Status"]) == ("CANCELLED", "[TIMEOUT, msg: restore job with label: done  timeout.]")
    assert error_of(c, "SELECT * FROM bk_timeout_copy.agg")[0] in (1049, 1146)  # nothing was made visible


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_damaged_tablet_file_is_refused(cluster: Cluster, s3: S3Server, tmp_path: Path, kind: str) -> None:
    """A BE records each version file's md5 when it writes it; a file that changed since (a damaged replica)
    fails the backup with BAD_FILE instead of being backed up as if it were good."""
    db = f"bk_damaged_{kind}"
    make_sales_db(cluster, db, rows=8)
    ids = {int(r["TabletId"]) for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.dup")}
    files = [p for p in cluster.root.glob("be*/data/*/v*.parquet") if int(p.parent.name) in ids]
    assert files
    for path in files:
        assert os.getxattr(path, MD5_XATTR).decode() == hashlib.md5(path.read_bytes()).hexdigest()
    if kind == "s3":
        bucket = s3.create_bucket("damaged-s3")
        cluster.query(f'CREATE REPOSITORY {db}_repo WITH S3 ON LOCATION "s3://{bucket}/x" {s3.properties()}')
    else:
        create_local_repo(cluster, f"{db}_repo", tmp_path)
    for path in files:  # every replica, whichever the backup picks; in place, so the recorded md5 stays
        with open(path, "r+b") as f:
            f.seek(8)
            byte = f.read(1)
            f.seek(8)
            f.write(bytes([byte[0] ^ 0xFF]))
    cluster.query(f"BACKUP SNAPSHOT {db}.broken TO {db}_repo ON (dup)")

    def refused() -> dict | None:
        row = cluster.query_dicts(f"SHOW BACKUP FROM {db}")[-1]
        return row if "BAD_FILE" in row["TaskErrMsg"] else None

    row = cluster.wait_for(refused, timeout=60)  # retried until the job's timeout, never finished
    assert row["State"] == "UPLOADING" and "md5sum does not equal" in row["TaskErrMsg"], row
    cluster.query(f"CANCEL BACKUP FROM {db}")
    assert wait_job(cluster, "BACKUP", db, "broken")["State"] == "CANCELLED"
    assert [r for r in cluster.query(f"SHOW SNAPSHOT ON {db}_repo") if r[0] == "broken"] == []
    cluster.query(f"DROP DATABASE {db} FORCE")
