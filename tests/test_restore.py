"""RESTORE (issue 5): round trips that compare every row, Doris's validation errors, damaged repositories,
cancels in every state, and kill -9 of the FE and of a BE around COMMIT: a table reads old or new data,
never a mix."""

from __future__ import annotations

import time
from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import (
    backup_and_wait,
    create_local_repo,
    hold,
    make_sales_db,
    release,
    table_rows,
    wait_job,
)
from tests.cluster import Cluster
from tests.s3server import S3Server

TABLES = ("dup", "agg", "uniq")
# Restoring into a table that exists needs its partitions' replica counts, as in Doris (the sales tables have
# 2, 1 and 3 replicas; a restore asks for 3 unless told otherwise).
RESERVE = "'reserve_replica' = 'true'"


# ---- helpers ---------------------------------------------------------------------------------------------


def restore(cluster: Cluster, db: str, label: str, repo: str, ts: str, clause: str = "", props: str = "") -> None:
    """Submit a RESTORE; props are extra `"k" = "v"` pairs."""
    extra = f", {props}" if props else ""
    cluster.query(f'RESTORE SNAPSHOT {db}.{label} FROM {repo} {clause} '
                  f'PROPERTIES ("backup_timestamp" = "{ts}"{extra})')


def restore_and_wait(cluster: Cluster, db: str, label: str, repo: str, ts: str, clause: str = "",
                     props: str = "", state: str = "FINISHED") -> dict:
    restore(cluster, db, label, repo, ts, clause, props)
    row = wait_job(cluster, "RESTORE", db, label)
    assert row["State"] == state, row
    return row


def backed_up(cluster: Cluster, tmp_path: Path, name: str, rows: int = 40) -> tuple[str, str, dict]:
    """A sales database `name`, backed up whole to its own repository: (repo, timestamp, rows)."""
    data = make_sales_db(cluster, name, rows)
    repo = f"{name}_repo"
    create_local_repo(cluster, repo, tmp_path / "repo")
    return repo, backup_and_wait(cluster, name, "snap", repo), data


def error_of(cluster: Cluster, sql: str, user: str = "root") -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as info:
        cluster.query(sql, user=user)
    return info.value.args[0], info.value.args[1]


def partition_versions(cluster: Cluster, db: str, table: str) -> dict[str, int]:
    rows = cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.{table}")
    return {r["PartitionName"]: int(r["VisibleVersion"]) for r in rows}


def tables_in(cluster: Cluster, db: str) -> set[str]:
    return {r[0] for r in cluster.query(f"SHOW TABLES FROM {db}")}


def snapshot_data_files(repo_folder: Path) -> list[Path]:
    return sorted(p for p in repo_folder.rglob("*") if p.is_file() and "__ss_content" in str(p)
                  and ".hdr." not in p.name)


# ---- round trips -----------------------------------------------------------------------------------------


def test_whole_database_round_trip_into_new_and_same_database(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "rt_src")
    versions = {t: partition_versions(cluster, "rt_src", t) for t in TABLES}
    create_dup = cluster.query("SHOW CREATE TABLE rt_src.dup")[0][1]

    # A new database: created by the restore, every table, row, view and version as backed up; with
    # reserve_replica each table keeps its replication, so SHOW CREATE TABLE prints what it printed.
    restore_and_wait(cluster, "rt_new", "snap", repo, ts, props="'reserve_replica' = 'true'")
    assert table_rows(cluster, "rt_new") == data
    assert tables_in(cluster, "rt_new") == {"dup", "agg", "uniq", "dup_view"}
    assert cluster.query("SELECT count(*) FROM rt_new.dup") == [(40,)]
    assert cluster.query("SELECT count(*) FROM rt_new.dup_view") == [(10,)]
    assert "rt_src" not in cluster.query("SHOW CREATE VIEW rt_new.dup_view")[0][1]  # names the new database
    assert {t: partition_versions(cluster, "rt_new", t) for t in TABLES} == versions
    assert cluster.query("SHOW CREATE TABLE rt_new.dup")[0][1] == create_dup

    # The same database after the tables are dropped, and again over itself (the same label twice).
    for t in TABLES:
        cluster.query(f"DROP TABLE rt_src.{t} FORCE")
    restore_and_wait(cluster, "rt_src", "snap", repo, ts)
    assert table_rows(cluster, "rt_src") == data
    cluster.query("INSERT INTO rt_src.uniq VALUES (100, 1.5)")
    restore_and_wait(cluster, "rt_src", "snap", repo, ts)
    assert table_rows(cluster, "rt_src") == data
    assert {t: partition_versions(cluster, "rt_src", t) for t in TABLES} == versions
    jobs = cluster.query_dicts("SHOW RESTORE FROM rt_src")
    assert [j["State"] for j in jobs] == ["FINISHED", "FINISHED"]


