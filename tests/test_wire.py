"""What drivers see on the wire: every result of a multi-statement query, result column types as Doris sends
them (a prepared cursor of mysql-connector-python reads SHOW results), and Doris's errors for what is absent."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import mysql.connector
import pymysql
import pytest
import requests
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


def test_schema_qualified_columns_as_sqlalchemy_writes_them(wire: Cluster) -> None:
    rows = wire.query(f"SELECT {DB}.t.k, o.v FROM {DB}.t JOIN {DB}.t o ON {DB}.t.k = o.k "
                      f"WHERE {DB}.t.k <= 2 ORDER BY {DB}.t.k DESC")
    assert rows == [(2, "b"), (1, "a")]
    assert wire.query(f"SELECT count({DB}.t.v) AS n FROM {DB}.t GROUP BY {DB}.t.k HAVING {DB}.t.k = 1") == [(1,)]


def test_constant_selects_named_as_written(wire: Cluster) -> None:
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SELECT DATABASE(), VERSION(), schema(), CURDATE(), CURRENT_DATE, UNIX_TIMESTAMP() FROM DUAL")
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
    assert names == ["DATABASE()", "VERSION()", "schema()", "CURDATE()", "CURRENT_DATE", "UNIX_TIMESTAMP()"]
    assert row[0] == DB and row[2] == DB
    assert abs(row[5] - time.time()) < 120
    assert wire.query("SELECT 1 + 1 FROM DUAL") == [(2,)]  # no database selected: DUAL needs none


ENGINE_WORDS = ("Binder Error", "Parser Error", "Catalog Error", "Conversion Error", "Step '", "Traceback",
                "duckdb", "sqlglot", "is not defined", "candidate function", "FROM clause is missing",
                "Unimplemented type")


@pytest.mark.parametrize("statement", [
    "SELECT nosuch FROM t", "SELECT NOSUCH", "SELECT nosuch_fn(1) FROM t", "SELECT k + 'x' FROM t",
    "SELECT CAST(k AS DATE) FROM t", "SELECT * FROM t WHERE", "SELECT t.nosuch FROM t", "SELECT x.k FROM t",
    "SELECT * FROM nosuch_db.t", "SELECT k FROM t GROUP BY v", "SELECT sum(v) FROM t",
])
def test_bad_queries_get_doris_errors_without_engine_wording(wire: Cluster, statement: str) -> None:
    code, message = error_of(wire, statement)
    assert code in (1049, 1064, 1105) and message.startswith("errCode = 2, detailMessage = "), message
    assert not any(word.lower() in message.lower() for word in ENGINE_WORDS), message


def test_datetime_keeps_its_declared_precision(wire: Cluster) -> None:
    wire.query(f"CREATE TABLE {DB}.times (k INT, s DATETIME, ms DATETIME(3), us DATETIME(6)) DUPLICATE KEY(k) "
               "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    wire.query(f"INSERT INTO {DB}.times VALUES (1, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456', "
               "'2024-01-02 03:04:05.123456'), (2, '2024-01-02 03:04:05.5', '2024-01-02 03:04:05.9996', NULL)")
    assert wire.query(f"SELECT s, ms, us FROM {DB}.times ORDER BY k") == [
        (dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, 3, 4, 5, 123000),
         dt.datetime(2024, 1, 2, 3, 4, 5, 123456)),
        (dt.datetime(2024, 1, 2, 3, 4, 6), dt.datetime(2024, 1, 2, 3, 4, 6), None)]
    r = requests.put(f"{wire.http}/api/{DB}/times/_stream_load", data=b"3,2024-05-06 07:08:09.4,"
                     b"2024-05-06 07:08:09.4444,\\N\n", auth=("root", ""), headers={"column_separator": ","},
                     timeout=60)
    assert r.json()["Status"] == "Success", r.text
    assert wire.query(f"SELECT s, ms FROM {DB}.times WHERE k = 3") == [
        (dt.datetime(2024, 5, 6, 7, 8, 9), dt.datetime(2024, 5, 6, 7, 8, 9, 444000))]


def test_metadata_statements_of_mycli_and_bi_tools(wire: Cluster) -> None:
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SHOW FIELDS FROM t")  # mycli's `\dt t`
        assert [r[:2] for r in cur.fetchall()] == [("k", "INT"), ("v", "VARCHAR(8)")]
        cur.execute(f"SHOW FULL FIELDS FROM t IN {DB}")
        assert [d[0] for d in cur.description] == ["Field", "Type", "Collation", "Null", "Key", "Default", "Extra",
                                                   "Privileges", "Comment"]
        assert cur.fetchall()[0][:5] == ("k", "INT", None, "Yes", "true")
        cur.execute("SHOW COLUMNS FROM t LIKE 'v'")
        assert [r[0] for r in cur.fetchall()] == ["v"]
        cur.execute(f"SHOW TABLE STATUS FROM {DB} LIKE 't'")
        status = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        types = {d[0]: d[1] for d in cur.description}
        assert status["Name"] == "t" and status["Engine"] == "Doris" and status["Rows"] >= 2
        assert types["Rows"] == FIELD_TYPE.LONGLONG and types["Create_time"] == FIELD_TYPE.DATETIME
        assert isinstance(status["Create_time"], dt.datetime)
        cur.execute("SHOW PLUGINS")
        assert cur.fetchall()[0][0] == "__builtin_AuditLoader"
        cur.execute("SELECT ENGINE FROM information_schema.ENGINES WHERE SUPPORT = 'DEFAULT'")
        assert cur.fetchall() == (("Olap engine",),)


def test_sqlalchemy_reflects_and_selects_with_a_schema_and_pandas_reads(wire: Cluster) -> None:
    """SQLAlchemy's MySQL dialect over PyMySQL (the Doris dialects build on it; pydoris needs mysqlclient, which
    does not build here): reflection, a Core select of a table with a schema (`wire_db.t.v`), pandas read_sql."""
    sqlalchemy = pytest.importorskip("sqlalchemy")  # the test extra installs it; skipped only outside ./run.sh
    pandas = pytest.importorskip("pandas")
    engine = sqlalchemy.create_engine(f"mysql+pymysql://root:@127.0.0.1:{wire.port}/{DB}")
    try:
        meta = sqlalchemy.MetaData(schema=DB)
        t = sqlalchemy.Table("t", meta, autoload_with=engine)
        assert [c.name for c in t.columns] == ["k", "v"]
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(t.c.v).where(t.c.k == 1).order_by(t.c.k)).fetchall()
            assert rows == [("a",)]
        frame = pandas.read_sql(f"SELECT k, v FROM {DB}.t ORDER BY k", engine)
        assert frame["v"].tolist()[:2] == ["a", "b"]
    finally:
        engine.dispose()
