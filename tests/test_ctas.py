"""Issue 14: CREATE TABLE ... AS SELECT, AUTO_INCREMENT columns and INSERT OVERWRITE, through PyMySQL and the
mariadb client."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pymysql
import pytest
import requests

from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster
from tests.test_data import run


def error_of(cluster: Cluster, db: str, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        run(cluster, db, sql)
    return e.value.args[0], e.value.args[1]


def create_text(cluster: Cluster, db: str, table: str) -> str:
    return run(cluster, db, f"SHOW CREATE TABLE {table}")[0][1]


def tables(cluster: Cluster, db: str) -> list[str]:
    return [r[0] for r in run(cluster, db, "SHOW TABLES")]


# ---- CREATE TABLE ... AS SELECT ----------------------------------------------------------------------------


def test_ctas_dbt_doris_form_and_doris_defaults(cluster: Cluster) -> None:
    db = "ctas_forms"
    run(cluster, db, "CREATE TABLE src (id INT NOT NULL, name VARCHAR(20), amount DECIMAL(10, 2), d DATE) "
                     "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
        "INSERT INTO src VALUES (1, 'a', 1.50, '2024-01-01'), (2, 'b', 2.25, '2024-01-02'), (3, NULL, NULL, NULL)")
    # Exactly what dbt-doris's table materialization sends.
    run(cluster, db, f"create table `{db}`.`m__dbt_tmp`\n  COMMENT ''\n  DISTRIBUTED BY HASH (`id`) BUCKETS 10\n"
                     "  PROPERTIES (\n    \"replication_num\" = \"1\"\n  ) as (\n"
                     f"  select id, name, amount * 2 AS doubled, upper(name) AS shout from `{db}`.`src`\n);")
    assert run(cluster, db, "SELECT * FROM m__dbt_tmp ORDER BY id") == [
        (1, "a", 3.0, "A"), (2, "b", 4.5, "B"), (3, None, None, None)]
    text = create_text(cluster, db, "m__dbt_tmp")
    # Table columns keep their types and nullability; computed text is STRING.
    assert "`id` int NOT NULL" in text and "`name` varchar(20) NULL" in text and "`shout` string NULL" in text
    assert "DUPLICATE KEY(`id`, `name`)" in text and "DISTRIBUTED BY HASH(`id`) BUCKETS 10" in text
    # No clauses at all: Doris's CTAS defaults, a DUPLICATE key prefix and HASH(first column) BUCKETS 10.
    run(cluster, db, "CREATE TABLE plain PROPERTIES (\"replication_num\" = \"1\") AS "
                     "SELECT id, d, amount, name FROM src WHERE id < 3")
    text = create_text(cluster, db, "plain")
    assert "DUPLICATE KEY(`id`, `d`, `amount`)" in text and "DISTRIBUTED BY HASH(`id`) BUCKETS 10" in text
    assert "`d` date NULL" in text and "`amount` decimal(10,2) NULL" in text
    assert run(cluster, db, "SELECT count(*) FROM plain") == [(2,)]
    # A string first column becomes VARCHAR(65533), the key stops after it.
    run(cluster, db, "CREATE TABLE s AS SELECT concat(name, 'x') AS k, id FROM src")
    text = create_text(cluster, db, "s")
    assert "`k` varchar(65533) NULL" in text and "DUPLICATE KEY(`k`)" in text
    # (a, b) renames; keys, partitions and buckets as written; SELECT * copies the columns.
    run(cluster, db, "CREATE TABLE IF NOT EXISTS r (k, v) ENGINE=olap UNIQUE KEY(k) COMMENT 'renamed' "
                     "DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '1') "
                     "AS SELECT id, amount FROM src")
    text = create_text(cluster, db, "r")
    assert "UNIQUE KEY(`k`)" in text and "COMMENT 'renamed'" in text and "BUCKETS 3" in text
    assert run(cluster, db, "SELECT k, v FROM r ORDER BY k") == [(1, 1.5), (2, 2.25), (3, None)]
    run(cluster, db, "CREATE TABLE p PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2024-01-02'), "
                     "PARTITION p2 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(id) BUCKETS 1 "
                     "AS SELECT * FROM src WHERE d IS NOT NULL")
    # One row in each partition, published as its version 2.
    assert {r["PartitionName"]: r["VisibleVersion"] for r in cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.p")} \
        == {"p1": "2", "p2": "2"}
    assert create_text(cluster, db, "p").startswith("CREATE TABLE `p` (\n  `id` int NOT NULL,\n  `name` varchar(20)")
    # Constants and aggregates: the engine's result types.
    run(cluster, db, "CREATE TABLE agg AS SELECT name, count(*) AS n, sum(id) AS total, 1.5 AS x FROM src "
                     "GROUP BY name")
    text = create_text(cluster, db, "agg")
    assert "`n` bigint NULL" in text and "`total` bigint NULL" in text and "`x` decimal(2,1) NULL" in text
    assert run(cluster, db, "SELECT name, n, total FROM agg ORDER BY name") == [
        (None, 1, 3), ("a", 1, 1), ("b", 1, 2)]
    # An outer join's columns may be NULL even where the table's are NOT NULL.
    run(cluster, db, "CREATE TABLE j AS SELECT s.id AS sid, o.id AS oid FROM src s LEFT JOIN src o ON o.id = s.id + 1")
    assert "`oid` int NULL" in create_text(cluster, db, "j")
    assert run(cluster, db, "SELECT * FROM j ORDER BY sid") == [(1, 2), (2, 3), (3, None)]


def test_ctas_errors_leave_no_table(cluster: Cluster) -> None:
    db = "ctas_errors"
    run(cluster, db, "CREATE TABLE src (id INT, v DOUBLE) DISTRIBUTED BY HASH(id) BUCKETS 1",
        "INSERT INTO src VALUES (1, 1.5), (0, 2.5)")
    # A SELECT that fails while it runs creates nothing.
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT id, CAST('x' || id AS INT) AS c FROM src")
    assert code == 1105 and "errCode = 2" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT * FROM missing")
    assert code == 1105 and "does not exist" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad (a, b, c) AS SELECT id, v FROM src")
    assert (code, message) == (1105, "errCode = 2, detailMessage = ctas column size is not equal to the query's")
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT v, id FROM src")
    assert "The olap table first column could not be float, double, string" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT id, id FROM src")
    assert code == 1060 and "Duplicate column name 'id'" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad DISTRIBUTED BY HASH(zz) BUCKETS 1 AS SELECT id FROM src")
    assert "Distribution column[zz] is not found" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad PROPERTIES ('replication_num' = '4') AS SELECT id FROM src")
    assert "Failed to find enough backend" in message
    assert error_of(cluster, db, "CREATE TABLE bad (id INT) AS SELECT id FROM src") == (
        1105, "errCode = 2, detailMessage = Should not define the entire column in CTAS")
    code, message = error_of(cluster, db, "CREATE TABLE bad PROPERTIES ('replication_num' = '1')")
    assert code == 1064
    assert tables(cluster, db) == ["src"]
    # An existing name: Doris's 1050, or nothing at all with IF NOT EXISTS (and nothing is loaded).
    code, message = error_of(cluster, db, "CREATE TABLE src AS SELECT 1 AS id")
    assert code == 1050 and "Table 'src' already exists" in message
    run(cluster, db, "CREATE TABLE IF NOT EXISTS src AS SELECT 7 AS id, 7.0 AS v")
    assert run(cluster, db, "SELECT count(*) FROM src") == [(2,)]
    # An empty result makes an empty table.
    run(cluster, db, "CREATE TABLE empty AS SELECT id FROM src WHERE id > 100")
    assert run(cluster, db, "SELECT count(*) FROM empty") == [(0,)]


def test_ctas_table_appears_only_with_its_rows(cluster: Cluster) -> None:
    db = "ctas_visible"
    run(cluster, db, "SELECT 1")
    seen: set[int] = set()
    errors: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        with cluster.connect(database=db) as conn, conn.cursor() as cur:
            while not stop.is_set():
                try:
                    cur.execute("SELECT count(*) FROM big")
                    seen.add(cur.fetchone()[0])
                except pymysql.err.MySQLError as e:
                    errors.add(e.args[0])  # 1105 while it is not there yet

    reader = threading.Thread(target=read)
    reader.start()
    try:
        run(cluster, db, "CREATE TABLE big AS SELECT number AS k, number % 7 AS v FROM numbers('number' = '300000')")
        cluster.wait_for(lambda: bool(seen))
    finally:
        stop.set()
        reader.join()
    assert seen == {300000} and errors <= {1105}


def test_ctas_through_mariadb_client(cluster: Cluster) -> None:
    script = ("CREATE DATABASE ctas_cli; USE ctas_cli; "
              "CREATE TABLE t (k INT, v VARCHAR(5)) DISTRIBUTED BY HASH(k) BUCKETS 1; "
              "INSERT INTO t VALUES (1, 'a'), (2, 'b'); "
              "CREATE TABLE c PROPERTIES ('replication_num' = '1') AS SELECT k * 10 AS k10, v FROM t; "
              "SELECT * FROM c ORDER BY k10;")
    out = cluster.mariadb(script, extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["10\ta", "20\tb"]


# ---- AUTO_INCREMENT ----------------------------------------------------------------------------------------


AUTO_TABLE = ("CREATE TABLE {name} (id BIGINT NOT NULL AUTO_INCREMENT{start}, v INT) {keys} "
              "DISTRIBUTED BY HASH(v) BUCKETS 2 PROPERTIES ('replication_num' = '1')")


def ids(cluster: Cluster, db: str, table: str) -> list[int]:
    return [r[0] for r in run(cluster, db, f"SELECT id FROM {table} ORDER BY id")]


def test_auto_increment_fills_ids_and_keeps_explicit_ones(cluster: Cluster) -> None:
    db = "autoinc_fill"
    run(cluster, db, AUTO_TABLE.format(name="t", start="", keys="DUPLICATE KEY(id)"),
        "INSERT INTO t (v) VALUES (1), (2), (3)",
        "INSERT INTO t (id, v) VALUES (NULL, 4), (1000, 5), (NULL, 6)",
        "INSERT INTO t (v) SELECT number + 1000 FROM numbers('number' = '100')")
    got = ids(cluster, db, "t")
    assert len(got) == 106 and len(set(got)) == 106 and got[:3] == [1, 2, 3]
    assert run(cluster, db, "SELECT id FROM t WHERE v = 5") == [(1000,)]
    assert run(cluster, db, "SELECT count(*) FROM t WHERE v IN (4, 6) AND id > 3 AND id < 1000") == [(2,)]
    assert "`id` bigint NOT NULL AUTO_INCREMENT(1)" in create_text(cluster, db, "t")
    assert run(cluster, db, "DESC t")[0] == ("id", "BIGINT", "No", "true", None, "AUTO_INCREMENT")
    # A start value, on a UNIQUE table whose key it is not; Stream Load fills it too.
    run(cluster, db, "CREATE TABLE u (v INT NOT NULL, id BIGINT NOT NULL AUTO_INCREMENT(100)) UNIQUE KEY(v) "
                     "DISTRIBUTED BY HASH(v) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
        "INSERT INTO u (v) VALUES (1), (2)")
    assert "`id` bigint NOT NULL AUTO_INCREMENT(100)" in create_text(cluster, db, "u")
    r = requests.put(f"{cluster.http}/api/{db}/u/_stream_load", data=b"3\n4\n", auth=("root", ""),
                     headers={"columns": "v"}, timeout=60).json()
    assert r["Status"] == "Success", r
    got = [row[1] for row in run(cluster, db, "SELECT v, id FROM u ORDER BY v")]
    assert got[:2] == [100, 101] and len(set(got)) == 4 and min(got[2:]) > 101
    # CTAS from an auto-increment table copies the values, not the counter.
    run(cluster, db, "CREATE TABLE c AS SELECT id, v FROM t")
    assert "AUTO_INCREMENT" not in create_text(cluster, db, "c")


def test_auto_increment_errors(cluster: Cluster) -> None:
    db = "autoinc_errors"
    base = "CREATE TABLE bad ({cols}) {keys} DISTRIBUTED BY HASH(k) BUCKETS 1"
    cases = [
        ("k INT, a BIGINT NOT NULL AUTO_INCREMENT, b BIGINT NOT NULL AUTO_INCREMENT", "DUPLICATE KEY(k)",
         "there can be at most one auto increment column in OlapTable."),
        ("k INT, a BIGINT AUTO_INCREMENT", "DUPLICATE KEY(k)", "the auto increment column should be NOT NULL."),
        ("k INT, a BIGINT NOT NULL AUTO_INCREMENT DEFAULT '0'", "DUPLICATE KEY(k)",
         "the auto increment column can't have default value."),
        ("k INT, a INT NOT NULL AUTO_INCREMENT", "DUPLICATE KEY(k)", "the auto increment must be BIGINT type."),
        ("k INT, a BIGINT NOT NULL AUTO_INCREMENT", "AGGREGATE KEY(k, a)",
         "the auto increment is only supported in duplicate table and unique table."),
    ]
    for cols, keys, message in cases:
        assert error_of(cluster, db, base.format(cols=cols, keys=keys)) == (
            1105, f"errCode = 2, detailMessage = {message}")
    code, _ = error_of(cluster, db, base.format(cols="k INT, a BIGINT NOT NULL AUTO_INCREMENT(-1)", keys=""))
    assert code == 1064
    assert tables(cluster, db) == []


def test_auto_increment_survives_fe_restart(own_cluster: Cluster) -> None:
    c = own_cluster
    db = "autoinc_restart"
    run(c, db, AUTO_TABLE.format(name="t", start="", keys="DUPLICATE KEY(id)"), "INSERT INTO t (v) VALUES (1), (2)")
    before = ids(c, db, "t")
    c.kill_fe()
    c.start_fe()
    c.wait_for(lambda: all(r[9] == "true" for r in c.query("SHOW BACKENDS")))
    run(c, db, "INSERT INTO t (v) VALUES (3), (4)")
    after = ids(c, db, "t")
    assert after[:2] == before and len(set(after)) == 4 and min(after[2:]) > max(before)


def test_restore_never_moves_the_counter_back(cluster: Cluster, tmp_path: Path) -> None:
    src, dst, repo = "autoinc_bk", "autoinc_rs", "autoinc_repo"
    run(cluster, src, AUTO_TABLE.format(name="t", start="", keys="DUPLICATE KEY(id)"),
        "INSERT INTO t (v) SELECT number FROM numbers('number' = '10')")
    backed = ids(cluster, src, "t")
    create_local_repo(cluster, repo, tmp_path)
    ts = backup_and_wait(cluster, src, "snap", repo)
    # Into a new table: its ids continue after the backed-up ones.
    run(cluster, dst, "SELECT 1")
    cluster.query(f'RESTORE SNAPSHOT {dst}.snap FROM {repo} PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1")')
    assert wait_job(cluster, "RESTORE", dst, "snap")["State"] == "FINISHED"
    run(cluster, dst, "INSERT INTO t (v) VALUES (100)")
    got = ids(cluster, dst, "t")
    assert len(set(got)) == 11 and got[:10] == backed and got[10] > max(backed)
    # Over an existing table whose counter is higher: it keeps its own, and the rows are the backup's.
    run(cluster, src, "INSERT INTO t (v) SELECT number FROM numbers('number' = '5')")
    higher = max(ids(cluster, src, "t"))
    cluster.query(f'RESTORE SNAPSHOT {src}.snap FROM {repo} PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1")')
    assert wait_job(cluster, "RESTORE", src, "snap")["State"] == "FINISHED"
    run(cluster, src, "INSERT INTO t (v) VALUES (100)")
    got = ids(cluster, src, "t")
    assert got[:10] == backed and len(got) == 11 and got[10] > higher
    # Over a table without an auto-increment column: Doris's refusal.
    other = "autoinc_plain"
    run(cluster, other, "CREATE TABLE t (id BIGINT NOT NULL, v INT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(v) "
                        "BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    cluster.query(f'RESTORE SNAPSHOT {other}.snap FROM {repo} PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1")')
    row = wait_job(cluster, "RESTORE", other, "snap")
    assert row["State"] == "CANCELLED" and ("Table t already exists but with different schema, local table "
                                            "doesn't have auto-increment column but remote table has") in row["Status"]


# ---- INSERT OVERWRITE --------------------------------------------------------------------------------------


RANGE_TABLE = ("CREATE TABLE {name} (k INT NOT NULL, v VARCHAR(3)) DUPLICATE KEY(k) PARTITION BY RANGE(k) ("
               "PARTITION p1 VALUES LESS THAN ('10'), PARTITION p2 VALUES LESS THAN ('20'), "
               "PARTITION p3 VALUES LESS THAN ('30')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
               "PROPERTIES ('replication_num' = '1')")


def rows_of(cluster: Cluster, db: str, table: str) -> list[tuple]:
    return run(cluster, db, f"SELECT * FROM {table} ORDER BY k, v")


def tablet_dirs(cluster: Cluster) -> int:
    return sum(1 for i in range(cluster.backend_count) for _ in (cluster.root / f"be{i}" / "data").iterdir())


def test_insert_overwrite_table_and_partitions(cluster: Cluster) -> None:
    db = "overwrite_parts"
    run(cluster, db, RANGE_TABLE.format(name="t"), "INSERT INTO t VALUES (1, 'a'), (11, 'b'), (21, 'c')")
    tablets = {r[0] for r in run(cluster, db, "SHOW TABLETS FROM t")}
    # The whole table: what the query gives, nothing of before; fresh tablets, the old ones dropped.
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        assert cur.execute("INSERT OVERWRITE TABLE t SELECT k + 1, concat(v, v) FROM t WHERE k < 20") == 2
    assert rows_of(cluster, db, "t") == [(2, "aa"), (12, "bb")]
    assert not tablets & {r[0] for r in run(cluster, db, "SHOW TABLETS FROM t")}
    # Named partitions: only they are replaced; a row for another partition fails the whole statement.
    run(cluster, db, "INSERT INTO t VALUES (25, 'z')",
        "INSERT OVERWRITE TABLE t PARTITION (p1, p3) WITH LABEL ow1 (v, k) VALUES ('x', 3), ('y', 23)")
    assert rows_of(cluster, db, "t") == [(3, "x"), (12, "bb"), (23, "y")]
    code, message = error_of(cluster, db, "INSERT OVERWRITE TABLE t PARTITION (p1) VALUES (4, 'q'), (14, 'r')")
    assert "Insert has filtered data in strict mode" in message
    code, message = error_of(cluster, db, "INSERT OVERWRITE TABLE t PARTITION (p1) WITH LABEL ow1 VALUES (4, 'q')")
    assert "Label [ow1] has already been used" in message
    code, message = error_of(cluster, db, "INSERT OVERWRITE TABLE t PARTITION (p9) VALUES (4, 'q')")
    assert "Unknown partition 'p9' in table 't'" in message
    code, message = error_of(cluster, db, "INSERT OVERWRITE t VALUES (4, 'q')")
    assert code == 1064
    assert rows_of(cluster, db, "t") == [(3, "x"), (12, "bb"), (23, "y")]
    # PARTITION (*): the partitions the rows land in, and no other.
    run(cluster, db, "INSERT OVERWRITE TABLE t PARTITION (*) VALUES (15, 'n'), (16, 'm')")
    assert rows_of(cluster, db, "t") == [(3, "x"), (15, "n"), (16, "m"), (23, "y")]
    # An empty overwrite of the whole table empties it.
    run(cluster, db, "INSERT OVERWRITE TABLE t SELECT * FROM t WHERE k > 100")
    assert rows_of(cluster, db, "t") == []
    assert [r["PartitionName"] for r in cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.t")] == ["p1", "p2", "p3"]
    # AUTO PARTITION tables get the partitions the rows need.
    run(cluster, db, "CREATE TABLE a (d DATE NOT NULL, v INT) DUPLICATE KEY(d) AUTO PARTITION BY RANGE "
                     "(date_trunc(d, 'month')) () DISTRIBUTED BY HASH(d) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1')",
        "INSERT INTO a VALUES ('2024-01-05', 1), ('2024-02-05', 2)",
        "INSERT OVERWRITE TABLE a PARTITION (*) VALUES ('2024-02-06', 3), ('2024-03-01', 4)")
    assert run(cluster, db, "SELECT * FROM a ORDER BY d") == [
        (dt.date(2024, 1, 5), 1), (dt.date(2024, 2, 6), 3), (dt.date(2024, 3, 1), 4)]


def test_insert_overwrite_is_atomic(cluster: Cluster) -> None:
    db = "overwrite_atomic"
    run(cluster, db, RANGE_TABLE.format(name="t"),
        "INSERT INTO t SELECT number, 'old' FROM numbers('number' = '30')")
    before, dirs = rows_of(cluster, db, "t"), tablet_dirs(cluster)
    # Failing midway, in the query or in the load (a value too long for VARCHAR(3)): nothing changes, and the
    # fresh tablets are gone again.
    error_of(cluster, db, "INSERT OVERWRITE TABLE t SELECT k, CAST(concat('x', v) AS INT) FROM t")
    code, message = error_of(cluster, db, "INSERT OVERWRITE TABLE t SELECT k, if(k = 29, 'toolong', 'new') FROM t")
    assert "longer than 3" in message
    assert rows_of(cluster, db, "t") == before
    cluster.wait_for(lambda: tablet_dirs(cluster) == dirs)
    # Readers see all old or all new rows while overwrites run.
    counts: set[tuple[int, int]] = set()
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        with cluster.connect(database=db) as conn, conn.cursor() as cur:
            while not stop.is_set():
                try:
                    cur.execute("SELECT count(*), count(DISTINCT v) FROM t")
                    counts.add(cur.fetchone())
                except pymysql.err.MySQLError as e:
                    errors.append(str(e))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(6):
            n = 30 if i % 2 else 60
            run(cluster, db, f"INSERT OVERWRITE TABLE t SELECT number % 30, 'n{n}' FROM numbers('number' = '{n}')")
    finally:
        stop.set()
        reader.join()
    assert counts <= {(30, 1), (60, 1)} and (60, 1) in counts and not errors, (counts, errors[:3])


def test_overwritten_tablets_are_dropped_after_the_keep_time_also_after_a_restart(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "cluster", backends=1)
    c.conf.write_text(c.conf.read_text() + "overwritten_tablets_keep_s = 3\n")
    c.start()
    try:
        db = "overwrite_keep"
        run(c, db, "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 4 "
                    "PROPERTIES ('replication_num' = '1')", "INSERT INTO t VALUES (1, 1)")
        dirs = tablet_dirs(c)
        run(c, db, "INSERT OVERWRITE TABLE t VALUES (2, 2)")
        # The old tablets stay for the reads planned before the swap; an FE restart does not forget them.
        assert tablet_dirs(c) == 2 * dirs
        c.kill_fe()
        c.start_fe()
        c.wait_for(lambda: tablet_dirs(c) == dirs, timeout=20)
        assert run(c, db, "SELECT * FROM t") == [(2, 2)]
    finally:
        c.stop()


def test_insert_overwrite_through_mariadb_client(cluster: Cluster) -> None:
    script = ("CREATE DATABASE ow_cli; USE ow_cli; "
              "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 1; "
              "INSERT INTO t VALUES (1, 1), (2, 2); "
              "INSERT OVERWRITE TABLE t SELECT k, v * 10 FROM t WHERE k = 2; "
              "SELECT * FROM t;")
    out = cluster.mariadb(script, extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["2\t20"]
