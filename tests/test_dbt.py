"""dbt-doris against the server: a dbt project with a view model and a table model, run with the real `dbt`
executable as a user runs it, twice (the second run replaces both); and the statements dbt-doris sends that
the server answers as Doris does (ALTER TABLE ... REPLACE WITH TABLE, information_schema's table types)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from tests.cluster import Cluster
from tests.test_data import run

SOURCE_DB, TARGET_DB = "dbt_src", "dbt_out"
DBT = Path(sys.executable).with_name("dbt")

PROJECT = """\
name: br_test
version: "1.0"
config-version: 2
profile: br_test
model-paths: ["models"]
"""

SOURCES = f"""\
version: 2
sources:
  - name: raw
    schema: {SOURCE_DB}
    tables:
      - name: orders
  # What the view model builds, as a source too: dbt's catalog matches sources by schema and name, models also by a
  # database that dbt-doris leaves empty ('' in the manifest, NULL from information_schema, as Doris answers).
  - name: built
    schema: {TARGET_DB}
    tables:
      - name: big_orders
"""

# The view model: rows of the source, filtered.
VIEW_MODEL = """\
{{ config(materialized='view') }}
select id, customer, amount from {{ source('raw', 'orders') }} where amount >= 10
"""

# The table model: dbt-doris builds it with CREATE TABLE ... AS SELECT, then renames it into place (first run) or
# ALTER TABLE ... REPLACE WITH TABLE (later runs).
TABLE_MODEL = """\
{{ config(materialized='table', duplicate_key=['customer'], distributed_by=['customer'], buckets=2,
          properties={'replication_num': '1'}, persist_docs={'relation': true}) }}
select customer, sum(amount) as total, count(*) as n from {{ source('raw', 'orders') }} group by customer
"""

# The table model's docs: persist_docs writes the description as the table's comment (ALTER TABLE ... MODIFY
# COMMENT); listed columns make dbt-doris wrap the model's query (select `customer`, ... from (...)), which keeps only
# those. Column docs
# are not persisted: dbt-doris 1.0 writes a column's whole dict as its comment, which Doris refuses too.
MODEL_DOCS = """\
version: 2
models:
  - name: order_totals
    description: totals per customer
    columns:
      - name: customer
      - name: total
        description: sum of the amounts
      - name: n
