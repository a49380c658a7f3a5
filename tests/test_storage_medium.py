"""Storage media: one SSD BE and two HDD BEs (storage roots be0.SSD, be1.HDD, be2); tables and partitions on a
medium, Doris's errors, SHOW PARTITIONS / SHOW CREATE TABLE, and RESTORE's storage_medium and
medium_allocation_mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from doris_br.cli import spawn, stop
from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster
from tests.s3server import S3Server
from tests.test_keep_on_local import local_backup, snapshot_dirs

DB = "media_db"
LOCAL_DB = "media_local"
NOT_ENOUGH = ("Failed to find enough backend, please check the replication num,replication tag and storage medium "
              "and avail capacity of backends")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("media"), media=("SSD", "HDD")).start()
    c.query(f"CREATE DATABASE {DB}")
    yield c
    c.stop()


def ssd_backend_id(c: Cluster) -> int:
    """be0 is the SSD one: find its id by its address."""
    host, port = c.be_addresses[0].rsplit(":", 1)
    row = next(r for r in c.query_dicts("SHOW BACKENDS") if str(r["HeartbeatPort"]) == port)
    return int(row["BackendId"])


def tablet_backends(c: Cluster, table: str) -> set[int]:
    return {int(r["BackendId"]) for r in c.query_dicts(f"SHOW TABLETS FROM {DB}.{table}")}


def media_of(c: Cluster, table: str) -> dict[str, str]:
    return {r["PartitionName"]: r["StorageMedium"] for r in c.query_dicts(f"SHOW PARTITIONS FROM {DB}.{table}")}


def error_of(c: Cluster, sql: str) -> str:
    with pytest.raises(pymysql.MySQLError) as e:
        c.query(sql)
    return str(e.value.args[1])


def create(c: Cluster, name: str, properties: str) -> None:
    c.query(f"CREATE TABLE {DB}.{name} (k INT, dt DATE, v VARCHAR(10)) DUPLICATE KEY(k) "
            "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
            "PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
            f"PROPERTIES ({properties})")
    c.query(f"INSERT INTO {DB}.{name} VALUES (1, '2024-01-05', 'a'), (2, '2024-02-07', 'b'), (3, '2024-01-09', 'c')")


def backed_up_to_local(c: Cluster, tmp_path_factory: pytest.TempPathFactory, repo: str, table: str,
                       properties: str, snapshot: str) -> str:
    """A new table of `create`'s shape, backed up to a new LOCAL repository; the snapshot's backup_timestamp."""
    folder: Path = tmp_path_factory.mktemp(repo)
    create_local_repo(c, repo, folder)
    create(c, table, properties)
    return backup_and_wait(c, DB, snapshot, repo, f"ON ({table})")


def test_ssd_table_is_placed_on_the_ssd_backend_only(media: Cluster) -> None:
    create(media, "fast", "'storage_medium' = 'SSD', 'replication_num' = '1'")
    assert media_of(media, "fast") == {"p1": "SSD", "p2": "SSD"}
    assert tablet_backends(media, "fast") == {ssd_backend_id(media)}
    text = media.query(f"SHOW CREATE TABLE {DB}.fast")[0][1]
    assert '"storage_medium" = "ssd"' in text
    assert sorted(media.query(f"SELECT k FROM {DB}.fast")) == [(1,), (2,), (3,)]
    # The mariadb client sees the same column.
    out = media.mariadb(f"SHOW PARTITIONS FROM {DB}.fast")
    assert out.returncode == 0 and "SSD" in out.stdout


def test_default_and_hdd_tables_stay_off_the_ssd_backend(media: Cluster) -> None:
    create(media, "slow", "'replication_num' = '2'")
    assert media_of(media, "slow") == {"p1": "HDD", "p2": "HDD"}
    assert ssd_backend_id(media) not in tablet_backends(media, "slow")
    assert '"storage_medium" = "hdd"' in media.query(f"SHOW CREATE TABLE {DB}.slow")[0][1]
    create(media, "slow_named", "'storage_medium' = 'hdd', 'replication_num' = '1'")
    assert ssd_backend_id(media) not in tablet_backends(media, "slow_named")


def test_medium_errors(media: Cluster) -> None:
    message = error_of(media, f"CREATE TABLE {DB}.two_ssd (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                               "PROPERTIES ('storage_medium' = 'ssd', 'replication_num' = '2')")
    assert message.startswith("errCode = 2, detailMessage = " + NOT_ENOUGH), message
    assert message.endswith("replication num: 2, storage medium: SSD"), message
    # Without a medium named, HDD is tried, then SSD, and the error names the one tried last (as Doris's).
    message = error_of(media, f"CREATE TABLE {DB}.three (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                               "PROPERTIES ('replication_num' = '3')")
    assert message.endswith("replication num: 3, storage medium: SSD"), message
    message = error_of(media, f"CREATE TABLE {DB}.bad (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                               "PROPERTIES ('storage_medium' = 'nvme', 'replication_num' = '1')")
    assert message == "errCode = 2, detailMessage = Invalid storage medium: nvme"
    media.query(f"CREATE TABLE {DB}.errs (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    message = error_of(media, f"ALTER TABLE {DB}.errs SET ('storage_medium' = 'tape')")
    assert message == "errCode = 2, detailMessage = Invalid storage medium: tape"


def test_partition_storage_medium(media: Cluster) -> None:
    """A partition's own properties: in CREATE TABLE and in ALTER TABLE ... ADD PARTITION."""
    media.query(f"CREATE TABLE {DB}.mixed (k INT, dt DATE) DUPLICATE KEY(k) PARTITION BY RANGE(dt) ("
                "PARTITION hot VALUES LESS THAN ('2024-02-01') ('storage_medium' = 'ssd'), "
                "PARTITION cold VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                "PROPERTIES ('replication_num' = '1')")
    media.query(f"ALTER TABLE {DB}.mixed ADD PARTITION warm VALUES LESS THAN ('2024-04-01') "
                "(\"storage_medium\" = \"SSD\")")
    assert media_of(media, "mixed") == {"hot": "SSD", "cold": "HDD", "warm": "SSD"}
    rows = media.query_dicts(f"SHOW TABLETS FROM {DB}.mixed PARTITION (hot, warm)")
    assert {int(r["BackendId"]) for r in rows} == {ssd_backend_id(media)}
    message = error_of(media, f"ALTER TABLE {DB}.mixed ADD PARTITION p5 VALUES LESS THAN ('2024-05-01') "
                              "('storage_medium' = 'floppy')")
    assert message == "errCode = 2, detailMessage = Invalid storage medium: floppy"
    assert "p5" not in media_of(media, "mixed")
    media.query(f"TRUNCATE TABLE {DB}.mixed")  # new tablets, each partition on its medium still
    assert media_of(media, "mixed") == {"hot": "SSD", "cold": "HDD", "warm": "SSD"}


def test_modify_partition_moves_its_replicas_and_data(media: Cluster) -> None:
    create(media, "moving", "'replication_num' = '1'")
    media.query(f"INSERT INTO {DB}.moving VALUES (4, '2024-01-20', 'd')")  # a second version in p1
    media.query(f"CREATE TABLE {DB}.moving_u (k INT, v VARCHAR(5)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                "PROPERTIES ('replication_num' = '1')")
    for v in ("old", "new"):  # the later version must still win once the files have moved
        media.query(f"INSERT INTO {DB}.moving_u VALUES (1, '{v}'), (2, '{v}')")
    before = sorted(media.query(f"SELECT * FROM {DB}.moving"))

    media.query(f"ALTER TABLE {DB}.moving MODIFY PARTITION p1 SET ('storage_medium' = 'SSD')")
    assert media_of(media, "moving") == {"p1": "SSD", "p2": "HDD"}
    rows = media.query_dicts(f"SHOW TABLETS FROM {DB}.moving PARTITION (p1)")
    assert {int(r["BackendId"]) for r in rows} == {ssd_backend_id(media)}
    assert sorted(media.query(f"SELECT * FROM {DB}.moving")) == before
    media.query(f"INSERT INTO {DB}.moving VALUES (5, '2024-01-21', 'e')")  # loads go on into the moved tablets
    assert sorted(media.query(f"SELECT k FROM {DB}.moving")) == [(1,), (2,), (3,), (4,), (5,)]

    media.query(f"ALTER TABLE {DB}.moving_u MODIFY PARTITION (*) SET ('storage_medium' = 'ssd')")
    assert media_of(media, "moving_u") == {"moving_u": "SSD"}
    assert sorted(media.query(f"SELECT * FROM {DB}.moving_u")) == [(1, "new"), (2, "new")]
    media.query(f"ALTER TABLE {DB}.moving MODIFY PARTITION (p1, p2) SET ('storage_medium' = 'hdd')")
    assert media_of(media, "moving") == {"p1": "HDD", "p2": "HDD"}
    assert ssd_backend_id(media) not in tablet_backends(media, "moving")
    assert sorted(media.query(f"SELECT k FROM {DB}.moving")) == [(1,), (2,), (3,), (4,), (5,)]

    assert error_of(media, f"ALTER TABLE {DB}.moving MODIFY PARTITION p9 SET ('storage_medium' = 'ssd')") == (
        "errCode = 2, detailMessage = Partition[p9] does not exist in table[moving]")
    assert error_of(media, f"ALTER TABLE {DB}.moving MODIFY PARTITION p1 SET ('storage_medium' = 'ssd', "
                           "'colour' = 'red')") == "errCode = 2, detailMessage = Unknown properties: colour = red"
    assert error_of(media, f"ALTER TABLE {DB}.moving MODIFY PARTITION p1 SET ('storage_medium' = 'tape')") == (
        "errCode = 2, detailMessage = Invalid storage medium: tape")
    assert media_of(media, "moving") == {"p1": "HDD", "p2": "HDD"}
    media.query(f"CREATE TABLE {DB}.moving_2 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                "PROPERTIES ('replication_num' = '2')")
    message = error_of(media, f"ALTER TABLE {DB}.moving_2 MODIFY PARTITION moving_2 SET ('storage_medium' = 'ssd')")
    assert message.endswith("replication num: 2, storage medium: SSD"), message  # one SSD BE, two replicas
    assert media_of(media, "moving_2") == {"moving_2": "HDD"}


def test_modify_partition_does_not_copy_a_damaged_replica(media: Cluster) -> None:
    media.query(f"CREATE TABLE {DB}.damaged (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                "PROPERTIES ('replication_num' = '1')")
    media.query(f"INSERT INTO {DB}.damaged VALUES (1), (2)")
    tablet = media.query_dicts(f"SHOW TABLETS FROM {DB}.damaged")[0]["TabletId"]
    [rowset] = media.root.glob(f"be*/data/{tablet}/v2.parquet")
    with open(rowset, "r+b") as f:  # in place: the inode keeps the md5 recorded when it was written
        f.seek(8)
        byte = f.read(1)
        f.seek(8)
        f.write(bytes([byte[0] ^ 0xFF]))
    message = error_of(media, f"ALTER TABLE {DB}.damaged MODIFY PARTITION damaged SET ('storage_medium' = 'ssd')")
    assert message == (f"errCode = 2, detailMessage = Failed to move partition[damaged] to SSD: tablet {tablet}: "
                       "v2.parquet does not match its md5"), message
    assert media_of(media, "damaged") == {"damaged": "HDD"}
    assert media.query_dicts(f"SHOW TABLETS FROM {DB}.damaged")[0]["TabletId"] == tablet


def test_restore_storage_medium_and_allocation_mode(media: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    ts = backed_up_to_local(media, tmp_path_factory, "media_repo", "src_ssd",
                            "'storage_medium' = 'ssd', 'replication_num' = '1'", "snap_ssd")

    def restore(label: str, alias: str, props: str) -> dict:
        media.query(f"RESTORE SNAPSHOT {DB}.snap_ssd FROM media_repo ON (src_ssd AS {alias}) PROPERTIES "
                    f"('backup_timestamp' = '{ts}', 'replication_num' = '1'{props})")
        return wait_job(media, "RESTORE", DB, "snap_ssd")

    # Bad values: Doris's words, case-sensitive.
    for props, message in (
        (", 'storage_medium' = 'SSD'", "Invalid storage_medium value: SSD. Must be 'hdd', 'ssd' or "
                                       "'same_with_upstream'"),
        (", 'medium_allocation_mode' = 'loose'", "Invalid medium_allocation_mode value: loose. Must be 'strict' "
                                                 "or 'adaptive'"),
    ):
        assert error_of(media, f"RESTORE SNAPSHOT {DB}.snap_ssd FROM media_repo ON (src_ssd AS x) PROPERTIES "
                               f"('backup_timestamp' = '{ts}'{props})") == f"errCode = 2, detailMessage = {message}"

    # same_with_upstream (the default): back on SSD, and SHOW CREATE TABLE names the mode.
    row = restore("snap_ssd", "r_same", ", 'storage_medium' = 'same_with_upstream'")
    assert row["State"] == "FINISHED", row
    assert media_of(media, "r_same") == {"p1": "SSD", "p2": "SSD"}
    assert tablet_backends(media, "r_same") == {ssd_backend_id(media)}
    assert '"medium_allocation_mode" = "strict"' in media.query(f"SHOW CREATE TABLE {DB}.r_same")[0][1]

    # hdd: the restored table and its partitions move to HDD.
    row = restore("snap_ssd", "r_hdd", ", 'storage_medium' = 'hdd'")
    assert row["State"] == "FINISHED", row
    assert media_of(media, "r_hdd") == {"p1": "HDD", "p2": "HDD"}
    assert ssd_backend_id(media) not in tablet_backends(media, "r_hdd")
    text = media.query(f"SHOW CREATE TABLE {DB}.r_hdd")[0][1]
    assert '"storage_medium" = "hdd"' in text
    assert sorted(media.query(f"SELECT k FROM {DB}.r_hdd")) == [(1,), (2,), (3,)]


def test_ssd_and_hdd_partitions_come_back_from_s3_on_their_media(media: Cluster, s3: S3Server) -> None:
    """Dropped and restored with the defaults (same_with_upstream, strict): each partition on its medium again."""
    media.query(f"CREATE TABLE {DB}.tiers (k INT, dt DATE) DUPLICATE KEY(k) PARTITION BY RANGE(dt) ("
                "PARTITION cold VALUES LESS THAN ('2024-02-01'), "
                "PARTITION hot VALUES LESS THAN ('2024-03-01') ('storage_medium' = 'ssd')) "
                "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    media.query(f"INSERT INTO {DB}.tiers VALUES (1, '2024-01-02'), (2, '2024-02-03'), (3, '2024-02-04')")
    bucket = s3.create_bucket("media-s3")
    media.query(f'CREATE REPOSITORY media_s3 WITH S3 ON LOCATION "s3://{bucket}/m" {s3.properties()}')
    ts = backup_and_wait(media, DB, "tiers_snap", "media_s3", "ON (tiers)")
    media.query(f"DROP TABLE {DB}.tiers FORCE")
    media.query(f"RESTORE SNAPSHOT {DB}.tiers_snap FROM media_s3 ON (tiers) PROPERTIES "
                f"('backup_timestamp' = '{ts}', 'replication_num' = '1')")
    row = wait_job(media, "RESTORE", DB, "tiers_snap")
    assert row["State"] == "FINISHED", row
    assert media_of(media, "tiers") == {"cold": "HDD", "hot": "SSD"}
    rows = media.query_dicts(f"SHOW TABLETS FROM {DB}.tiers PARTITION (hot)")
    assert {int(r["BackendId"]) for r in rows} == {ssd_backend_id(media)}
    assert sorted(media.query(f"SELECT k FROM {DB}.tiers")) == [(1,), (2,), (3,)]


def test_restore_strict_fails_and_adaptive_falls_back(media: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    ts = backed_up_to_local(media, tmp_path_factory, "media_repo2", "src_hdd", "'replication_num' = '2'", "snap_hdd")
    restore = (f"RESTORE SNAPSHOT {DB}.snap_hdd FROM media_repo2 ON (src_hdd AS {{alias}}) PROPERTIES "
               f"('backup_timestamp' = '{ts}', 'replication_num' = '2', 'storage_medium' = 'ssd'{{mode}})")
    # One SSD BE cannot hold two replicas: strict fails the job with Doris's placement error.
    media.query(restore.format(alias="r_strict", mode=", 'medium_allocation_mode' = 'strict'"))
    row = wait_job(media, "RESTORE", DB, "snap_hdd")
    assert row["State"] == "CANCELLED", row
    assert row["Status"].startswith("[COMMON_ERROR, msg: " + NOT_ENOUGH), row["Status"]
    assert "storage medium: SSD" in row["Status"]
    assert not media.query(f"SHOW TABLES FROM {DB} LIKE 'r_strict'")
    # adaptive takes the other medium instead.
    media.query(restore.format(alias="r_adaptive", mode=", 'medium_allocation_mode' = 'adaptive'"))
    row = wait_job(media, "RESTORE", DB, "snap_hdd")
    assert row["State"] == "FINISHED", row
    assert media_of(media, "r_adaptive") == {"p1": "HDD", "p2": "HDD"}
    assert '"medium_allocation_mode" = "adaptive"' in media.query(f"SHOW CREATE TABLE {DB}.r_adaptive")[0][1]


def test_restore_into_existing_partitions_and_their_medium(media: Cluster,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """same_with_upstream into partitions that exist: strict needs their own (local) medium; adaptive falls back."""
    ts = backed_up_to_local(media, tmp_path_factory, "media_repo3", "local_ssd",
                            "'storage_medium' = 'ssd', 'replication_num' = '1'", "snap_local")
    restore = (f"RESTORE SNAPSHOT {DB}.snap_local FROM media_repo3 ON (local_ssd) PROPERTIES ("
               f"'backup_timestamp' = '{ts}', 'replication_num' = '1', 'medium_allocation_mode' = '{{mode}}')")
    media.kill_be(0)  # the only SSD BE
    try:
        media.wait_for(lambda: [b["Alive"] for b in media.query_dicts("SHOW BACKENDS")].count("false") == 1)
        media.query(restore.format(mode="strict"))
        row = wait_job(media, "RESTORE", DB, "snap_local")
        assert row["State"] == "CANCELLED", row
        assert row["Status"] == ("[COMMON_ERROR, msg: Failed to allocate local medium SSD for partition p1 in strict "
                                 "mode. System attempted to use HDD instead, but strict mode does not allow "
                                 "fallback.]"), row["Status"]
        assert media_of(media, "local_ssd") == {"p1": "SSD", "p2": "SSD"}
        media.query(restore.format(mode="adaptive"))
        row = wait_job(media, "RESTORE", DB, "snap_local")
        assert row["State"] == "FINISHED", row
        assert media_of(media, "local_ssd") == {"p1": "HDD", "p2": "HDD"}
        assert sorted(media.query(f"SELECT k FROM {DB}.local_ssd")) == [(1,), (2,), (3,)]
    finally:
        media.start_be(0)
        media.wait_for(lambda: all(b["Alive"] == "true" for b in media.query_dicts("SHOW BACKENDS")))


def test_media_and_local_snapshots_survive_an_fe_restart(media: Cluster) -> None:
    """This module's cluster is the one restarted, so __keep_on_local__ (tests/test_keep_on_local.py) is checked
    across a restart here too."""
    create(media, "kept", "'storage_medium' = 'ssd', 'replication_num' = '1'")
    media.query(f"CREATE DATABASE {LOCAL_DB}")
    media.query(f"CREATE TABLE {LOCAL_DB}.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                "PROPERTIES ('replication_num' = '1')")
    media.query(f"INSERT INTO {LOCAL_DB}.t VALUES (1)")
    local = local_backup(media, "before", LOCAL_DB)
    folders = snapshot_dirs(media, int(local["JobId"]))
    media.kill_fe()
    media.start_fe(auto_backends=False)
    assert media_of(media, "kept") == {"p1": "SSD", "p2": "SSD"}
    assert [r[0] for r in media.query("SHOW SNAPSHOT ON `__keep_on_local__`")] == ["before"]
    assert folders and all(d.exists() for d in folders)
    # Placement needs the BEs' media again, which the first heartbeats bring.
    media.wait_for(lambda: len([b for b in media.query_dicts("SHOW BACKENDS") if b["Alive"] == "true"]) == 3)
    media.query(f"ALTER TABLE {DB}.kept ADD PARTITION p3 VALUES LESS THAN ('2024-04-01')")
    assert media_of(media, "kept")["p3"] == "SSD"
    assert tablet_backends(media, "kept") == {ssd_backend_id(media)}
    # The local snapshot is still released when its job leaves the history after the restart.
    media.query("ADMIN SET FRONTEND CONFIG ('max_backup_restore_job_num_per_db' = '1')")
    local_backup(media, "after", LOCAL_DB)
    media.wait_for(lambda: not any(d.exists() for d in folders))
    assert [r[0] for r in media.query("SHOW SNAPSHOT ON `__keep_on_local__`")] == ["after"]


@pytest.mark.parametrize("written, medium", [(",medium:ssd", "SSD"), (".SSD;{tmp}/d2/doris.HDD", "SSD")])
def test_be_conf_storage_root_path_names_the_medium(tmp_path: Path, written: str, medium: str) -> None:
    """Doris's be.conf form, `storage_root_path = /disk/doris.SSD` (or `,medium:ssd`; the first root of a list)."""
    root = tmp_path / "d1" / "doris"
    conf = tmp_path / "be.conf"
    conf.write_text(f"storage_root_path = {root}{written.format(tmp=tmp_path)}\n")
    proc, line = spawn(["be", "--conf", str(conf)], tmp_path / "be.log")
    try:
        folder = f"{root}.{medium}" if written.startswith(".") else str(root)
        assert f" storage={folder} medium={medium} " in f"{line} ", line
        assert Path(folder, "instance_id").exists()
    finally:
        stop([proc])
