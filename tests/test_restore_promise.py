"""Restores keep their promise (issue 13): a restore into an existing table refuses every shape Doris refuses,
and when it goes ahead the table is exactly the snapshot; a table under restore refuses every write and DDL
from the moment the job is accepted until it ends, so that no acknowledged row is lost at the commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pymysql
import pytest
import requests

from tests.backup_helpers import backup_and_wait, create_local_repo, hold, release, wait_job
from tests.cluster import Cluster

ONE_REPLICA = "PROPERTIES ('replication_num' = '1')"
LOAD_REFUSED = "Table {} is in restore process. Can not load into it"


def restore(cluster: Cluster, db: str, repo: str, ts: str, clause: str, props: str = "") -> None:
    extra = f", {props}" if props else ""
    cluster.query(f'RESTORE SNAPSHOT {db}.snap FROM {repo} {clause} '
                  f'PROPERTIES ("backup_timestamp" = "{ts}", "replication_num" = "1"{extra})')


def restored(cluster: Cluster, db: str, repo: str, ts: str, clause: str, props: str = "") -> dict:
    restore(cluster, db, repo, ts, clause, props)
    return wait_job(cluster, "RESTORE", db, "snap")


def restore_held_in(cluster: Cluster, state: str, db: str, repo: str, ts: str, clause: str) -> None:
    """A restore started and held in `state` (the caller releases it)."""
    hold(cluster, f"RESTORE.{state}")
    restore(cluster, db, repo, ts, clause)
    wait_job(cluster, "RESTORE", db, "snap", (state,))


def rows(cluster: Cluster, db: str, table: str) -> list[tuple]:
    return sorted(cluster.query(f"SELECT * FROM {db}.{table}"))


def error_of(cluster: Cluster, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as info:
        cluster.query(sql)
    return info.value.args[0], info.value.args[1]


def stream_load(cluster: Cluster, db: str, table: str, body: bytes | object) -> dict:
    r = requests.put(f"{cluster.http}/api/{db}/{table}/_stream_load", data=body, auth=("root", ""),
                     headers={"column_separator": ","}, timeout=60)
    return r.json()


def backed_up_t(cluster: Cluster, tmp_path: Path, db: str) -> tuple[str, str, list[tuple]]:
    """db.t, unpartitioned with one replica and two rows, backed up to its own repository."""
    cluster.query(f"CREATE DATABASE {db}")
    cluster.query(f"CREATE TABLE {db}.t (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                  f"{ONE_REPLICA}")
    cluster.query(f"INSERT INTO {db}.t VALUES (1, 'snap1'), (2, 'snap2')")
    repo = f"{db}_repo"
    create_local_repo(cluster, repo, tmp_path / "repo")
    return repo, backup_and_wait(cluster, db, "snap", repo), rows(cluster, db, "t")


# ---- item 4: a restore into an existing table is all old or all new --------------------------------------


def test_unpartitioned_table_with_another_partition_name_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """The issue's case: `rt` has t's columns but its one partition is named `rt`, not `t`."""
    repo, ts, snap = backed_up_t(cluster, tmp_path, "rp_unpart")
    cluster.query(f"CREATE TABLE rp_unpart.rt (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) "
                  f"BUCKETS 2 {ONE_REPLICA}")
    cluster.query("INSERT INTO rp_unpart.rt VALUES (7, 'old7'), (8, 'old8')")
    row = restored(cluster, "rp_unpart", repo, ts, "ON (t AS rt)")
    assert row["State"] == "CANCELLED", row
    assert row["Status"] == "[COMMON_ERROR, msg: No partition exist in single partitioned table rt]", row
    assert rows(cluster, "rp_unpart", "rt") == [(7, "old7"), (8, "old8")]  # all old
    assert [r["PartitionName"] for r in cluster.query_dicts("SHOW PARTITIONS FROM rp_unpart.rt")] == ["rt"]

    # atomic_restore builds a new table and swaps it in: then rt is exactly the snapshot.
    row = restored(cluster, "rp_unpart", repo, ts, "ON (t AS rt)", '"atomic_restore" = "true"')
    assert row["State"] == "FINISHED", row
    assert rows(cluster, "rp_unpart", "rt") == snap  # all new
    assert [r["PartitionName"] for r in cluster.query_dicts("SHOW PARTITIONS FROM rp_unpart.rt")] == ["t"]


def test_every_shape_doris_refuses_leaves_the_old_rows(cluster: Cluster, tmp_path: Path) -> None:
    db = "rp_shapes"
    cluster.query(f"CREATE DATABASE {db}")
    cluster.query(f"CREATE TABLE {db}.r (k INT, dt DATE) DUPLICATE KEY(k) PARTITION BY RANGE(dt) ("
                  "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01')) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS 2 {ONE_REPLICA}")
    cluster.query(f"INSERT INTO {db}.r VALUES (1, '2024-01-05'), (2, '2024-02-05')")
    repo = f"{db}_repo"
    create_local_repo(cluster, repo, tmp_path / "repo")
    ts = backup_and_wait(cluster, db, "snap", repo)
    snap = rows(cluster, db, "r")

    def target(name: str, partitions: str, buckets: int = 2, replicas: int = 1, rows_sql: str = "",
               columns: str = "k INT, dt DATE", by: str = "RANGE(dt)") -> None:
        cluster.query(f"CREATE TABLE {db}.{name} ({columns}) DUPLICATE KEY(k) PARTITION BY {by} ({partitions}) "
                      f"DISTRIBUTED BY HASH(k) BUCKETS {buckets} PROPERTIES ('replication_num' = '{replicas}')")
        cluster.query(f"INSERT INTO {db}.{name} VALUES {rows_sql or '(9, ' + repr('2024-01-09') + ')'}")

    target("moved", "PARTITION p1 VALUES LESS THAN ('2024-01-15'), PARTITION p2 VALUES LESS THAN ('2024-03-01')")
    target("overlap", "PARTITION p0 VALUES [('2024-01-20'), ('2024-02-10'))", rows_sql="(9, '2024-01-25')")
    target("replicas", "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN "
                       "('2024-03-01')", replicas=2)
    target("buckets", "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN "
                      "('2024-03-01')", buckets=3)
    target("listed", "PARTITION p1 VALUES IN (1), PARTITION p2 VALUES IN (2)", by="LIST(k)",
           rows_sql="(1, '2024-01-09')")
    target("columns", "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN "
                      "('2024-03-01')", columns="k INT, dt DATE, extra INT", rows_sql="(9, '2024-01-09', 0)")
    cases = {
        "moved": "Partition p1 in table moved has different partition item with partition in repository",
        "overlap": "Partition p1 in table overlap has conflict partition item with existing items",
        "replicas": "Partition p1 in table replicas has different replication num '2' with partition in "
                    "repository, which is 1",
        "buckets": "Table buckets already exist but with different schema",
        "listed": "Table's partition type is different",
        "columns": "Table columns already exist but with different schema",
    }
    for name, message in cases.items():
        before = rows(cluster, db, name)
        row = restored(cluster, db, repo, ts, f"ON (r AS {name})")
        assert (row["State"], row["Status"]) == ("CANCELLED", f"[COMMON_ERROR, msg: {message}]"), name
        assert rows(cluster, db, name) == before, name  # all old: not one row of the snapshot

    # What Doris lets through is then exactly the snapshot: the same partitions, or with atomic_restore and
    # force_replace any shape at all.
    target("same", "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01')",
           rows_sql="(10, '2024-01-10'), (20, '2024-02-20')")
    assert restored(cluster, db, repo, ts, "ON (r AS same)")["State"] == "FINISHED"
    assert rows(cluster, db, "same") == snap
    for name in cases:
        row = restored(cluster, db, repo, ts, f"ON (r AS {name})",
                       '"atomic_restore" = "true", "force_replace" = "true"')
        assert row["State"] == "FINISHED", (name, row)
        assert rows(cluster, db, name) == snap, name


# ---- item 5: no write is acknowledged that the restore then replaces ---------------------------------------


STATES = ("PENDING", "DOWNLOADING", "COMMIT", "COMMITTING")


def test_writes_and_ddl_are_refused_in_every_state_of_a_restore(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, snap = backed_up_t(cluster, tmp_path, "rp_writes")
    cluster.query("INSERT INTO rp_writes.t VALUES (3, 'later')")
    try:
        for state in STATES:
            hold(cluster, f"RESTORE.{state}")
            restore(cluster, "rp_writes", repo, ts, "ON (t)")
            wait_job(cluster, "RESTORE", "rp_writes", "snap", (state,))
            before = rows(cluster, "rp_writes", "t")
            code, text = error_of(cluster, "INSERT INTO rp_writes.t VALUES (4, 'lost?')")
            assert (code, text) == (1105, "errCode = 2, detailMessage = " + LOAD_REFUSED.format("t")), state
            answer = stream_load(cluster, "rp_writes", "t", b"5,lost?\n")
            assert answer["Status"] == "Fail", (state, answer)
            assert answer["Message"] == "errCode = 2, detailMessage = " + LOAD_REFUSED.format("t"), state
            assert error_of(cluster, "TRUNCATE TABLE rp_writes.t")[1].endswith(
                "Table' state is not NORMAL: RESTORE")
            assert error_of(cluster, "ALTER TABLE rp_writes.t SET ('replication_num' = '1')")[1].endswith(
                "Table[t]'s state(RESTORE) is not NORMAL. Do not allow doing ALTER ops")
            assert error_of(cluster, "DROP TABLE rp_writes.t")[1].endswith(
                "The table [t]'s state is RESTORE, cannot be dropped. please cancel the operation on olap table "
                "firstly. If you want to forcibly drop(cannot be recovered), please use \"DROP table FORCE\".")
            assert rows(cluster, "rp_writes", "t") == before, state
            release(cluster)
            assert wait_job(cluster, "RESTORE", "rp_writes", "snap")["State"] == "FINISHED"
            assert rows(cluster, "rp_writes", "t") == snap, state  # exactly the snapshot; nothing was acknowledged
            cluster.query("INSERT INTO rp_writes.t VALUES (3, 'later')")  # writable again once it ended
    finally:
        release(cluster)


def test_tables_the_restore_creates_cannot_be_created_meanwhile(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, snap = backed_up_t(cluster, tmp_path, "rp_create")
    try:
        restore_held_in(cluster, "DOWNLOADING", "rp_create", repo, ts, "ON (t AS fresh)")
        code, text = error_of(cluster, f"CREATE TABLE rp_create.fresh (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                                       f"{ONE_REPLICA}")
        assert (code, text) == (1050, "errCode = 2, detailMessage = Table 'fresh' already exists")
        assert error_of(cluster, "CREATE VIEW rp_create.fresh AS SELECT 1")[0] == 1050
        assert error_of(cluster, "ALTER TABLE rp_create.t RENAME fresh")[0] == 1050
        # A restore that creates its database: the name is taken too.
        restore_held_in(cluster, "PENDING", "rp_create_new", repo, ts, "ON (t)")
        assert error_of(cluster, "CREATE DATABASE rp_create_new")[0] == 1007
    finally:
        release(cluster)
    assert wait_job(cluster, "RESTORE", "rp_create", "snap")["State"] == "FINISHED"
    assert wait_job(cluster, "RESTORE", "rp_create_new", "snap")["State"] == "FINISHED"
    assert rows(cluster, "rp_create", "fresh") == snap
    assert rows(cluster, "rp_create_new", "t") == snap


def test_drop_force_during_a_restore_fails_it_cleanly(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, _ = backed_up_t(cluster, tmp_path, "rp_force")
    try:
        restore_held_in(cluster, "COMMIT", "rp_force", repo, ts, "ON (t)")
        cluster.query("DROP TABLE rp_force.t FORCE")  # Doris lets FORCE through
    finally:
        release(cluster)
    row = wait_job(cluster, "RESTORE", "rp_force", "snap")
    assert (row["State"], row["Status"]) == ("CANCELLED", "[COMMON_ERROR, msg: Table t has been dropped]"), row
    assert "t" not in {r[0] for r in cluster.query("SHOW TABLES FROM rp_force")}


def _slow_body(first: bytes, gate: list[bool]):  # type: ignore[no-untyped-def]
    """A Stream Load body whose last row is sent only once gate[0] is set."""
    yield first
    while not gate[0]:
        time.sleep(0.05)
    yield b"6,late\n"


def test_a_load_begun_before_the_restore_cannot_publish_after_it(cluster: Cluster, tmp_path: Path) -> None:
    repo, ts, snap = backed_up_t(cluster, tmp_path, "rp_begun")
    gate = [False]
    answers: list[dict] = []
    loader = threading.Thread(target=lambda: answers.append(
        stream_load(cluster, "rp_begun", "t", _slow_body(b"5,early\n", gate))))
    loader.start()
    try:
        time.sleep(0.5)  # the load has begun and staged its first rows
        restore_held_in(cluster, "COMMIT", "rp_begun", repo, ts, "ON (t)")
        gate[0] = True
        loader.join(30)
    finally:
        gate[0] = True
        release(cluster)
    assert answers and answers[0]["Status"] == "Fail", answers
    assert answers[0]["Message"].endswith(LOAD_REFUSED.format("t")), answers
    assert wait_job(cluster, "RESTORE", "rp_begun", "snap")["State"] == "FINISHED"
    assert rows(cluster, "rp_begun", "t") == snap


def test_the_refusal_survives_an_fe_restart(own_cluster: Cluster, tmp_path: Path) -> None:
    """A restore that cannot finish (a BE holding a target replica is down) still refuses loads after the FE
    restarts, because the refusal is read from the journaled job."""
    c = own_cluster
    c.query("CREATE DATABASE rp_restart")
    c.query("CREATE TABLE rp_restart.t (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
            "PROPERTIES ('replication_num' = '3')")
    c.query("INSERT INTO rp_restart.t VALUES (1, 'snap1'), (2, 'snap2')")
    create_local_repo(c, "rp_repo", tmp_path / "repo")
    ts = backup_and_wait(c, "rp_restart", "snap", "rp_repo")
    snap = rows(c, "rp_restart", "t")
    hold(c, "RESTORE.DOWNLOAD")
    c.query(f'RESTORE SNAPSHOT rp_restart.snap FROM rp_repo ON (t) PROPERTIES ("backup_timestamp" = "{ts}")')
    wait_job(c, "RESTORE", "rp_restart", "snap", ("DOWNLOAD",))
    c.kill_be(2)
    release(c)
    wait_job(c, "RESTORE", "rp_restart", "snap", ("DOWNLOADING",))
    c.kill_fe()
    c.start_fe(auto_backends=False)  # the BEs are journaled; adopting the dead one would fail the start
    assert c.query_dicts("SHOW RESTORE FROM rp_restart")[-1]["State"] in ("DOWNLOADING", "COMMIT")
    assert error_of(c, "INSERT INTO rp_restart.t VALUES (3, 'lost?')")[1].endswith(LOAD_REFUSED.format("t"))
    c.start_be(2)
    assert wait_job(c, "RESTORE", "rp_restart", "snap", timeout=90)["State"] == "FINISHED"
    assert rows(c, "rp_restart", "t") == snap
    c.query("INSERT INTO rp_restart.t VALUES (3, 'after')")
    assert rows(c, "rp_restart", "t") == [*snap, (3, "after")]
