"""What drivers see on the wire: every result of a multi-statement query, result column types as Doris sends
them (a prepared cursor of mysql-connector-python reads SHOW results), and Doris's errors for what is absent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from decimal import Decimal
from pathlib import Path

import attrs
import mysql.connector
import pymysql
import pytest
import requests
from mysql_mimic.variables import SessionVariables
from pymysql.constants import CLIENT, FIELD_TYPE

from doris_br.server import compat, constant_select, session
from doris_br.sql.limits import ExpressionLimits
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


@pytest.mark.parametrize(("statement", "kind"), [
    ("SHOW DATABASES", FIELD_TYPE.STRING), (f"SHOW TABLES FROM {DB}", FIELD_TYPE.STRING),
    (f"SHOW BACKUP FROM {DB}", FIELD_TYPE.BLOB), (f"SHOW RESTORE FROM {DB}", FIELD_TYPE.BLOB),
    ("SHOW SNAPSHOT ON wire_repo", FIELD_TYPE.BLOB), ("SHOW VARIABLES LIKE 'no_such%'", FIELD_TYPE.STRING),
    ("SHOW GLOBAL STATUS", FIELD_TYPE.STRING), (f"SELECT v FROM {DB}.t", FIELD_TYPE.STRING)])
def test_text_columns_are_typed_as_doris_types_them(wire: Cluster, statement: str, kind: int) -> None:
    """Doris sends VARCHAR result columns as MYSQL_TYPE_STRING (254) and STRING ones (SHOW BACKUP / RESTORE /
    SNAPSHOT) as MYSQL_TYPE_BLOB (252) in utf8 (33), so drivers read text; MYSQL_TYPE_VARCHAR (15) never appears,
    nor MYSQL_TYPE_NULL for a result of no rows."""
    with wire.connect() as conn, conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall()
        fields = [f for f in cur._result.fields if f.type_code not in (FIELD_TYPE.LONGLONG, FIELD_TYPE.LONG)]
    assert {f.type_code for f in fields} == {kind}, cur.description
    if statement.startswith("SHOW"):
        assert {f.charsetnr for f in fields} == {33}
    assert all(isinstance(v, str) for row in rows for v in row if v is not None)


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


@pytest.mark.parametrize("statement, detail", [
    ("SELECT * FROM nosuch", f"Table [nosuch] does not exist in database [{DB}]."),
    ("DESCRIBE nosuch", f"Unknown table 'nosuch' in {DB}"),
    (f"DESC {DB}.nosuch", f"Unknown table 'nosuch' in {DB}"),
    ("SHOW COLUMNS FROM nosuch", f"Unknown table 'nosuch' in {DB}"),
])
def test_a_missing_table_is_doris_1105(wire: Cluster, statement: str, detail: str) -> None:
    """Doris answers 1105, never MySQL's 1146, in Nereids' words for a query and ERR_UNKNOWN_TABLE's for
    DESCRIBE: SQLAlchemy's Doris dialects (has_table, create_all, pandas to_sql) read exactly these as absent."""
    assert error_of(wire, statement) == (1105, f"errCode = 2, detailMessage = {detail}")


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


def test_expressions_over_a_table_named_as_written_and_typed(wire: Cluster) -> None:
    """Result columns of expressions are named by the user's text (as MySQL names them), never by the engine's
    rewrite of them (`('a' || v)`, `"year"(...)`, `to_days(...)`); NOW() and CURDATE() are DATETIME and DATE."""
    written = ["k+1", "CONCAT('a', v)", "IF(k>1,'y','n')", "YEAR(NOW())", "DATE_ADD(CURDATE(), INTERVAL 1 DAY)",
               "CAST(k AS STRING)", "NOW()", "CURDATE()", "CURRENT_TIMESTAMP", "abs(-k)", "count(*) OVER ()"]
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(written)}, k, v AS named FROM t WHERE k = 1")
        names, kinds, row = [d[0] for d in cur.description], [d[1] for d in cur.description], cur.fetchone()
    assert names == [*written, "k", "named"]
    assert kinds[written.index("NOW()")] == FIELD_TYPE.DATETIME == kinds[written.index("CURRENT_TIMESTAMP")]
    assert kinds[written.index("CURDATE()")] == FIELD_TYPE.DATE
    assert row[:4] == (2, "aa", "n", dt.date.today().year)
    assert isinstance(row[written.index("NOW()")], dt.datetime)