def test_chosen_tables_partitions_and_aliases(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "pick_src")
    restore_and_wait(cluster, "pick_dst", "snap", repo, ts,
                     "ON (dup PARTITION (p1) AS dup_jan, agg AS agg2, uniq)")
    assert tables_in(cluster, "pick_dst") == {"dup_jan", "agg2", "uniq"}
    jan = [r for r in data["dup"] if r[1].month == 1]
    assert cluster.query("SELECT * FROM pick_dst.dup_jan ORDER BY 1, 2, 3") == jan
    assert list(partition_versions(cluster, "pick_dst", "dup_jan")) == ["p1"]
    assert cluster.query("SELECT * FROM pick_dst.agg2 ORDER BY 1, 2, 3") == data["agg"]
    assert cluster.query("SELECT * FROM pick_dst.uniq ORDER BY 1, 2") == data["uniq"]
    assert cluster.query("SELECT count(*) FROM pick_dst.agg2") == [(5,)]

    # EXCLUDE: everything else.
    restore_and_wait(cluster, "pick_ex", "snap", repo, ts, "EXCLUDE (dup, dup_view)")
    assert tables_in(cluster, "pick_ex") == {"agg", "uniq"}
    assert table_rows(cluster, "pick_ex", ("agg", "uniq")) == {t: data[t] for t in ("agg", "uniq")}


def test_plain_restore_replaces_only_the_restored_partitions(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "part_src")
    cluster.query("INSERT INTO part_src.dup VALUES (500, '2024-01-05', 'new1'), (501, '2024-02-05', 'new2')")
    restore_and_wait(cluster, "part_src", "snap", repo, ts, "ON (dup PARTITION (p1))", RESERVE)
    rows = cluster.query("SELECT * FROM part_src.dup ORDER BY 1, 2, 3")
    expected = sorted([r for r in data["dup"] if r[1].month == 1] + [r for r in data["dup"] if r[1].month == 2]
                      + [(501, rows[-1][1], "new2")])
    assert list(rows) == expected  # p1 as backed up (new1 gone), p2 kept its new row
    assert cluster.query("SELECT count(*) FROM part_src.dup") == [(41,)]


def test_restore_into_a_second_cluster_from_the_same_repository(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "xc_src")
    other = Cluster(tmp_path / "other").start()
    try:
        create_local_repo(other, repo, tmp_path / "repo")
        snapshots = other.query(f"SHOW SNAPSHOT ON {repo}")
        assert [(r[0], r[1], r[2]) for r in snapshots] == [("snap", ts, "OK")]
        restore_and_wait(other, "xc_src", "snap", repo, ts)
        assert table_rows(other, "xc_src") == data
        assert other.query("SELECT count(*) FROM xc_src.uniq") == [(7,)]
    finally:
        other.stop()


def test_s3_round_trip(cluster: Cluster, s3: S3Server) -> None:
    data = make_sales_db(cluster, "s3_src")
    bucket = s3.create_bucket("restore-bucket")
    cluster.query(f'CREATE REPOSITORY s3_restore WITH S3 ON LOCATION "s3://{bucket}/r" {s3.properties()}')
    ts = backup_and_wait(cluster, "s3_src", "snap", "s3_restore")
    restore_and_wait(cluster, "s3_dst", "snap", "s3_restore", ts)
    assert table_rows(cluster, "s3_dst") == data


