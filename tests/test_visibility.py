"""What a user with SELECT_PRIV on one table sees of the rest: every metadata statement, information_schema and
the REST API show only the tables the user holds a privilege on, and name the others with Doris's 1142."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest
import requests

from tests.backup_helpers import backup_and_wait, create_local_repo
from tests.cluster import Cluster

DB = "vis"
OTHER = "vis_other"
USER, PASSWORD = "vis_u1", "pw"


@pytest.fixture(scope="module")
def one_table_user(cluster: Cluster) -> Cluster:
    """vis.t (granted), vis.secret and the view vis.sv over it, and vis_other.x; the user holds SELECT_PRIV on
    vis.t only."""
    for sql in [
        f"CREATE DATABASE {DB}", f"CREATE DATABASE {OTHER}",
        f"CREATE TABLE {DB}.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        f"CREATE TABLE {DB}.secret (k INT, pw VARCHAR(10)) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN "
        "('10')) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        f"INSERT INTO {DB}.secret VALUES (1, 'hunter2')",
        f"CREATE VIEW {DB}.sv AS SELECT k FROM {DB}.secret",
        f"CREATE TABLE {OTHER}.x (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        f"CREATE USER {USER} IDENTIFIED BY '{PASSWORD}'",
        f"GRANT SELECT_PRIV ON {DB}.t TO {USER}",
    ]:
        cluster.query(sql)
    return cluster


def as_user(cluster: Cluster, sql: str, database: str | None = DB) -> list[tuple]:
    with cluster.connect(USER, PASSWORD, database=database) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def denied(cluster: Cluster, sql: str) -> str:
    """The 1142 message the user gets for `sql`."""
    with cluster.connect(USER, PASSWORD, database=DB) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute(sql)
    code, message = info.value.args
    assert code == 1142, (sql, code, message)
    return message.removeprefix("errCode = 2, detailMessage = ")


def test_show_tables_lists_only_the_granted_table(one_table_user: Cluster) -> None:
    c = one_table_user
    assert as_user(c, "SHOW TABLES") == [("t",)]
    assert as_user(c, f"SHOW FULL TABLES FROM {DB}") == [("t", "BASE TABLE")]
    assert as_user(c, f"SHOW TABLES IN {DB} LIKE '%e%'") == []
    assert as_user(c, f"SHOW TABLES FROM {OTHER}") == []  # as Doris: no error, nothing to see
    assert as_user(c, "SHOW DATABASES") == [("information_schema",), (DB,)]
    assert {r[0] for r in c.query(f"SHOW TABLES FROM {DB}")} == {"t", "secret", "sv"}  # root sees them all


def test_describe_answers_1142_for_tables_the_user_cannot_see(one_table_user: Cluster) -> None:
    c = one_table_user
    assert as_user(c, "DESC t") == [("k", "INT", "Yes", "true", None, "")]
    assert len(as_user(c, "DESCRIBE t ALL")) == 1
    host = "127.0.0.1"  # Doris names the client's address, not the user's host pattern
    assert denied(c, "DESC secret") == f"DESCRIBE command denied to user '{USER}'@'{host}' for table '{DB}.secret'"
    assert denied(c, "DESCRIBE secret ALL").startswith("DESCRIBE command denied")
    assert denied(c, "DESC sv").endswith(f"for table '{DB}.sv'")
    assert denied(c, f"DESC {OTHER}.x").endswith(f"for table '{OTHER}.x'")
    assert denied(c, "DESC no_such_table").endswith(f"for table '{DB}.no_such_table'")  # existence not told
    assert len(c.query(f"DESC {DB}.secret ALL")) == 2


def test_information_schema_holds_only_visible_tables(one_table_user: Cluster) -> None:
    c = one_table_user
    mine = "table_schema NOT IN ('information_schema', 'mysql')"
    assert as_user(c, f"SELECT table_schema, table_name FROM information_schema.tables WHERE {mine}") == [(DB, "t")]
    assert as_user(c, "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                      f"WHERE {mine}") == [(DB, "t", "k")]
    schemata = {r[0] for r in as_user(c, "SELECT schema_name FROM information_schema.schemata")}
    assert DB in schemata and OTHER not in schemata
    assert as_user(c, f"SHOW COLUMNS FROM secret FROM {DB}") == []  # mysql-mimic's SHOW COLUMNS reads the same
    everything = c.query("SELECT table_name, column_name FROM information_schema.columns "
                         f"WHERE table_schema = '{DB}' ORDER BY table_name, column_name")
    assert ("secret", "pw") in everything and "sv" in {t for t, _ in everything}


def test_show_data_partitions_and_create_answer_1142(one_table_user: Cluster) -> None:
    c = one_table_user
    host = "127.0.0.1"
    assert [r[0] for r in as_user(c, "SHOW DATA")] == ["t", "Total", "Quota", "Left"]
    assert as_user(c, "SHOW DATA FROM t")[0][0] == "t"
    assert denied(c, f"SHOW DATA FROM {DB}.secret") == (
        f"SHOW DATA command denied to user '{USER}'@'{host}' for table '{DB}: {DB}.secret'")
    assert as_user(c, "SHOW PARTITIONS FROM t")[0][1] == "t"
    assert denied(c, "SHOW PARTITIONS FROM secret") == (
        f"SHOW PARTITIONS command denied to user '{USER}'@'{host}' for table '{DB}: secret'")
    assert denied(c, "SHOW PARTITIONS FROM no_db.no_table").endswith("for table 'no_db: no_table'")
    assert as_user(c, "SHOW CREATE TABLE t")[0][0] == "t"
    assert denied(c, "SHOW CREATE TABLE secret") == (
        f"SHOW CREATE TABLE command denied to user '{USER}'@'{host}' for table '{DB}: secret'")
    assert denied(c, "SHOW CREATE VIEW sv").endswith(f"for table '{DB}: sv'")
    with c.connect(database=DB) as conn, conn.cursor() as cur:  # root sees both tables
        cur.execute("SHOW DATA")
        assert [r[0] for r in cur.fetchall()][:3] == ["secret", "t", "Total"]


def test_a_grant_that_shows_nothing_shows_no_database(one_table_user: Cluster) -> None:
    """GRANT_PRIV alone is no privilege on any table (Doris's PrivPredicate.SHOW): no database is visible."""
    c = one_table_user
    c.query("CREATE USER vis_granter IDENTIFIED BY 'pw'")
    c.query("GRANT GRANT_PRIV ON *.* TO vis_granter")
    with c.connect("vis_granter", "pw") as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        assert cur.fetchall() == (("information_schema",),)


def test_rest_api_shows_what_show_shows(one_table_user: Cluster, tmp_path: Path) -> None:
    c = one_table_user
    auth = (USER, PASSWORD)
    tables = requests.get(f"{c.http}/rest/v1/databases/{DB}/tables", auth=auth, timeout=10)
    assert tables.status_code == 200 and tables.json()["data"] == [{"name": "t", "type": "BASE TABLE"}]
    secret = requests.get(f"{c.http}/rest/v1/databases/{DB}/tables/secret", auth=auth, timeout=10)
    assert secret.status_code == 404 and "hunter2" not in secret.text and "pw" not in secret.json()["msg"]
    mine = requests.get(f"{c.http}/rest/v1/databases/{DB}/tables/t", auth=auth, timeout=10).json()["data"]
    assert [col["Field"] for col in mine["columns"]] == ["k"]
    assert requests.get(f"{c.http}/rest/v1/databases/{OTHER}/tables", auth=auth, timeout=10).status_code == 404
    # Jobs as SHOW BACKUP shows them: LOAD_PRIV on the database, not a SELECT on one of its tables.
    create_local_repo(c, "vis_repo", tmp_path)
    backup_and_wait(c, DB, "vis_snap", "vis_repo", "ON (t)")
    seen = requests.get(f"{c.http}/rest/v1/jobs", auth=auth, timeout=10).json()["data"]
    assert [j for j in seen if j["database"] == DB] == []
    everything = requests.get(f"{c.http}/rest/v1/jobs", auth=("root", ""), timeout=10).json()["data"]
    assert [j["label"] for j in everything if j["database"] == DB] == ["vis_snap"]


def test_statements_on_tables_check_the_privilege_before_they_look(one_table_user: Cluster) -> None:
    """One without the privilege learns nothing from the error, not even whether the table exists."""
    c = one_table_user
    for table in ("secret", "no_such_table"):
        for sql, command in [(f"DROP TABLE {table}", "DROP"), (f"TRUNCATE TABLE {table}", "LOAD"),
                             (f"ALTER TABLE {table} RENAME {table}2", "ALTER"),
                             (f"INSERT INTO {table} VALUES (1)", "LOAD"),
                             (f"CREATE TABLE copy_of LIKE {table}", "CREATE")]:
            assert denied(c, sql).startswith(f"{command} command denied to user '{USER}'@'%'"), sql
    for db in (OTHER, "no_such_db"):
        with c.connect(USER, PASSWORD) as conn, conn.cursor() as cur:
            with pytest.raises(pymysql.err.MySQLError) as info:
                cur.execute(f"DROP DATABASE {db}")
            assert info.value.args[0] == 1044, info.value.args
            with pytest.raises(pymysql.err.MySQLError) as info:
                cur.execute(f"SHOW CREATE DATABASE {db}")
            assert info.value.args == (1225, "errCode = 2, detailMessage = Access denied; you need (at least one "
                                             "of) the (Admin_priv,Select_priv,Load_priv,Alter_priv,Create_priv,"
                                             f"Drop_priv) privilege(s) on database {db} for this operation")
    assert as_user(c, f"SHOW CREATE DATABASE {DB}") == [(DB, f"CREATE DATABASE `{DB}`")]


def test_show_view_priv_shows_a_views_text_only(one_table_user: Cluster) -> None:
    c = one_table_user
    c.query("CREATE USER vis_viewer IDENTIFIED BY 'pw'")
    c.query(f"GRANT SHOW_VIEW_PRIV ON {DB}.sv TO vis_viewer")
    with c.connect("vis_viewer", "pw") as conn, conn.cursor() as cur:
        cur.execute(f"SHOW CREATE VIEW {DB}.sv")
        assert cur.fetchone()[0] == "sv"
        cur.execute(f"SHOW TABLES FROM {DB}")  # Doris's PrivPredicate.SHOW leaves SHOW_VIEW_PRIV out
        assert cur.fetchall() == ()