def test_set_var_hints_apply_to_queries_over_tables(wire: Cluster) -> None:
    assert wire.query(f"SELECT /*+ SET_VAR(query_timeout = 7) */ k, @@query_timeout FROM {DB}.t WHERE k = 1") == \
        [(1, 7)]
    assert wire.query("SELECT /*+ SET_VAR(query_timeout = 7) */ 1")[0][0] == 1


def test_user_variables_and_set_errors(wire: Cluster) -> None:
    """SET @x = ... then @x in any statement, as MySQL and Doris read them; an unset one is NULL."""
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SET @lo = -2.5, @name := concat('a', ''), @day = CURDATE()")
        cur.execute("SET @hi = @lo * -2")
        cur.execute("SELECT @lo, @hi, @NAME, @nosuch, @day")
        assert [d[0] for d in cur.description] == ["@lo", "@hi", "@NAME", "@nosuch", "@day"]
        assert cur.fetchone() == (Decimal("-2.5"), Decimal("5.0"), "a", None, str(dt.date.today()))
        cur.execute("SELECT v FROM t WHERE k < @hi AND v = @name")
        assert cur.fetchall() == (("a",),)
        with pytest.raises(pymysql.err.MySQLError) as e:
            cur.execute("SET no_such_variable = 1")
        assert e.value.args == (1193, "errCode = 2, detailMessage = Unknown system variable 'no_such_variable'")
        with pytest.raises(pymysql.err.MySQLError) as e:
            cur.execute("SELECT /*+ SET_VAR(query_timeout) */ 1")
        assert e.value.args[0] == 1064 and "SET_VAR" in e.value.args[1]
        cur.execute("SET query_timeout = -1")  # 0 or less means Doris's default: queries still run
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone() == (2,)


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


@pytest.mark.parametrize("statement, column", [("SELECT k, count(*) FROM t", "k"),
                                               ("SELECT k + 1, sum(k) FROM t", "k"),
                                               ("SELECT v, max(k) FROM t GROUP BY k", "v")])
def test_a_column_neither_grouped_nor_aggregated_is_doris_error(wire: Cluster, statement: str, column: str) -> None:
    """Not split into BE partials that lack the column (that answered `Unknown column 'k'`)."""
    assert error_of(wire, statement) == (1105, f"errCode = 2, detailMessage = {column} not in aggregate's output")


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


# ---- statements the FE answers alone -------------------------------------------------------------------------

# (statement, column names, MySQL type codes)
CONSTANTS = [
    ("SELECT 1", ["1"], [FIELD_TYPE.LONGLONG]),
    ("SELECT 1 FROM DUAL", ["1"], [FIELD_TYPE.LONGLONG]),
    ("SELECT 1+1", ["(1 + 1)"], [FIELD_TYPE.LONGLONG]),
    ("SELECT 'x'", ["'x'"], [FIELD_TYPE.STRING]),
    ("SELECT DATABASE()", ["DATABASE()"], [FIELD_TYPE.STRING]),
    ("SELECT USER()", ["USER()"], [FIELD_TYPE.STRING]),
    ("SELECT CURRENT_USER()", ["CURRENT_USER()"], [FIELD_TYPE.STRING]),
    ("SELECT VERSION()", ["VERSION()"], [FIELD_TYPE.STRING]),
    ("SELECT @@version_comment", ["@@version_comment"], [FIELD_TYPE.STRING]),
    ("SELECT @@session.tx_isolation", ["@@session.tx_isolation"], [FIELD_TYPE.STRING]),
    ("SELECT NOW(), CURDATE(), CURRENT_TIMESTAMP(), UNIX_TIMESTAMP()",
     ["NOW()", "CURDATE()", "CURRENT_TIMESTAMP()", "UNIX_TIMESTAMP()"],
     [FIELD_TYPE.DATETIME, FIELD_TYPE.DATE, FIELD_TYPE.DATETIME, FIELD_TYPE.LONGLONG]),
    ("SELECT CONNECTION_ID()", ["CONNECTION_ID()"], [FIELD_TYPE.LONGLONG]),
    ("select now() AS t, 2 * 3 six, @@autocommit LIMIT 1;", ["t", "six", "@@autocommit"],
     [FIELD_TYPE.DATETIME, FIELD_TYPE.LONGLONG, FIELD_TYPE.LONGLONG]),
]


