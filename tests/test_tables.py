"""Databases, tables, views and partitions through the MySQL wire: DDL, SHOWs, errors and privileges."""

from __future__ import annotations

import pymysql
import pytest

from tests.cluster import Cluster
from tests.test_data import run, versions


def error_of(cluster: Cluster, sql: str, user: str = "root", database: str | None = None) -> tuple[int, str]:
    with cluster.connect(user, database=database) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute(sql)
    return info.value.args[0], info.value.args[1]


def test_databases_use_and_errors(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE tbl_db1")
    cluster.query("CREATE DATABASE IF NOT EXISTS tbl_db1")
    assert ("tbl_db1",) in cluster.query("SHOW DATABASES")
    assert error_of(cluster, "CREATE DATABASE tbl_db1") == (
        1007, "errCode = 2, detailMessage = Can't create database 'tbl_db1'; database exists")
    assert error_of(cluster, "USE tbl_nodb") == (1049, "errCode = 2, detailMessage = Unknown database 'tbl_nodb'")
    assert error_of(cluster, "CREATE TABLE tbl_nodb.t (k INT)")[0] == 1049
    with cluster.connect(database="tbl_db1") as conn, conn.cursor() as cur:
        cur.execute("SELECT DATABASE()")
        assert cur.fetchone() == ("tbl_db1",)
    assert cluster.query("SHOW CREATE DATABASE tbl_db1") == [("tbl_db1", "CREATE DATABASE `tbl_db1`")]
    cluster.query("CREATE TABLE tbl_db1.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    cluster.query("DROP DATABASE tbl_db1 FORCE")
    assert ("tbl_db1",) not in cluster.query("SHOW DATABASES")
    cluster.query("DROP DATABASE IF EXISTS tbl_db1")
    assert error_of(cluster, "DROP DATABASE tbl_db1")[0] == 1008


def test_show_create_table_round_trips(cluster: Cluster) -> None:
    db = "tbl_create"
    run(cluster, db, """CREATE TABLE IF NOT EXISTS sales (
          `dt` DATEV2 NOT NULL COMMENT 'day',
          `id` BIGINT NOT NULL,
          `city` VARCHAR(20) DEFAULT "x",
          `amount` DECIMALV3(12, 2) NULL
        ) ENGINE=OLAP
        DUPLICATE KEY(`dt`, `id`)
        COMMENT 'sales facts'
        PARTITION BY RANGE(`dt`) (
          PARTITION p202401 VALUES LESS THAN ("2024-02-01"),
          PARTITION p202402 VALUES LESS THAN ("2024-03-01")
        )
        DISTRIBUTED BY HASH(`id`) BUCKETS 4
        PROPERTIES ("replication_num" = "1", "bloom_filter_columns" = "city");""")
    text = run(cluster, db, "SHOW CREATE TABLE sales")[0][1]
    assert text == (
        "CREATE TABLE `sales` (\n"
        "  `dt` date NOT NULL COMMENT 'day',\n"
        "  `id` bigint NOT NULL,\n"
        "  `city` varchar(20) NULL DEFAULT \"x\",\n"
        "  `amount` decimal(12,2) NULL\n"
        ") ENGINE=OLAP\n"
        "DUPLICATE KEY(`dt`, `id`)\n"
        "COMMENT 'sales facts'\n"
        "PARTITION BY RANGE(`dt`)\n"
        "(PARTITION p202401 VALUES [(\"0000-01-01\"), (\"2024-02-01\")),\n"
        "PARTITION p202402 VALUES [(\"2024-02-01\"), (\"2024-03-01\")))\n"
        "DISTRIBUTED BY HASH(`id`) BUCKETS 4\n"
        "PROPERTIES (\n"
        "\"replication_allocation\" = \"tag.location.default: 1\",\n"
        "\"min_load_replica_num\" = \"-1\",\n"
        "\"is_being_synced\" = \"false\",\n"
        "\"storage_medium\" = \"hdd\",\n"
        "\"storage_format\" = \"V2\",\n"
        "\"inverted_index_storage_format\" = \"V1\",\n"
        "\"light_schema_change\" = \"true\",\n"
        "\"disable_auto_compaction\" = \"false\",\n"
        "\"enable_single_replica_compaction\" = \"false\",\n"
        "\"group_commit_interval_ms\" = \"10000\",\n"
        "\"group_commit_data_bytes\" = \"134217728\",\n"
        "\"bloom_filter_columns\" = \"city\"\n"
        ");")
    # What SHOW CREATE TABLE prints creates the same table again.
    run(cluster, db, "DROP TABLE sales", text)
    assert run(cluster, db, "SHOW CREATE TABLE sales")[0][1] == text
    run(cluster, db, "CREATE TABLE auto_b (id INT, v INT) UNIQUE KEY(id) DISTRIBUTED BY HASH(`id`) BUCKETS AUTO "
                     "PROPERTIES ('replication_allocation' = 'tag.location.default: 2')")
    text = run(cluster, db, "SHOW CREATE TABLE auto_b")[0][1]
    assert "DISTRIBUTED BY HASH(`id`) BUCKETS AUTO" in text
    assert "UNIQUE KEY(`id`)" in text and '"replication_allocation" = "tag.location.default: 2"' in text
    assert run(cluster, db, "SHOW TABLES") == [("auto_b",), ("sales",)]
    assert run(cluster, db, "DESC sales") == [
        ("dt", "DATE", "No", "true", None, ""), ("id", "BIGINT", "No", "true", None, ""),
        ("city", "VARCHAR(20)", "Yes", "false", "x", ""), ("amount", "DECIMAL(12,2)", "Yes", "false", None, "")]


def test_show_partitions_columns_and_values(cluster: Cluster) -> None:
    db = "tbl_parts"
    run(cluster, db, "CREATE TABLE t (k INT, v INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN ('10'), "
                     "PARTITION p2 VALUES LESS THAN ('20')) DISTRIBUTED BY HASH(k) BUCKETS 3 "
                     "PROPERTIES ('replication_num' = '2')",
        "INSERT INTO t VALUES (1, 1), (15, 2)")
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("SHOW PARTITIONS FROM t")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    assert names == ["PartitionId", "PartitionName", "VisibleVersion", "VisibleVersionTime", "State", "PartitionKey",
                     "Range", "DistributionKey", "Buckets", "ReplicationNum", "StorageMedium", "CooldownTime",
                     "RemoteStoragePolicy", "LastConsistencyCheckTime", "DataSize", "IsInMemory",
                     "ReplicaAllocation", "IsMutable", "SyncWithBaseTables", "UnsyncTables"]
    p1 = dict(zip(names, rows[0], strict=True))
    assert p1["PartitionName"] == "p1" and p1["VisibleVersion"] == "2" and p1["State"] == "NORMAL"
    assert p1["PartitionKey"] == "k" and p1["DistributionKey"] == "k" and p1["Buckets"] == "3"
    assert p1["Range"] == "[types: [INT]; keys: [-2147483648]; ..types: [INT]; keys: [10]; )"
    assert p1["ReplicationNum"] == "2" and p1["ReplicaAllocation"] == "tag.location.default: 2"
    assert p1["StorageMedium"] == "HDD" and p1["CooldownTime"] == "9999-12-31 23:59:59"
    assert p1["DataSize"].endswith("KB") and p1["LastConsistencyCheckTime"] is None and p1["UnsyncTables"] is None
    assert run(cluster, db, "SHOW PARTITIONS FROM t WHERE PartitionName = 'p2'")[0][1] == "p2"
    assert [r[1] for r in run(cluster, db, "SHOW PARTITIONS FROM t ORDER BY PartitionName DESC LIMIT 1")] == ["p2"]
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLETS FROM t")
        names = [d[0] for d in cur.description]
        tablets = cur.fetchall()
    assert names[:12] == ["TabletId", "ReplicaId", "BackendId", "SchemaHash", "Version", "LstSuccessVersion",
                          "LstFailedVersion", "LstFailedTime", "LocalDataSize", "RemoteDataSize", "RowCount", "State"]
    assert len(names) == 21 and len(tablets) == 2 * 3 * 2
    by_tablet: dict[str, set[str]] = {}
    for r in tablets:
        by_tablet.setdefault(r[0], set()).add(r[2])
    assert all(len(bes) == 2 for bes in by_tablet.values())  # replicas on distinct backends
    assert len(run(cluster, db, "SHOW TABLETS FROM t WHERE Version = 2")) == 12
    tablet_id = tablets[0][0]
    shown = run(cluster, db, f"SHOW TABLET {tablet_id}")[0]
    assert shown[:4] == (db, "t", "p1", "t") and shown[-1].startswith("SHOW PROC '/dbs/")
    data = run(cluster, db, "SHOW DATA")
    assert data[0][0] == "t" and data[0][2] == "12" and data[1][0] == "Total"


def test_alter_partitions_truncate_rename_drop(cluster: Cluster) -> None:
    db = "tbl_alter"
    run(cluster, db, "CREATE TABLE t (k INT, v INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN ('10')) "
                     "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
        "ALTER TABLE t ADD PARTITION p2 VALUES LESS THAN ('20')",
        "INSERT INTO t VALUES (1, 1), (11, 2)",
        "INSERT INTO t VALUES (12, 3)")
    assert versions(cluster, db, "t") == {"p1": 2, "p2": 3}
    ranges = {r[1]: r[6] for r in run(cluster, db, "SHOW PARTITIONS FROM t")}
    assert ranges["p2"] == "[types: [INT]; keys: [10]; ..types: [INT]; keys: [20]; )"
    assert "intersected" in error_of(cluster, "ALTER TABLE t ADD PARTITION px VALUES [('5'), ('15'))", database=db)[1]
    # A temporary partition loads like any other but is not read by queries.
    run(cluster, db, "ALTER TABLE t ADD TEMPORARY PARTITION tp2 VALUES LESS THAN ('20')",
        "INSERT INTO t PARTITION (tp2) VALUES (13, 4)")
    assert [(r[1], r[2]) for r in run(cluster, db, "SHOW TEMPORARY PARTITIONS FROM t")] == [("tp2", "2")]
    assert run(cluster, db, "SELECT count(*) FROM t WHERE k = 13") == [(0,)]
    run(cluster, db, "ALTER TABLE t DROP TEMPORARY PARTITION tp2")
    assert run(cluster, db, "SHOW TEMPORARY PARTITIONS FROM t") == []
    run(cluster, db, "TRUNCATE TABLE t PARTITION (p2)")
    assert run(cluster, db, "SELECT k FROM t") == [(1,)]
    assert versions(cluster, db, "t") == {"p1": 2, "p2": 1}
    run(cluster, db, "ALTER TABLE t DROP PARTITION p1", "ALTER TABLE t DROP PARTITION IF EXISTS p1")
    assert run(cluster, db, "SELECT count(*) FROM t") == [(0,)]
    run(cluster, db, "ALTER TABLE t RENAME t2")
    assert run(cluster, db, "SHOW TABLES") == [("t2",)]
    run(cluster, db, "TRUNCATE TABLE t2", "DROP TABLE t2 FORCE", "DROP TABLE IF EXISTS t2")
    code, message = error_of(cluster, "DROP TABLE t2", database=db)
    assert "Unknown table 't2'" in message
    assert run(cluster, db, "SHOW TABLES") == []


def test_like_views_auto_and_empty_partitions(cluster: Cluster) -> None:
    db = "tbl_misc"
    run(cluster, db, "CREATE TABLE base (k INT, v INT SUM) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "CREATE TABLE copy LIKE base",
        "INSERT INTO copy VALUES (1, 1), (1, 2)",
        "CREATE VIEW vw (kk, vv) AS SELECT k, v * 10 FROM copy")
    assert run(cluster, db, "SELECT * FROM vw") == [(1, 30)]
    assert run(cluster, db, "SHOW FULL TABLES") == [("base", "BASE TABLE"), ("copy", "BASE TABLE"), ("vw", "VIEW")]
    assert run(cluster, db, "SHOW CREATE VIEW vw")[0][0] == "vw"
    run(cluster, db, "DROP VIEW vw")
    run(cluster, db, "CREATE TABLE empty_r (dt DATE, v INT) PARTITION BY RANGE(dt) () "
                     "DISTRIBUTED BY HASH(dt) BUCKETS 1")
    assert run(cluster, db, "SHOW PARTITIONS FROM empty_r") == []
    assert "Insert has filtered data" in error_of(
        cluster, "INSERT INTO empty_r VALUES ('2024-01-01', 1)", database=db)[1]
    run(cluster, db, "CREATE TABLE auto_p (dt DATETIME NOT NULL, v INT) AUTO PARTITION BY RANGE "
                     "(date_trunc(`dt`, 'day')) () DISTRIBUTED BY HASH(dt) BUCKETS 1",
        "INSERT INTO auto_p VALUES ('2024-01-01 10:00:00', 1), ('2024-01-02 11:00:00', 2), "
        "('2024-01-01 12:00:00', 3)")
    assert versions(cluster, db, "auto_p") == {"p20240101000000": 2, "p20240102000000": 2}
    assert run(cluster, db, "SELECT sum(v) FROM auto_p") == [(6,)]
    # information_schema, as tools read it.
    rows = cluster.query(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' "
                         "ORDER BY table_name")
    assert [r[0] for r in rows] == ["auto_p", "base", "copy", "empty_r"]


def test_create_table_errors(cluster: Cluster) -> None:
    db = "tbl_errors"
    run(cluster, db, "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    assert error_of(cluster, "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1", database=db)[0] == 1050
    code, message = error_of(cluster, "CREATE TABLE r5 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                                      "PROPERTIES ('replication_num' = '5')", database=db)
    assert message.startswith("errCode = 2, detailMessage = Failed to find enough backend, please check the "
                              "replication num,replication tag and storage medium and avail capacity of backends")
    assert run(cluster, db, "SHOW TABLES") == [("t",)]
    assert error_of(cluster, "SELECT * FROM nosuch", database=db) == (
        1105, f"errCode = 2, detailMessage = Table [nosuch] does not exist in database [{db}].")
    assert "Key columns should be a ordered prefix" in error_of(
        cluster, "CREATE TABLE bad (a INT, b INT) DUPLICATE KEY(b) DISTRIBUTED BY HASH(b) BUCKETS 1", database=db)[1]
    assert "must be set in AGGREGATE KEY table" in error_of(
        cluster, "CREATE TABLE bad (a INT, b INT) AGGREGATE KEY(a) DISTRIBUTED BY HASH(a) BUCKETS 1",
        database=db)[1]
    assert error_of(cluster, "CREATE TABLE bad (a INT, b FOO)", database=db)[0] == 1064
    assert error_of(cluster, "INSERT INTO t VALUES (1, 2)", database=db)[0] == 1136
    assert "strict mode" in error_of(cluster, "INSERT INTO t VALUES ('abc')", database=db)[1]
    run(cluster, db, "CREATE TABLE s (k INT, v VARCHAR(3)) DISTRIBUTED BY HASH(k) BUCKETS 1")
    assert "longer than 3" in error_of(cluster, "INSERT INTO s VALUES (1, 'abc'), (2, 'abcd')", database=db)[1]
    run(cluster, db, "CREATE TABLE nn (k INT NOT NULL, v INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    assert "is NOT NULL" in error_of(cluster, "INSERT INTO nn VALUES (1, 1), (NULL, 2)", database=db)[1]
    assert "no default value" in error_of(cluster, "INSERT INTO nn (v) VALUES (1)", database=db)[1]
    assert run(cluster, db, "SELECT count(*) FROM s") == [(0,)]


def test_privileges_on_tables(cluster: Cluster) -> None:
    db = "tbl_priv"
    run(cluster, db, "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1", "INSERT INTO t VALUES (1)")
    cluster.query("CREATE USER tbl_reader")
    cluster.query(f"GRANT SELECT_PRIV ON {db}.t TO tbl_reader")
    cluster.query("CREATE USER tbl_nobody")
    assert cluster.query(f"SELECT * FROM {db}.t", user="tbl_reader") == [(1,)]
    code, message = error_of(cluster, f"INSERT INTO {db}.t VALUES (2)", user="tbl_reader")
    assert code == 1142 and "LOAD command denied to user 'tbl_reader'" in message
    assert error_of(cluster, f"DROP TABLE {db}.t", user="tbl_reader")[0] == 1142
    assert error_of(cluster, f"CREATE DATABASE {db}_x", user="tbl_reader")[0] == 1044
    assert error_of(cluster, f"SELECT * FROM {db}.t", user="tbl_nobody")[0] == 1142
    assert error_of(cluster, f"USE {db}", user="tbl_nobody")[0] == 1044
    assert (db,) not in cluster.query("SHOW DATABASES", user="tbl_nobody")
    assert error_of(cluster, f"SHOW TABLETS FROM {db}.t", user="tbl_reader")[0] == 1227
    cluster.query(f"GRANT LOAD_PRIV ON {db}.* TO tbl_reader")
    assert cluster.query(f"INSERT INTO {db}.t VALUES (2)", user="tbl_reader") == []
    assert run(cluster, db, "SELECT count(*) FROM t") == [(2,)]


def test_mariadb_cli_shows(cluster: Cluster) -> None:
    db = "tbl_cli"
    run(cluster, db, "CREATE TABLE t (k INT NOT NULL, v VARCHAR(4)) PARTITION BY RANGE(k) "
                     "(PARTITION p1 VALUES LESS THAN ('10')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                     "PROPERTIES ('replication_num' = '1')",
        "INSERT INTO t VALUES (1, 'a')")
    out = cluster.mariadb(f"SHOW PARTITIONS FROM {db}.t; DESC {db}.t; SHOW TABLETS FROM {db}.t",
                          extra=("--batch",))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["PartitionId", "PartitionName", "VisibleVersion"]
    fields = lines[1].split("\t")
    assert fields[1:3] == ["p1", "2"] and fields[6] == (
        "[types: [INT]; keys: [-2147483648]; ..types: [INT]; keys: [10]; )") and fields[13] == "NULL"
    assert lines[2] == "Field\tType\tNull\tKey\tDefault\tExtra"
    assert lines[3] == "k\tINT\tNo\ttrue\tNULL\t"
    assert lines[5].startswith("TabletId\tReplicaId\tBackendId") and len(lines) == 8
    assert {line.split("\t")[4] for line in lines[6:]} == {"2"}


def test_show_create_table_reparses_for_every_layout(cluster: Cluster) -> None:
    """What SHOW CREATE TABLE prints makes an identical table, whatever its key model and partitioning."""
    db = "tbl_reparse"
    tables = {
        "agg": "CREATE TABLE agg (k1 INT, k2 DATETIMEV2(3) NOT NULL, s BIGINT SUM DEFAULT '0', r STRING REPLACE, "
               "m DOUBLE MAX, n LARGEINT MIN, rn BOOLEAN REPLACE_IF_NOT_NULL) "
               "DISTRIBUTED BY HASH(k1) BUCKETS 3 PROPERTIES ('replication_num' = '1', "
               "'bloom_filter_columns' = 'k2,k1')",
        "lst": "CREATE TABLE lst (id INT, city VARCHAR(8)) UNIQUE KEY(id, city) PARTITION BY LIST (id, city) "
               "(PARTITION p1 VALUES IN ((1, 'a'), (2, 'b')), PARTITION p2 VALUES IN ((3, 'c'))) "
               "DISTRIBUTED BY HASH(id) BUCKETS AUTO",
        "auto": "CREATE TABLE auto (dt DATE NOT NULL, v DECIMAL(20, 4)) DUPLICATE KEY(dt) "
                "AUTO PARTITION BY RANGE (date_trunc(dt, 'month')) () DISTRIBUTED BY RANDOM BUCKETS 2",
    }
    run(cluster, db, *tables.values())
    run(cluster, db, "INSERT INTO auto VALUES ('2024-03-05', 1.5), ('2024-04-01', 2)")
    for name in tables:
        text = run(cluster, db, f"SHOW CREATE TABLE {name}")[0][1]
        run(cluster, db, f"DROP TABLE {name}", text)
        assert run(cluster, db, f"SHOW CREATE TABLE {name}")[0][1] == text, name
    text = run(cluster, db, "SHOW CREATE TABLE agg")[0][1]
    assert '"bloom_filter_columns" = "k1, k2"' in text and "`k2` datetime(3) NOT NULL" in text
    assert "PARTITION p20240301000000 VALUES [(\"2024-03-01\"), (\"2024-04-01\"))" in run(
        cluster, db, "SHOW CREATE TABLE auto")[0][1]
