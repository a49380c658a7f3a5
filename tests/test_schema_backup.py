"""A whole Doris database backs up and comes back: a view with a column list, an indexed table, a dynamic-partition
table, an AUTO PARTITION table with retention, SSD and HDD partitions and a merge-on-write table changed by UPDATE
and DELETE. Backed up to LOCAL and to S3, dropped, restored from each, and read the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster
from tests.s3server import S3Server
from tests.test_dynamic_partition import days, partitions, set_interval
from tests.test_storage_medium import ssd_backend_id

DB = "whole"
TABLES = ("logs", "dp", "ap", "tiers", "accounts")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One SSD BE and two HDD BEs."""
    c = Cluster(tmp_path_factory.mktemp("whole"), media=("SSD", "HDD")).start()
    yield c
    c.stop()


def make_database(c: Cluster) -> None:
    one = "PROPERTIES ('replication_num' = '1'"
    c.query(f"CREATE DATABASE {DB}")
    c.query(f"CREATE TABLE {DB}.logs (id INT, msg STRING, INDEX msg_idx (msg) USING INVERTED "
            "PROPERTIES ('parser' = 'english') COMMENT 'words') DUPLICATE KEY(id) "
            f"DISTRIBUTED BY HASH(id) BUCKETS 2 {one})")
    c.query(f"INSERT INTO {DB}.logs VALUES (1, 'hello world'), (2, 'goodbye world'), (3, 'hello again')")
    c.query(f"CREATE VIEW {DB}.greetings (gid, text COMMENT 'the message') AS "
            f"SELECT * FROM {DB}.logs WHERE msg MATCH_ANY 'hello'")
    c.query(f"CREATE TABLE {DB}.dp (day DATE, v INT) PARTITION BY RANGE(day) () DISTRIBUTED BY HASH(v) BUCKETS 1 "
            f"{one}, 'dynamic_partition.time_unit' = 'DAY', 'dynamic_partition.start' = '-3', "
            "'dynamic_partition.end' = '2', 'dynamic_partition.prefix' = 'p', "
            "'dynamic_partition.create_history_partition' = 'true')")
    c.query(f"INSERT INTO {DB}.dp VALUES ('{days(-2)}', 1), ('{days(0)}', 2), ('{days(2)}', 3)")
    c.query(f"CREATE TABLE {DB}.ap (k DATETIME NOT NULL, v INT) AUTO PARTITION BY RANGE (date_trunc(k, 'day')) () "
            f"DISTRIBUTED BY HASH(v) BUCKETS 1 {one}, 'partition.retention_count' = '2')")
    c.query(f"INSERT INTO {DB}.ap VALUES " + ", ".join(f"('{days(i)} 08:00:00', {i})" for i in range(-4, 1)))
    c.query(f"CREATE TABLE {DB}.tiers (k INT, dt DATE) DUPLICATE KEY(k) PARTITION BY RANGE(dt) ("
            "PARTITION cold VALUES LESS THAN ('2024-02-01'), "
            "PARTITION hot VALUES LESS THAN ('2024-03-01') ('storage_medium' = 'ssd')) "
            f"DISTRIBUTED BY HASH(k) BUCKETS 2 {one})")
    c.query(f"INSERT INTO {DB}.tiers VALUES (1, '2024-01-02'), (2, '2024-02-03'), (3, '2024-02-04')")
    c.query(f"CREATE TABLE {DB}.accounts (id BIGINT NOT NULL AUTO_INCREMENT, name VARCHAR(16), balance INT) "
            f"UNIQUE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2 {one})")
    c.query(f"INSERT INTO {DB}.accounts (name, balance) VALUES ('ann', 10), ('bob', 20), ('cy', 30)")
    c.query(f"UPDATE {DB}.accounts SET balance = balance + 5 WHERE name = 'bob'")
    c.query(f"DELETE FROM {DB}.accounts WHERE name = 'cy'")