"""


def write_project(root: Path, cluster: Cluster) -> Path:
    """A dbt project and its profile (the cluster's MySQL port, root with no password, as tests/cluster.py)."""
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(
        "br_test:\n  target: dev\n  outputs:\n    dev:\n      type: doris\n      host: 127.0.0.1\n"
        f"      port: {cluster.port}\n      username: root\n      password: \"\"\n      schema: {TARGET_DB}\n"
        "      threads: 1\n")
    (root / "models" / "sources.yml").write_text(SOURCES)
    (root / "models" / "big_orders.sql").write_text(VIEW_MODEL)
    (root / "models" / "order_totals.sql").write_text(TABLE_MODEL)
    (root / "models" / "order_totals.yml").write_text(MODEL_DOCS)
    return root


def dbt(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` in the project, with no usage events sent (the test machine has no way out)."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project)}
    result = subprocess.run([str(DBT), *args, "--profiles-dir", str(project)], cwd=project,
                            env=env, capture_output=True, text=True, timeout=180)
    return result


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def load_orders(cluster: Cluster, rows: list[tuple[int, str, int]]) -> None:
    values = ", ".join(f"({i}, '{c}', {a})" for i, c, a in rows)
    run(cluster, SOURCE_DB, f"INSERT INTO orders VALUES {values}")


def relation_types(cluster: Cluster) -> dict[str, str]:
    rows = cluster.query(f"SELECT table_name, table_type FROM information_schema.tables "
                         f"WHERE table_schema = '{TARGET_DB}'")
    return dict(rows)


@pytest.fixture
def project(tmp_path: Path, cluster: Cluster) -> Path:
    """A fresh source table with three orders, and no target database yet (dbt creates it)."""
    cluster.query(f"DROP DATABASE IF EXISTS {TARGET_DB}")
    cluster.query(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
    run(cluster, SOURCE_DB,
        "CREATE TABLE orders (id INT, customer VARCHAR(20), amount INT) DUPLICATE KEY(id) "
        "DISTRIBUTED BY HASH(id) BUCKETS 2")
    load_orders(cluster, [(1, "ann", 5), (2, "ann", 20), (3, "bob", 30)])
    return write_project(tmp_path / "project", cluster)


def test_dbt_run_view_model(project: Path, cluster: Cluster) -> None:
    """The view model alone: dbt lists schemata and relations, creates the database and CREATE OR REPLACE VIEW;
    the second run finds the view (information_schema says VIEW) and replaces it."""
    assert_ok(dbt(project, "run", "--select", "big_orders"))
    assert relation_types(cluster) == {"big_orders": "VIEW"}
    assert run(cluster, TARGET_DB, "SELECT id, customer, amount FROM big_orders ORDER BY id") == [
        (2, "ann", 20), (3, "bob", 30)]
    load_orders(cluster, [(4, "cy", 40)])
    assert_ok(dbt(project, "run", "--select", "big_orders"))
    assert relation_types(cluster) == {"big_orders": "VIEW"}
    assert run(cluster, TARGET_DB, "SELECT id FROM big_orders ORDER BY id") == [(2,), (3,), (4,)]
    # dbt docs generate reads the catalog from information_schema: the view's columns, typed and in order.
    assert_ok(dbt(project, "docs", "generate"))
    sources = json.loads((project / "target" / "catalog.json").read_text())["sources"]
    for name, kind in (("source.br_test.built.big_orders", "view"), ("source.br_test.raw.orders", "table")):
        entry = sources[name]
        assert entry["metadata"]["type"] == kind
        assert [(c["name"], c["index"], c["type"]) for c in entry["columns"].values()] == [
            ("id", 1, "INT"), ("customer", 2, "VARCHAR(20)"), ("amount", 3, "INT")], name


def test_dbt_run_view_and_table_models_twice(project: Path, cluster: Cluster) -> None:
    """The whole project: the table model is built by CTAS as order_totals__dbt_tmp and renamed into place; the
    second run builds it again and swaps it in with ALTER TABLE ... REPLACE WITH TABLE ('swap' = 'False'), so the
    table then holds the new totals and no intermediate table is left."""
    first = dbt(project, "run")
    assert_ok(first)
    assert "PASS=2" in first.stdout
    assert relation_types(cluster) == {"big_orders": "VIEW", "order_totals": "BASE TABLE"}
    totals = "SELECT customer, total, n FROM order_totals ORDER BY customer"
    assert run(cluster, TARGET_DB, totals) == [("ann", 25, 2), ("bob", 30, 1)]

    load_orders(cluster, [(4, "bob", 12), (5, "cy", 1)])
    second = dbt(project, "run")
    assert_ok(second)
    assert relation_types(cluster) == {"big_orders": "VIEW", "order_totals": "BASE TABLE"}
    assert run(cluster, TARGET_DB, totals) == [("ann", 25, 2), ("bob", 42, 2), ("cy", 1, 1)]
    assert run(cluster, TARGET_DB, "SELECT id FROM big_orders ORDER BY id") == [(2,), (3,), (4,)]
    create = run(cluster, TARGET_DB, "SHOW CREATE TABLE order_totals")[0][1]
    assert "COMMENT 'totals per customer'" in create, create


def test_dbt_seed_loads_a_csv(project: Path, cluster: Cluster) -> None:
    """dbt seed: CREATE TABLE from the CSV's inferred types (DISTRIBUTED BY HASH(first column)), then one INSERT of
    the rows with mysql-connector's client-side parameters; a second seed truncates and loads again."""
    (project / "seeds").mkdir()
    (project / "seeds" / "people.csv").write_text("id,name,joined\n1,ann,2024-01-05\n2,bob,2024-02-01\n")
    (project / "dbt_project.yml").write_text(PROJECT + 'seed-paths: ["seeds"]\nseeds:\n  br_test:\n'
                                             "    +replication_num: 1\n")
    for _ in range(2):
        assert_ok(dbt(project, "seed"))
        assert run(cluster, TARGET_DB, "SELECT id, name, joined FROM people ORDER BY id") == [
            (1, "ann", dt.date(2024, 1, 5)), (2, "bob", dt.date(2024, 2, 1))]
    create = run(cluster, TARGET_DB, "SHOW CREATE TABLE people")[0][1]
    assert "DISTRIBUTED BY HASH(`id`) BUCKETS 10" in create and "tag.location.default: 1" in create, create


# ---- the statements dbt-doris sends, as Doris answers them ------------------------------------------------


def make_pair(cluster: Cluster, db: str) -> None:
    """Tables a (one row) and b (two rows), unpartitioned, so each has one partition named after it."""
    cluster.query(f"DROP DATABASE IF EXISTS {db}")
    run(cluster, db,
        "CREATE TABLE a (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
        "CREATE TABLE b (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
        "INSERT INTO a VALUES (1, 1)",
        "INSERT INTO b VALUES (2, 2), (3, 3)")


def partition_names(cluster: Cluster, db: str, table: str) -> list[str]:
    return [r["PartitionName"] for r in cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.{table}")]


def test_replace_with_table_swaps_by_default(cluster: Cluster) -> None:
    db = "dbt_replace_swap"
    make_pair(cluster, db)
    run(cluster, db, "ALTER TABLE a REPLACE WITH TABLE b")
    assert run(cluster, db, "SELECT k FROM a ORDER BY k") == [(2,), (3,)]
    assert run(cluster, db, "SELECT k FROM b ORDER BY k") == [(1,)]
    # An unpartitioned table's one partition bears the table's name, as in Doris, also after the swap.
    assert partition_names(cluster, db, "a") == ["a"] and partition_names(cluster, db, "b") == ["b"]
    run(cluster, db, "ALTER TABLE a REPLACE WITH TABLE b PROPERTIES ('swap' = 'true')")
    assert run(cluster, db, "SELECT k FROM a ORDER BY k") == [(1,)]
    run(cluster, db, "INSERT INTO a VALUES (9, 9)")  # the swapped table takes loads under its new name
    assert run(cluster, db, "SELECT k FROM a ORDER BY k") == [(1,), (9,)]


def test_replace_with_table_without_swap_drops_the_replaced_table(cluster: Cluster) -> None:
    """dbt-doris writes 'swap' = 'False' (Python's spelling): anything but 'true' is false, as Java reads it."""
    db = "dbt_replace_drop"
    make_pair(cluster, db)
    run(cluster, db, "ALTER TABLE `a` REPLACE WITH TABLE `b` PROPERTIES('swap' = 'False');")
    assert run(cluster, db, "SHOW TABLES") == [("a",)]
    assert run(cluster, db, "SELECT k, v FROM a ORDER BY k") == [(2, 2), (3, 3)]
    assert partition_names(cluster, db, "a") == ["a"]
    run(cluster, db, "INSERT INTO a VALUES (4, 4)")
    assert run(cluster, db, "SELECT count(*) FROM a") == [(3,)]


def test_replace_with_table_errors(cluster: Cluster) -> None:
    db = "dbt_replace_errors"
    make_pair(cluster, db)
    run(cluster, db, "CREATE VIEW v AS SELECT k FROM a")
    cases = [
        ("ALTER TABLE a REPLACE WITH TABLE nope", 1051, "table not found, tableName=nope"),
        ("ALTER TABLE a REPLACE WITH TABLE v", 1105,
         "Type of v doesn't match, expected data tables=[OLAP, MATERIALIZED_VIEW]"),
        ("ALTER TABLE a REPLACE WITH TABLE b PROPERTIES ('swap' = 'true', 'x' = '1')", 1105,
         "Unknown properties: [x]"),
        ("ALTER TABLE nope REPLACE WITH TABLE b", 1146, "Unknown table 'nope'"),
    ]
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        for sql, code, text in cases:
            with pytest.raises(pymysql.err.MySQLError) as info:
                cur.execute(sql)
            assert info.value.args == (code, f"errCode = 2, detailMessage = {text}"), sql
    assert run(cluster, db, "SELECT k FROM a") == [(1,)]  # nothing changed
    assert run(cluster, db, "SELECT count(*) FROM b") == [(2,)]


def test_replace_with_table_needs_alter_on_both(cluster: Cluster) -> None:
    """b's rows become readable under a's name, so ALTER on a alone is not enough."""
    db = "dbt_replace_priv"
    make_pair(cluster, db)
    cluster.query("DROP USER IF EXISTS 'dbt_alter'@'%'")
    cluster.query("CREATE USER 'dbt_alter'@'%' IDENTIFIED BY 'pw'")
    cluster.query(f"GRANT ALTER_PRIV, SELECT_PRIV ON {db}.a TO 'dbt_alter'@'%'")
    with cluster.connect("dbt_alter", "pw", database=db) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute("ALTER TABLE a REPLACE WITH TABLE b")
    assert info.value.args[0] == 1142 and "ALTER" in info.value.args[1]
    assert run(cluster, db, "SELECT k FROM a") == [(1,)]


def test_mariadb_replace_with_table_and_information_schema(cluster: Cluster) -> None:
    """With the mariadb client: the replace, then information_schema's TABLE_TYPE and ENGINE as Doris gives them."""
    db = "dbt_replace_cli"
    make_pair(cluster, db)
    out = cluster.mariadb(f"USE {db}; CREATE VIEW v COMMENT 'a view' AS SELECT k FROM a; "
                          "ALTER TABLE a REPLACE WITH TABLE b PROPERTIES ('swap' = 'false'); "
                          "SELECT table_name, table_type, engine, table_comment FROM information_schema.tables "
                          f"WHERE table_schema = '{db}' ORDER BY table_name",
                          extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["a\tBASE TABLE\tDoris\t", "v\tVIEW\tView\ta view"]
    schema_rows = cluster.query("SELECT table_type, engine FROM information_schema.tables "
                                "WHERE table_schema = 'information_schema' AND table_name = 'tables'")
    assert schema_rows == [("SYSTEM VIEW", "SYSTEM VIEW")]


def test_information_schema_columns_of_views(cluster: Cluster) -> None:
    """A view's columns as CREATE VIEW worked them out (a plain column keeps its table's type), numbered from 1
    like a table's; DESCRIBE shows the same types."""
    db = "dbt_view_columns"
    make_pair(cluster, db)
    run(cluster, db,
        "CREATE TABLE s (k INT, name VARCHAR(20), price DECIMAL(10, 2)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) "
        "BUCKETS 1",
        "CREATE VIEW v AS SELECT k, name, price * 2 AS doubled, 'x' AS tag FROM s",
        "CREATE VIEW counted (key_value, n) AS SELECT k, count(*) FROM s GROUP BY k",
        "CREATE VIEW odd AS SELECT 'x' AS first, [1, 2] AS list")  # types no table column has: still a view
    rows = cluster.query("SELECT table_name, column_name, ordinal_position, column_type "
                         f"FROM information_schema.columns WHERE table_schema = '{db}' "
                         "AND table_name IN ('s', 'v', 'counted') "
                         "ORDER BY table_name, ordinal_position")
    assert rows == [
        ("counted", "key_value", 1, "INT"), ("counted", "n", 2, "BIGINT"),
        ("s", "k", 1, "INT"), ("s", "name", 2, "VARCHAR(20)"), ("s", "price", 3, "DECIMAL(10,2)"),
        ("v", "k", 1, "INT"), ("v", "name", 2, "VARCHAR(20)"), ("v", "doubled", 3, "DECIMAL(18,2)"),
        ("v", "tag", 4, "STRING")]
    assert len(run(cluster, db, "SELECT * FROM odd")) == 1
    described = run(cluster, db, "DESC odd")
    assert [r[0] for r in described] == ["first", "list"] and described[0][1] == "STRING"
    assert [(r[0], r[1]) for r in run(cluster, db, "DESC v")] == [
        ("k", "INT"), ("name", "VARCHAR(20)"), ("doubled", "DECIMAL(18,2)"), ("tag", "STRING")]
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute("CREATE VIEW broken AS SELECT nope FROM s")
    assert info.value.args[0] in (1054, 1105)
    assert run(cluster, db, "SHOW TABLES LIKE 'broken'") == []


def test_modify_comments(cluster: Cluster) -> None:
    """ALTER TABLE ... MODIFY COMMENT and MODIFY COLUMN ... COMMENT (dbt's persist_docs), with Doris's error for a
    column the table does not have."""
    db = "dbt_comments"
    make_pair(cluster, db)
    run(cluster, db, "ALTER TABLE a MODIFY COMMENT 'the a table'", "ALTER TABLE a MODIFY COLUMN `V` COMMENT 'a value'")
    create = run(cluster, db, "SHOW CREATE TABLE a")[0][1]
    assert "COMMENT 'the a table'" in create and "`v` int NULL COMMENT 'a value'" in create, create
    assert cluster.query(f"SELECT table_comment FROM information_schema.tables WHERE table_schema = '{db}' "
                         "AND table_name = 'a'") == [("the a table",)]
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute("ALTER TABLE a MODIFY COLUMN nope COMMENT 'x'")
    assert info.value.args == (1105, "errCode = 2, detailMessage = Unknown column: nope")


def test_a_query_of_only_comments_answers_ok(cluster: Cluster) -> None:
    """Doris's parser takes an empty statement list: a query of comments or semicolons runs nothing and answers OK
    (dbt-doris sends one after the column comments it persists); MySQL would answer 1065."""
    with cluster.connect() as conn, conn.cursor() as cur:
        for sql in ('/* {"app": "dbt"} */\n    \n', ";", "-- nothing\n", "  "):
            assert cur.execute(sql) == 0, repr(sql)
            assert not cur.fetchall()
        cur.execute("SELECT 1")  # the connection goes on
        assert list(cur.fetchall()) == [(1,)]
    out = cluster.mariadb("/* nothing */")
    assert (out.returncode, out.stderr) == (0, "")