def test_restore_through_the_mariadb_client(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "cli_src")
    done = cluster.mariadb(f'RESTORE SNAPSHOT cli_dst.snap FROM {repo} ON (agg) '
                           f'PROPERTIES ("backup_timestamp" = "{ts}", "replication_num" = "1");')
    assert done.returncode == 0, done.stderr
    wait_job(cluster, "RESTORE", "cli_dst", "snap")
    shown = cluster.mariadb("SHOW RESTORE FROM cli_dst\\G")
    assert "State: FINISHED" in shown.stdout and "Status: [OK]" in shown.stdout, shown.stdout
    rows = cluster.mariadb("SELECT * FROM cli_dst.agg ORDER BY k", extra=("-N", "-B"))
    assert rows.stdout.splitlines() == ["\t".join(str(v) for v in r) for r in data["agg"]]
    bad = cluster.mariadb(f'RESTORE SNAPSHOT cli_dst.snap FROM {repo} PROPERTIES ("timeout" = "60")')
    assert bad.returncode == 1
    assert "ERROR 1105 (HY000)" in bad.stderr and "Missing backup_timestamp property" in bad.stderr


# ---- validation and SHOW RESTORE -------------------------------------------------------------------------


def test_validation_errors(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, _ = backed_up(cluster, tmp_path, "val_src")
    base = f"RESTORE SNAPSHOT val_dst.snap FROM {repo}"
    cases = {
        f"{base} PROPERTIES ('timeout' = '60')": "Missing backup_timestamp property",
        f"{base} PROPERTIES ('backup_timestamp' = '{ts}', 'clean_tables' = 'yes')":
            "Invalid boolean property clean_tables value: yes",
        f"{base} PROPERTIES ('backup_timestamp' = '{ts}', 'colour' = 'red')":
            "Unknown restore job properties: [colour]",
        f"{base} ON (nope) PROPERTIES ('backup_timestamp' = '{ts}')": "Table nope does not exist in snapshot snap",
        f"{base} ON (dup PARTITION (p9)) PROPERTIES ('backup_timestamp' = '{ts}')":
            "Partition p9 of table dup does not exist in snapshot",
        f"{base} ON (dup AS x, agg AS x) PROPERTIES ('backup_timestamp' = '{ts}')": "Duplicated alias name: x",
        f"{base} EXCLUDE (dup AS x) PROPERTIES ('backup_timestamp' = '{ts}')":
            "The table alias in exclude clause does not make sense",
        f"{base} PROPERTIES ('backup_timestamp' = '2001-01-01-00-00-00')":
            "Failed to get info of snapshot 'snap' because: ",
        f"{base} PROPERTIES ('backup_timestamp' = '{ts}', 'force_replace' = 'true')":
            "force_replace is only supported when atomic_restore is true",
    }
    for sql, message in cases.items():
        code, text = error_of(cluster, sql)
        assert code == 1105 and message in text, (sql, text)
    _, text = error_of(cluster, f"{base} PROPERTIES ('backup_timestamp' = '2001-01-01-00-00-00')")
    assert text.endswith("Maybe specified wrong backup timestamp"), text
    assert not cluster.query("SHOW DATABASES LIKE 'val_dst'")


def test_different_schema_force_replace_and_clean(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "sch_src")
    cluster.query("CREATE DATABASE sch_dst")
    cluster.query("CREATE TABLE sch_dst.agg (k INT, other VARCHAR(5)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) "
                  "BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    cluster.query("INSERT INTO sch_dst.agg VALUES (1, 'a')")
    row = restore_and_wait(cluster, "sch_dst", "snap", repo, ts, "ON (agg)", state="CANCELLED")
    assert row["Status"] == "[COMMON_ERROR, msg: Table agg already exist but with different schema]"
    assert cluster.query("SELECT * FROM sch_dst.agg") == [(1, "a")]

    restore_and_wait(cluster, "sch_dst", "snap", repo, ts, "ON (agg)",
                     "'atomic_restore' = 'true', 'force_replace' = 'true'")
    assert cluster.query("SELECT * FROM sch_dst.agg ORDER BY 1, 2, 3") == data["agg"]
    shown = cluster.query("SHOW CREATE TABLE sch_dst.agg")[0][1]
    assert "`total`" in shown and "`other`" not in shown and "AGGREGATE KEY" in shown

    # clean_tables drops what the snapshot lacks; clean_partitions drops partitions it lacks.
    cluster.query("CREATE TABLE sch_dst.extra (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    cluster.query("ALTER TABLE sch_src.dup ADD PARTITION p3 VALUES LESS THAN ('2024-04-01')")
    cluster.query("INSERT INTO sch_src.dup VALUES (900, '2024-03-03', 'march')")
    restore_and_wait(cluster, "sch_src", "snap", repo, ts, "ON (dup)", f"'clean_partitions' = 'true', {RESERVE}")
    assert set(partition_versions(cluster, "sch_src", "dup")) == {"p1", "p2"}
    assert cluster.query("SELECT * FROM sch_src.dup ORDER BY 1, 2, 3") == data["dup"]
    restore_and_wait(cluster, "sch_dst", "snap", repo, ts, "ON (agg, uniq)", "'clean_tables' = 'true'")
    assert tables_in(cluster, "sch_dst") == {"agg", "uniq"}


def test_show_restore_columns_filters_and_replication(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, _ = backed_up(cluster, tmp_path, "show_src")
    restore_and_wait(cluster, "show_dst", "snap", repo, ts, "ON (dup AS d1)", "'replication_num' = '1'")
    restore_and_wait(cluster, "show_dst", "snap", repo, ts, "ON (uniq)")
    with cluster.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW RESTORE FROM show_dst")
        assert len(cur.description) == 21 and len(cur.fetchall()) == 2
        cur.execute("SHOW BRIEF RESTORE FROM show_dst")
        assert len(cur.description) == 18
    rows = cluster.query_dicts("SHOW RESTORE FROM show_dst WHERE Label = 'snap'")
    assert len(rows) == 2 and rows[0]["Timestamp"] == ts and rows[0]["ReplicationNum"] in (1, "1")
    assert cluster.query_dicts("SHOW RESTORE FROM show_dst WHERE Label = 'other'") == []
    replicas = {r["ReplicationNum"] for r in cluster.query_dicts("SHOW PARTITIONS FROM show_dst.d1")}
    assert replicas == {"1"} or replicas == {1}
    tablets = cluster.query_dicts("SHOW TABLETS FROM show_dst.d1")
    assert len(tablets) == 6  # 2 partitions x 3 buckets x 1 replica
    tablets = cluster.query_dicts("SHOW TABLETS FROM show_dst.uniq")
    assert len(tablets) == 6  # default 3 replicas x 2 buckets


def test_restore_needs_load_privilege(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, _ = backed_up(cluster, tmp_path, "priv_src")
    cluster.query("CREATE USER 'restore_reader'@'%' IDENTIFIED BY 'pw'")
    cluster.query("GRANT SELECT_PRIV ON priv_src.* TO 'restore_reader'@'%'")
    with pytest.raises(pymysql.MySQLError) as info:
        cluster.query(f"RESTORE SNAPSHOT priv_src.snap FROM {repo} PROPERTIES ('backup_timestamp' = '{ts}')",
                      user="restore_reader", password="pw")
    assert info.value.args[0] == 1227 and "LOAD" in info.value.args[1]


# ---- damaged repositories --------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip_byte", "delete_file"])
def test_damaged_repository_is_caught(cluster: Cluster, tmp_path: Path, damage: str) -> None:
    db = f"bad_{damage}"
    repo, ts, data = backed_up(cluster, tmp_path, db)
    cluster.query(f"INSERT INTO {db}.uniq VALUES (50, 9.75)")
    current = table_rows(cluster, db)
    victim = snapshot_data_files(tmp_path / "repo")[0]
    if damage == "flip_byte":
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        victim.write_bytes(bytes(raw))
    else:
        victim.unlink()
    row = restore_and_wait(cluster, db, "snap", repo, ts, props=RESERVE, state="CANCELLED")
    assert row["Status"].startswith("[BAD_FILE, msg:"), row
    assert table_rows(cluster, db) == current != data  # untouched: still the rows loaded after the backup


# ---- cancels and crashes: old or new data, never a mix ---------------------------------------------------

RESTORE_STATES = ("PENDING", "SNAPSHOTING", "DOWNLOAD", "DOWNLOADING", "COMMIT", "COMMITTING")


def changed_after_backup(cluster: Cluster, db: str) -> dict[str, list[tuple]]:
    """Rows the target tables hold when the restore runs: the backed-up ones plus more."""
    cluster.query(f"INSERT INTO {db}.dup VALUES (700, '2024-01-09', 'late'), (701, '2024-02-09', 'late')")
    cluster.query(f"INSERT INTO {db}.uniq VALUES (1, 77.00), (70, 70.00)")
    return table_rows(cluster, db)


def test_cancel_in_each_state_keeps_old_data(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, data = backed_up(cluster, tmp_path, "cx_src")
    old = changed_after_backup(cluster, "cx_src")
    try:
        for state in RESTORE_STATES:
            hold(cluster, f"RESTORE.{state}")
            restore(cluster, "cx_src", "snap", repo, ts, "ON (dup, uniq, agg AS agg_new)", RESERVE)
            wait_job(cluster, "RESTORE", "cx_src", "snap", (state,))
            assert table_rows(cluster, "cx_src") == old, state  # held: still the old rows exactly
            if state == "PENDING":
                _, text = error_of(cluster, f"RESTORE SNAPSHOT cx_src.snap FROM {repo} "
                                            f"PROPERTIES ('backup_timestamp' = '{ts}')")
                assert "Can only run one backup or restore job of a database at same time" in text
            cluster.query("CANCEL RESTORE FROM cx_src")
            release(cluster)
            row = wait_job(cluster, "RESTORE", "cx_src", "snap")
            assert row["State"] == "CANCELLED", row
            assert row["Status"] == f"[COMMON_ERROR, msg: user cancelled, current state: {state}]"
            assert table_rows(cluster, "cx_src") == old, state
            assert "agg_new" not in tables_in(cluster, "cx_src"), state
    finally:
        release(cluster)
    assert error_of(cluster, "CANCEL RESTORE FROM cx_src")[1].endswith("No restore is currently running")
    restore_and_wait(cluster, "cx_src", "snap", repo, ts, "ON (dup, uniq)", RESERVE)
    assert table_rows(cluster, "cx_src", ("dup", "uniq")) == {t: data[t] for t in ("dup", "uniq")}


@pytest.mark.parametrize("state", ["COMMIT", "COMMITTING"])
def test_fe_kill_9_while_committing_finishes_with_new_data(own_cluster: Cluster, tmp_path: Path,
                                                            state: str) -> None:
    c = own_cluster
    repo, ts, data = backed_up(c, tmp_path, "fk")
    old = changed_after_backup(c, "fk")
    hold(c, f"RESTORE.{state}")
    restore(c, "fk", "snap", repo, ts, "ON (dup, uniq, agg AS agg_new)", RESERVE)
    wait_job(c, "RESTORE", "fk", "snap", (state,))
    assert table_rows(c, "fk") == old
    c.kill_fe()
    c.start_fe()
    row = wait_job(c, "RESTORE", "fk", "snap")  # the hold lived in memory only
    assert row["State"] == "FINISHED", row
    assert table_rows(c, "fk", ("dup", "uniq")) == {t: data[t] for t in ("dup", "uniq")}
    assert c.query("SELECT * FROM fk.agg_new ORDER BY 1, 2, 3") == data["agg"]


def test_be_kill_9_during_commit_reads_old_until_it_returns(own_cluster: Cluster, tmp_path: Path) -> None:
    c = own_cluster
    repo, ts, data = backed_up(c, tmp_path, "bk")
    old = changed_after_backup(c, "bk")
    hold(c, "RESTORE.COMMIT")
    restore(c, "bk", "snap", repo, ts, "ON (uniq)")  # replication 3: every BE holds a replica
    wait_job(c, "RESTORE", "bk", "snap", ("COMMIT",))
    c.kill_be(1)
    release(c)
    for _ in range(10):  # the commit cannot reach the dead BE: the job waits, the table reads old rows
        assert c.query("SELECT * FROM bk.uniq ORDER BY 1, 2") == old["uniq"]
        assert c.query_dicts("SHOW RESTORE FROM bk")[-1]["State"] == "COMMIT"
        time.sleep(0.3)
    c.start_be(1)
    row = wait_job(c, "RESTORE", "bk", "snap")
    assert row["State"] == "FINISHED", row
    assert table_rows(c, "bk", ("dup", "uniq")) == {"dup": old["dup"], "uniq": data["uniq"]}