def seen(c: Cluster) -> dict[str, object]:
    """What a user reads of the database: every table's and the view's rows, the indexes, each partition's
    medium, which partitions the dynamic and AUTO PARTITION tables hold."""
    state: dict[str, object] = {t: sorted(c.query(f"SELECT * FROM {DB}.{t}")) for t in TABLES}
    state["view"] = sorted(c.query(f"SELECT gid, text FROM {DB}.greetings"))
    state["view columns"] = [r[0] for r in c.query(f"DESC {DB}.greetings")]
    state["index"] = [(r["Key_name"], r["Column_name"], r["Index_type"])
                      for r in c.query_dicts(f"SHOW INDEX FROM {DB}.logs")]
    state["match"] = sorted(c.query(f"SELECT id FROM {DB}.logs WHERE msg MATCH_ALL 'hello world'"))
    state["media"] = {name: p["StorageMedium"] for name, p in partitions(c, f"{DB}.tiers").items()}
    state["dp partitions"] = sorted(partitions(c, f"{DB}.dp"))
    state["ap partitions"] = sorted(partitions(c, f"{DB}.ap"))
    return state


def drop_and_restore(c: Cluster, repo: str, label: str, timestamp: str) -> None:
    c.query(f"DROP DATABASE {DB} FORCE")
    c.query(f"RESTORE SNAPSHOT {DB}.{label} FROM {repo} PROPERTIES ('backup_timestamp' = '{timestamp}', "
            "'replication_num' = '1')")
    row = wait_job(c, "RESTORE", DB, label, timeout=120)
    assert row["State"] == "FINISHED", row


def test_a_whole_database_comes_back_from_local_and_s3(mixed: Cluster, s3: S3Server, tmp_path: Path) -> None:
    c = mixed
    set_interval(c, 1)  # the scheduler applies retention_count within a second or two
    try:
        make_database(c)
        # retention_count 2: the two newest history days stay, and today's.
        c.wait_for(lambda: len(partitions(c, f"{DB}.ap")) == 3 or None, timeout=20)
        before = seen(c)
        assert before["view"] == [(1, "hello world"), (3, "hello again")]
        assert before["match"] == [(1,)]
        assert before["media"] == {"cold": "HDD", "hot": "SSD"}
        assert [r[1:] for r in before["accounts"]] == [("ann", 10), ("bob", 25)]  # type: ignore[index]
        assert [r[1] for r in before["ap"]] == [-2, -1, 0]  # type: ignore[index]

        create_local_repo(c, "whole_local", tmp_path / "repo")
        bucket = s3.create_bucket("whole-s3")
        c.query(f'CREATE REPOSITORY whole_s3 WITH S3 ON LOCATION "s3://{bucket}/r" {s3.properties()}')
        local_ts = backup_and_wait(c, DB, "snap_local", "whole_local")
        s3_ts = backup_and_wait(c, DB, "snap_s3", "whole_s3")

        for repo, label, ts in (("whole_local", "snap_local", local_ts), ("whole_s3", "snap_s3", s3_ts)):
            drop_and_restore(c, repo, label, ts)
            after = seen(c)
            assert after == before, (repo, after)
            # The SSD partition's replica is on the SSD backend again; the dynamic table is restored disabled.
            hot = c.query_dicts(f"SHOW TABLETS FROM {DB}.tiers PARTITION (hot)")
            assert {int(r["BackendId"]) for r in hot} == {ssd_backend_id(c)}
            assert '"dynamic_partition.enable" = "false"' in c.query(f"SHOW CREATE TABLE {DB}.dp")[0][1]
            # The restored tables take changes: no id is handed out twice, updates and deletes apply.
            c.query(f"INSERT INTO {DB}.accounts (name, balance) VALUES ('dee', 40)")
            ids = [r[0] for r in c.query(f"SELECT id FROM {DB}.accounts")]
            assert len(set(ids)) == len(ids) == 3
            c.query(f"DELETE FROM {DB}.accounts WHERE name = 'dee'")
    finally:
        set_interval(c, 600)