def answered(c: Cluster, sql: str, database: str | None = DB) -> tuple[list[str], list[int], tuple]:
    with c.connect(database=database) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description], [d[1] for d in cur.description], cur.fetchone()


@pytest.mark.parametrize(("statement", "names", "kinds"), CONSTANTS)
def test_constant_selects_are_named_and_typed_as_mysql(wire: Cluster, statement: str, names: list[str],
                                                       kinds: list[int]) -> None:
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute(statement)
        assert ([d[0] for d in cur.description], [d[1] for d in cur.description]) == (names, kinds)
        row = cur.fetchone()
        # The same statement behind a comment takes the planner's path: the same values.
        cur.execute("/* planned */ " + statement)
        planned = cur.fetchone()
    if "NOW()" not in statement:
        assert [str(v) for v in row] == [str(v) for v in planned]


def test_constant_values_are_the_sessions(wire: Cluster) -> None:
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SELECT DATABASE(), USER(), CONNECTION_ID(), NOW(), CURDATE(), UNIX_TIMESTAMP(), 1+1, 'x'")
        database, user, connection, now, today, stamp, two, text = cur.fetchone()
        assert (database, user, connection, two, text) == (DB, "root", conn.thread_id(), 2, "x")
        assert isinstance(now, dt.datetime) and abs(now.timestamp() - stamp) < 2 and today == now.date()
        cur.execute("USE information_schema")
        cur.execute("SELECT DATABASE()")
        assert cur.fetchone() == ("information_schema",)
        cur.execute("SELECT 1 LIMIT 0")
        assert cur.fetchall() == ()
    assert answered(wire, "SELECT DATABASE()", database=None)[2] == (None,)


# Statements that need no table: while every BE is stopped (SIGSTOP: a call to one would hang, not fail), each is
# still answered within the client's read timeout.
FE_ONLY = ["SELECT 1", "SELECT @@version_comment", "SELECT DATABASE(), USER()", "SELECT NOW(), UNIX_TIMESTAMP()",
           "SHOW DATABASES", f"SHOW BACKUP FROM {DB}", "SHOW SNAPSHOT ON wire_repo", "SHOW TABLES",
           "DESCRIBE t", "SHOW PROCESSLIST", "SELECT table_name FROM information_schema.tables LIMIT 1"]


