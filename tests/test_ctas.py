"""Issue 14: CREATE TABLE ... AS SELECT, AUTO_INCREMENT columns and INSERT OVERWRITE, through PyMySQL and the
mariadb client."""

from __future__ import annotations

import pymysql
import pytest

from tests.cluster import Cluster


def run(cluster: Cluster, db: str, *statements: str) -> list[tuple]:
    """Run statements in `db` (created if needed); the rows of the last one."""
    with cluster.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        cur.execute(f"USE {db}")
        rows: list[tuple] = []
        for sql in statements:
            cur.execute(sql)
            rows = list(cur.fetchall())
        return rows


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


def test_ctas_errors_leave_no_table(cluster: Cluster) -> None:
    db = "ctas_errors"
    run(cluster, db, "CREATE TABLE src (id INT, v DOUBLE) DISTRIBUTED BY HASH(id) BUCKETS 1",
        "INSERT INTO src VALUES (1, 1.5), (0, 2.5)")
    # A SELECT that fails while it runs creates nothing.
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT id, CAST('x' || id AS INT) AS c FROM src")
    assert code == 1105 and "errCode = 2" in message
    code, message = error_of(cluster, db, "CREATE TABLE bad AS SELECT * FROM missing")
    assert code == 1146 and "does not exist" in message
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
    code, message = error_of(cluster, db, "CREATE TABLE bad (id INT) AS SELECT id FROM src")
    assert code == 1105
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


def test_ctas_through_mariadb_client(cluster: Cluster) -> None:
    script = ("CREATE DATABASE ctas_cli; USE ctas_cli; "
              "CREATE TABLE t (k INT, v VARCHAR(5)) DISTRIBUTED BY HASH(k) BUCKETS 1; "
              "INSERT INTO t VALUES (1, 'a'), (2, 'b'); "
              "CREATE TABLE c PROPERTIES ('replication_num' = '1') AS SELECT k * 10 AS k10, v FROM t; "
              "SELECT * FROM c ORDER BY k10;")
    out = cluster.mariadb(script, extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["10\ta", "20\tb"]
