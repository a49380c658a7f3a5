"""Issue 18 (parts 2 and 3): DROP SNAPSHOT, retention (snapshot_keep_last, snapshot_ttl, a backup's ttl), on
local and S3 repositories, and a drop that an FE crash interrupted, finished at the next start."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import backup_and_wait, create_local_repo, hold, release, wait_job
from tests.cluster import Cluster
from tests.s3server import S3Server


def error_of(cluster: Cluster, sql: str, user: str = "root", password: str = "") -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql, user=user, password=password)
    return e.value.args[0], e.value.args[1]


def make_table(cluster: Cluster, db: str) -> None:
    cluster.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    cluster.query(f"CREATE TABLE {db}.t (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                  "PROPERTIES ('replication_num' = '1')")


def add_rows(cluster: Cluster, db: str, start: int, count: int) -> None:
    cluster.query(f"INSERT INTO {db}.t VALUES " + ", ".join(f"({i}, 'v{i}')" for i in range(start, start + count)))


def backups(cluster: Cluster, db: str, repo: str, labels: list[str]) -> dict[str, str]:
    """One backup per label, each after 5 more rows (the first holds 5): label -> timestamp."""
    stamps = {}
    for n, label in enumerate(labels):
        add_rows(cluster, db, n * 5, 5)
        stamps[label] = backup_and_wait(cluster, db, label, repo)
    return stamps


def restored_rows(cluster: Cluster, repo: str, label: str, ts: str, target_db: str) -> int:
    cluster.query(f"RESTORE SNAPSHOT {target_db}.{label} FROM {repo} PROPERTIES ('backup_timestamp' = '{ts}')")
    row = wait_job(cluster, "RESTORE", target_db, label)
    assert row["State"] == "FINISHED", row
    return cluster.query(f"SELECT COUNT(*) FROM {target_db}.t")[0][0]


def snapshot_labels(cluster: Cluster, repo: str) -> dict[str, str | None]:
    return {r[0]: r[1] for r in cluster.query(f"SHOW SNAPSHOT ON {repo}")}


def files_of(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_drop_leaves_the_other_snapshots_restorable(cluster: Cluster, tmp_path: Path) -> None:
    make_table(cluster, "ds_db")
    create_local_repo(cluster, "ds_repo", tmp_path)
    stamps = backups(cluster, "ds_db", "ds_repo", ["s1", "s2", "s3"])
    root = tmp_path / "__palo_repository_ds_repo"
    assert files_of(root / "__ss_s2")  # data, meta and info
    cluster.query("DROP SNAPSHOT s2 FROM ds_repo")
    assert not (root / "__ss_s2").exists()
    assert set(snapshot_labels(cluster, "ds_repo")) == {"s1", "s3"}
    assert restored_rows(cluster, "ds_repo", "s1", stamps["s1"], "ds_s1") == 5
    assert restored_rows(cluster, "ds_repo", "s3", stamps["s3"], "ds_s3") == 15
    # The dropped one is gone for RESTORE too, and its label can be backed up again.
    _, msg = error_of(cluster, f"RESTORE SNAPSHOT ds_x.s2 FROM ds_repo PROPERTIES ('backup_timestamp' = "
                               f"'{stamps['s2']}')")
    assert "Failed to get info of snapshot 's2'" in msg
    backup_and_wait(cluster, "ds_db", "s2", "ds_repo")


def copy_info(folder: Path, old_ts: str, new_ts: str) -> None:
    """A second backup of the label at another timestamp (same files): as a label reused across restores."""
    info = next(folder.glob(f"__info_{old_ts}.*"))
    data = info.read_bytes()
    (folder / f"__info_{new_ts}.{hashlib.md5(data).hexdigest()}").write_bytes(data)


def test_where_timestamp_drops_that_backup_only(cluster: Cluster, tmp_path: Path) -> None:
    make_table(cluster, "dts_db")
    create_local_repo(cluster, "dts_repo", tmp_path)
    ts = backups(cluster, "dts_db", "dts_repo", ["two"])["two"]
    folder = tmp_path / "__palo_repository_dts_repo" / "__ss_two"
    other = "2020-01-02-03-04-05"
    copy_info(folder, ts, other)
    data_files = [p for p in files_of(folder) if "__ss_content" in str(p)]
    assert data_files
    _, msg = error_of(cluster, "DROP SNAPSHOT two FROM dts_repo WHERE TIMESTAMP = '1999-01-01-00-00-00'")
    assert msg.endswith("Failed to get info of snapshot 'two' because: it has no backup at timestamp "
                        "1999-01-01-00-00-00. Maybe specified wrong backup timestamp")
    _, msg = error_of(cluster, "DROP SNAPSHOT two FROM dts_repo WHERE SNAPSHOT = 'two'")
    assert "Where clause should looks like: TIMESTAMP = " in msg
    cluster.query(f"DROP SNAPSHOT two FROM dts_repo WHERE TIMESTAMP = '{ts}'")
    assert snapshot_labels(cluster, "dts_repo") == {"two": other}
    assert all(p.exists() for p in data_files)  # still named by the other backup's info
    assert restored_rows(cluster, "dts_repo", "two", other, "dts_copy") == 5
    cluster.query("DROP SNAPSHOT two FROM dts_repo")
    assert not folder.exists()


def test_drop_refusals(cluster: Cluster, tmp_path: Path) -> None:
    make_table(cluster, "dr_db")
    create_local_repo(cluster, "dr_repo", tmp_path)
    ts = backups(cluster, "dr_db", "dr_repo", ["kept"])["kept"]
    # A running backup of the label (its tablets snapshotted, held before the upload).
    hold(cluster, "BACKUP.UPLOADING", "RESTORE.PENDING")
    try:
        cluster.query("BACKUP SNAPSHOT dr_db.busy TO dr_repo")
        wait_job(cluster, "BACKUP", "dr_db", "busy", states=("UPLOADING",))
        _, msg = error_of(cluster, "DROP SNAPSHOT busy FROM dr_repo")
        assert msg.endswith("Backup or restore job is running on snapshot busy of repository dr_repo. "
                            "Can not drop it")
        cluster.query("CANCEL BACKUP FROM dr_db")
        cluster.query(f"RESTORE SNAPSHOT dr_copy.kept FROM dr_repo PROPERTIES ('backup_timestamp' = '{ts}')")
        _, msg = error_of(cluster, f"DROP SNAPSHOT kept FROM dr_repo WHERE TIMESTAMP = '{ts}'")
        assert "Backup or restore job is running on snapshot kept" in msg
        cluster.query("CANCEL RESTORE FROM dr_copy")
    finally:
        release(cluster)
    assert "kept" in snapshot_labels(cluster, "dr_repo")
    create_local_repo(cluster, "dr_ro", tmp_path / "ro")
    cluster.query("DROP REPOSITORY dr_ro")
    cluster.query(f'CREATE READ ONLY REPOSITORY dr_ro WITH LOCAL ON LOCATION "file://{tmp_path}/ro"')
    assert error_of(cluster, "DROP SNAPSHOT kept FROM dr_ro")[1].endswith("Repository dr_ro is read only")
    cluster.query("DROP REPOSITORY dr_ro")
    cluster.query("CREATE USER IF NOT EXISTS 'drop_user'@'%' IDENTIFIED BY 'p'")
    cluster.query("GRANT LOAD_PRIV ON *.* TO 'drop_user'@'%'")
    code, msg = error_of(cluster, "DROP SNAPSHOT kept FROM dr_repo", user="drop_user", password="p")
    assert code == 1227 and "(ADMIN)" in msg
    assert error_of(cluster, "DROP SNAPSHOT kept FROM no_repo")[1].endswith("Repository no_repo does not exist")
    assert error_of(cluster, "DROP SNAPSHOT nothing FROM dr_repo")[1].endswith(
        "Failed to get info of snapshot 'nothing' because: it does not exist in repository dr_repo")
    assert "kept" in snapshot_labels(cluster, "dr_repo")


def test_drop_on_s3(cluster: Cluster, s3: S3Server) -> None:
    bucket = s3.create_bucket("drop-s3")
    cluster.query(f'CREATE REPOSITORY ds3_repo WITH S3 ON LOCATION "s3://{bucket}/p" {s3.properties()}')
    make_table(cluster, "ds3_db")
    stamps = backups(cluster, "ds3_db", "ds3_repo", ["a", "b"])
    prefix = "p/__palo_repository_ds3_repo/"
    assert s3.keys(bucket, prefix + "__ss_a/")
    cluster.query("DROP SNAPSHOT a FROM ds3_repo")
    assert s3.keys(bucket, prefix + "__ss_a/") == []
    assert s3.keys(bucket, prefix + "__ss_b/")
    assert restored_rows(cluster, "ds3_repo", "b", stamps["b"], "ds3_copy") == 10


def sweep_now(cluster: Cluster) -> None:
    cluster.query("ADMIN SET FRONTEND CONFIG ('snapshot_retention_interval_s' = '1')")


@pytest.fixture
def sweeps(cluster: Cluster) -> Iterator[None]:
    """Retention rounds every second while the test runs (the shared cluster's default again after)."""
    yield
    cluster.query("ADMIN SET FRONTEND CONFIG ('snapshot_retention_interval_s' = '600')")


def test_keep_last(cluster: Cluster, tmp_path: Path, sweeps: None) -> None:
    make_table(cluster, "kl_db")
    create_local_repo(cluster, "kl_repo", tmp_path)
    _, msg = error_of(cluster, "ALTER REPOSITORY kl_repo PROPERTIES ('snapshot_keep_last' = '0')")
    assert msg.endswith("Invalid snapshot_keep_last: '0'. It must be a whole number of at least 1")
    _, msg = error_of(cluster, "ALTER REPOSITORY kl_repo PROPERTIES ('snapshot_ttl' = '7x')")
    assert "Invalid snapshot_ttl: '7x'" in msg and "30m, 12h or 7d" in msg
    _, msg = error_of(cluster, "ALTER REPOSITORY kl_repo PROPERTIES ('s3.access_key' = 'k')")
    assert msg.endswith("Only support alter s3 or azure repository")  # Doris's rule for storage properties
    backups(cluster, "kl_db", "kl_repo", ["k1", "k2", "k3", "k4"])
    cluster.query("ALTER REPOSITORY kl_repo PROPERTIES ('snapshot_keep_last' = '2')")
    create = cluster.query("SHOW CREATE REPOSITORY FOR kl_repo")[0][1]
    assert '"snapshot_keep_last" = "2"' in create
    sweep_now(cluster)
    cluster.wait_for(lambda: set(snapshot_labels(cluster, "kl_repo")) == {"k3", "k4"}, timeout=30)
    time.sleep(2)  # another round or two: still the newest two
    assert set(snapshot_labels(cluster, "kl_repo")) == {"k3", "k4"}
    assert not (tmp_path / "__palo_repository_kl_repo" / "__ss_k1").exists()
    log = (cluster.root / "log" / "fe.log").read_text()
    assert "retention: dropped snapshot k1@" in log and "retention: dropped snapshot k2@" in log


def age_info(folder: Path, days: int) -> None:
    """The backup as if it had been taken `days` ago (the info's backup_time; its checksum name follows)."""
    info_file = next(folder.glob("__info_*"))
    info = json.loads(info_file.read_bytes())
    info["backup_time"] -= days * 86_400_000
    data = json.dumps(info).encode()
    base = info_file.name.rsplit(".", 1)[0]
    (folder / f"{base}.{hashlib.md5(data).hexdigest()}").write_bytes(data)
    info_file.unlink()


def test_ttl_drops_expired_but_never_the_newest(cluster: Cluster, tmp_path: Path, sweeps: None) -> None:
    make_table(cluster, "ttl_db")
    create_local_repo(cluster, "ttl_repo", tmp_path / "own")
    _, msg = error_of(cluster, "BACKUP SNAPSHOT ttl_db.x TO ttl_repo PROPERTIES ('ttl' = 'soon')")
    assert "Invalid ttl: 'soon'" in msg
    cluster.query(f'CREATE REPOSITORY ttl_repo2 WITH LOCAL ON LOCATION "file://{tmp_path}/repo" '
                  "PROPERTIES ('snapshot_ttl' = '1d')")
    # A backup's own ttl: both expired (aged by 3 and 2 days), the newer one stays as the newest.
    add_rows(cluster, "ttl_db", 0, 5)
    for label, days in (("e1", 3), ("e2", 2)):
        stamp = backup_and_wait(cluster, "ttl_db", label, "ttl_repo", "PROPERTIES ('ttl' = '1d')")
        age_info(tmp_path / "own" / "__palo_repository_ttl_repo" / f"__ss_{label}", days)
    details = json.loads(cluster.query(f"SHOW SNAPSHOT ON ttl_repo WHERE SNAPSHOT = 'e2' AND "
                                       f"TIMESTAMP = '{stamp}'")[0][3])
    assert details["expire_time"] < time.strftime("%Y-%m-%d %H:%M:%S")
    # The repository's snapshot_ttl: f1 aged past it, f2 not.
    for label in ("f1", "f2"):
        backup_and_wait(cluster, "ttl_db", label, "ttl_repo2")
    age_info(tmp_path / "repo" / "__palo_repository_ttl_repo2" / "__ss_f1", 2)
    sweep_now(cluster)
    cluster.wait_for(lambda: set(snapshot_labels(cluster, "ttl_repo")) == {"e2"}
                     and set(snapshot_labels(cluster, "ttl_repo2")) == {"f2"}, timeout=30)
    time.sleep(2)
    assert set(snapshot_labels(cluster, "ttl_repo")) == {"e2"}  # expired, and kept: the newest
    assert restored_rows(cluster, "ttl_repo", "e2", stamp, "ttl_copy") == 5
    cluster.query("ALTER REPOSITORY ttl_repo2 PROPERTIES ('snapshot_ttl' = '')")
    assert "snapshot_ttl" not in cluster.query("SHOW CREATE REPOSITORY FOR ttl_repo2")[0][1]


def test_fe_killed_mid_drop_finishes_it_at_start(own_cluster: Cluster, tmp_path: Path) -> None:
    c = own_cluster
    make_table(c, "kd_db")
    create_local_repo(c, "kd_repo", tmp_path)
    stamps = backups(c, "kd_db", "kd_repo", ["s1", "s2", "s3"])
    folder = tmp_path / "__palo_repository_kd_repo" / "__ss_s2"
    c.query("ADMIN SET FRONTEND CONFIG ('debug_pause_snapshot_drop' = 'true')")
    answers: list[object] = []

    def drop() -> None:  # held after the info removal until the FE is killed: the client loses its connection
        try:
            answers.append(c.query("DROP SNAPSHOT s2 FROM kd_repo"))
        except pymysql.err.MySQLError as e:
            answers.append(e)

    dropping = threading.Thread(target=drop, daemon=True)
    dropping.start()
    c.wait_for(lambda: not list(folder.glob("__info_*")))
    assert [p for p in files_of(folder) if "__ss_content" in str(p)]  # the data is still there: mid-drop
    assert snapshot_labels(c, "kd_repo")["s2"] is None  # no backup of it is visible any more
    c.kill_fe()
    dropping.join(timeout=30)
    assert answers and isinstance(answers[0], pymysql.err.MySQLError), answers
    c.start_fe()
    c.wait_for(lambda: not folder.exists(), timeout=30)
    assert set(snapshot_labels(c, "kd_repo")) == {"s1", "s3"}
    assert restored_rows(c, "kd_repo", "s1", stamps["s1"], "kd_s1") == 5
    assert restored_rows(c, "kd_repo", "s3", stamps["s3"], "kd_s3") == 15