def test_statements_without_a_table_never_contact_a_be(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "cluster", backends=1).start()
    try:
        c.query(f"CREATE DATABASE {DB}")
        c.query(f"CREATE TABLE {DB}.t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                "PROPERTIES ('replication_num' = '1')")
        c.query(f"INSERT INTO {DB}.t VALUES (1)")
        create_local_repo(c, "wire_repo", tmp_path / "repo")
        backup_and_wait(c, DB, "frozen_snap", "wire_repo")
        be = c.bes[0]
        assert be is not None
        os.kill(be.pid, signal.SIGSTOP)
        try:
            with c.connect(database=DB, read_timeout=3) as conn, conn.cursor() as cur:
                for statement in FE_ONLY:
                    cur.execute(statement)
                    assert cur.fetchall() is not None, statement
                with pytest.raises(pymysql.err.OperationalError):  # a scan does need the BE: it cannot answer
                    cur.execute("SELECT * FROM t")
        finally:
            os.kill(be.pid, signal.SIGCONT)
    finally:
        c.stop()


@pytest.mark.parametrize("statement", [
    "SELECT 1 FROM t", "SELECT 1.5", "SELECT nosuch()", "SELECT @@nosuch", "SELECT 'a' 'b'", "SELECT 1 + 2 + 3",
    "SELECT NOW(3)", "SELECT 'it''s'", "SELECT 9223372036854775807 * 2", "SELECT 1; SELECT 2", "SELECT 1 x y",
    "SELECT read_csv('/etc/passwd')", "SELECT 1 UNION SELECT 2", "SELECT @@a.b", "SELECT 1e3",
])
def test_other_selects_are_left_to_the_planner(statement: str) -> None:
    assert constant_select.match(FakeSession(), statement) is None


def test_trusted_shapes_are_matched(statement: str = "SELECT 1 AS `a b`, @@GLOBAL.time_zone, -3 FROM DUAL") -> None:
    found = constant_select.match(FakeSession(), statement)
    assert found is not None
    assert [i.name for i in found[0]] == ["a b", "@@GLOBAL.time_zone", "-3"]


@attrs.define
class FakeSession:
    """What constant_select reads of a session."""

    database: str | None = "d"
    username: str = "u"
    connection_id: int = 7
    timestamp: dt.datetime = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    variables: SessionVariables = attrs.field(factory=lambda: SessionVariables(compat.global_variables()))


def test_mycli_status_reads_what_it_needs(wire: Cluster) -> None:
    """The statements mycli's `status` command sends, and the keys it reads of their answers."""
    with wire.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS;")
        status = dict(cur.fetchall())
        assert "Threads_connected" not in status  # mycli reads Slow_queries, Opened_tables ... only with it
        cur.execute("SHOW GLOBAL VARIABLES;")
        variables = dict(cur.fetchall())
        assert variables["protocol_version"] == "10" and variables["version"] and variables["version_comment"]
        cur.execute("SELECT DATABASE(), USER();")
        assert cur.fetchone() == (DB, "root")
        cur.execute("SELECT @@character_set_server, @@character_set_database, @@character_set_client, "
                    "@@character_set_connection LIMIT 1;")
        assert cur.fetchone() == ("utf8mb4",) * 4


def test_mariadb_client_sends_both_statements_in_one_query(wire: Cluster) -> None:
    """With another delimiter the client sends `SELECT ...; SELECT ...` as one COM_QUERY and prints every
    result the server returns."""
    out = wire.mariadb("", extra=("--batch", f"-D{DB}"),
                       stdin="DELIMITER //\nSELECT 1 AS a; SELECT v FROM t WHERE k = 2; SELECT DATABASE() AS d//\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["a", "1", "v", "b", "d", DB]


# ---- the parse cache -----------------------------------------------------------------------------------------

def test_cached_parses_are_copies() -> None:
    sql = "SELECT k FROM cache_probe WHERE v = DATABASE()"
    [(first, plain)] = session.parsed(sql, ExpressionLimits())
    first.set("where", None)  # what a caller may do to its tree (variables are replaced in place)
    [(second, _)] = session.parsed(sql, ExpressionLimits())
    assert second.args.get("where") is not None and second is not first
    assert not plain  # DATABASE() is the session's: replaced on every run
    assert session.parsed("SHOW TABLES FROM cache_probe", ExpressionLimits())[0][1]


@pytest.mark.parametrize(("sql", "kept"), [("SHOW DATABASES /* cache probe */", True),
                                         ("CREATE USER cache_probe IDENTIFIED BY 'secret-words'", False)])
def test_only_reads_are_cached(sql: str, kept: bool) -> None:
    """A statement that changes something may hold a secret (a password, a repository's keys): never kept."""
    session.parsed(sql, ExpressionLimits())
    hits = session._parsed.cache_info().hits
    session.parsed(sql, ExpressionLimits())
    assert (session._parsed.cache_info().hits > hits) == kept
