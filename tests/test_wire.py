"""What drivers see on the wire: every result of a multi-statement query, result column types as Doris sends
them (a prepared cursor of mysql-connector-python reads SHOW results), and Doris's errors for what is absent."""

from __future__ import annotations

from pathlib import Path

import mysql.connector
import pymysql
import pytest
from pymysql.constants import CLIENT, FIELD_TYPE

from tests.backup_helpers import backup_and_wait, create_local_repo
from tests.cluster import Cluster

DB = "wire_db"


@pytest.fixture(scope="module")
def wire(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    cluster.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
    cluster.query(f"CREATE TABLE IF NOT EXISTS {DB}.t (k INT, v VARCHAR(8)) DUPLICATE KEY(k) "
                  "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO {DB}.t VALUES (1, 'a'), (2, 'b')")
    folder: Path = tmp_path_factory.mktemp("wire_repo")
    create_local_repo(cluster, "wire_repo", folder)
    backup_and_wait(cluster, DB, "wire_snap", "wire_repo")
    return cluster


def multi(c: Cluster) -> pymysql.connections.Connection:
    return c.connect(database=DB, client_flag=CLIENT.MULTI_STATEMENTS)


def test_multi_statements_answer_every_result(wire: Cluster) -> None:
    with multi(wire) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 AS a; SELECT 2 AS b; SELECT v FROM t WHERE k = 2")
        results = [(cur.description[0][0], cur.fetchall())]
        while cur.nextset():
            results.append((cur.description[0][0], cur.fetchall()))
        assert results == [("a", ((1,),)), ("b", ((2,),)), ("v", (("b",),))]
        # An INSERT's OK packet (with its row count) comes before the SELECT's rows.
        affected = cur.execute("INSERT INTO t VALUES (3, 'c'); SELECT count(*) FROM t")
        assert affected == 1
        assert cur.nextset() and cur.fetchall() == ((3,),)
        assert not cur.nextset()
        cur.execute("DELETE FROM t WHERE k = 3")


def test_multi_statements_stop_at_the_first_error(wire: Cluster) -> None:
    with multi(wire) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as e:
            cur.execute("SELECT 1 AS a; SELECT * FROM no_such_table; INSERT INTO t VALUES (9, 'z')")
            while cur.nextset():
                pass
        assert e.value.args[0] == 1105
        cur.execute("SELECT count(*) FROM t WHERE k = 9")  # the statement after the error never ran
        assert cur.fetchall() == ((0,),)


def test_without_multi_statements_only_the_last_result_comes(wire: Cluster) -> None:
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 AS a; SELECT 2 AS b")
        assert cur.description[0][0] == "b" and cur.fetchall() == ((2,),)
        assert not cur.nextset()


def test_mariadb_client_prints_every_result(wire: Cluster) -> None:
    out = wire.mariadb(f"SELECT 1 AS a; SELECT v FROM {DB}.t WHERE k = 1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["a", "1", "v", "a"]


@pytest.mark.parametrize("statement", ["SHOW DATABASES", f"SHOW TABLES FROM {DB}", f"SHOW BACKUP FROM {DB}",
                                       "SHOW SNAPSHOT ON wire_repo", f"SELECT v FROM {DB}.t"])
def test_text_columns_are_mysql_type_string(wire: Cluster, statement: str) -> None:
    """Doris sends VARCHAR result columns as MYSQL_TYPE_STRING (254); MYSQL_TYPE_VARCHAR (15) never appears."""
    with wire.connect() as conn, conn.cursor() as cur:
        cur.execute(statement)
        text_types = {d[1] for d in cur.description if d[1] not in (FIELD_TYPE.LONGLONG, FIELD_TYPE.LONG)}
    assert text_types == {FIELD_TYPE.STRING}, cur.description


def test_mysql_connector_prepared_cursor_reads_show_results(wire: Cluster) -> None:
    conn = mysql.connector.connect(host="127.0.0.1", port=wire.port, user="root", password="", database=DB)
    try:
        cur = conn.cursor(prepared=True)
        cur.execute("SHOW TABLES")
        assert ("t",) in [tuple(r) for r in cur.fetchall()]
        cur.execute(f"SHOW BACKUP FROM {DB}")
        assert [r[1] for r in cur.fetchall()] == ["wire_snap"]
        cur.execute("SELECT v FROM t WHERE k = ?", (2,))
        assert cur.fetchall() == [("b",)]
    finally:
        conn.close()


def error_of(c: Cluster, sql: str) -> tuple[int, str]:
    with c.connect(database=DB) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as e:
            cur.execute(sql)
    return e.value.args[0], e.value.args[1]


@pytest.mark.parametrize("statement", ["DESCRIBE nosuch", f"DESC {DB}.nosuch", "SELECT * FROM nosuch"])
def test_a_missing_table_is_doris_1105(wire: Cluster, statement: str) -> None:
    """Doris's Nereids answers 1105, never MySQL's 1146: SQLAlchemy's Doris dialects (has_table, create_all,
    pandas to_sql) read exactly this as "the table is absent"."""
    assert error_of(wire, statement) == (
        1105, f"errCode = 2, detailMessage = Table [nosuch] does not exist in database [{DB}].")
