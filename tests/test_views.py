"""Views through the MySQL wire: CREATE / ALTER VIEW with column lists and comments, SHOW VIEW, SHOW CREATE VIEW,
Doris's errors, an FE restart, and views in BACKUP / RESTORE on a LOCAL repository."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster

TABLE = ("CREATE TABLE {name} (k INT, v VARCHAR(20)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
         "PROPERTIES ('replication_num' = '1')")
SHOW_CREATE_COLUMNS = ["View", "Create View", "character_set_client", "collation_connection"]


def run(cluster: Cluster, db: str, sql: str, user: str = "root", password: str = "") -> list[tuple]:
    with cluster.connect(user, password, database=db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def columns_of(cluster: Cluster, db: str, sql: str) -> list[str]:
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description]


def error_of(cluster: Cluster, db: str, sql: str, user: str = "root", password: str = "") -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as info:
        run(cluster, db, sql, user, password)
    code, message = info.value.args
    return code, message.removeprefix("errCode = 2, detailMessage = ")


def make_db(cluster: Cluster, db: str, tables: tuple[str, ...] = ("t",)) -> None:
    cluster.query(f"CREATE DATABASE {db}")
    for name in tables:
        run(cluster, db, TABLE.format(name=name))
        run(cluster, db, f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b'), (3, 'c')")


def create_text(cluster: Cluster, db: str, view: str) -> str:
    rows = run(cluster, db, f"SHOW CREATE VIEW {view}")
    assert len(rows) == 1 and rows[0][0] == view and rows[0][2:] == ("utf8mb4", "utf8mb4_0900_bin"), rows
    return rows[0][1]


# ---- CREATE VIEW -------------------------------------------------------------------------------------------


def test_column_list_over_star_with_comments(cluster: Cluster) -> None:
    make_db(cluster, "vw_create")
    run(cluster, "vw_create", "CREATE VIEW v (a COMMENT 'the key', b) COMMENT 'two columns' AS SELECT * FROM t")
    assert run(cluster, "vw_create", "SELECT a, b FROM v ORDER BY a") == [(1, "a"), (2, "b"), (3, "c")]
    assert [r[:2] for r in run(cluster, "vw_create", "DESCRIBE v")] == [("a", "INT"), ("b", "VARCHAR(20)")]
    assert columns_of(cluster, "vw_create", "SHOW CREATE VIEW v") == SHOW_CREATE_COLUMNS
    text = create_text(cluster, "vw_create", "v")
    # As Doris stores it: `*` written out as the columns it stood for.
    assert text == ('CREATE VIEW `v` (`a` COMMENT "the key", `b`)\nCOMMENT "two columns" AS '
                    'SELECT `t`.`k`, `t`.`v` FROM t;')
    # SHOW CREATE TABLE of a view answers as SHOW CREATE VIEW; the text it prints makes the same view again.
    assert run(cluster, "vw_create", "SHOW CREATE TABLE v")[0][1] == text
    run(cluster, "vw_create", "DROP VIEW v")
    run(cluster, "vw_create", text)
    assert create_text(cluster, "vw_create", "v") == text
    # Without a list the query's names are the view's; every one is printed.
    run(cluster, "vw_create", "CREATE VIEW w AS SELECT k, upper(v) AS big FROM t WHERE k > 1")
    assert create_text(cluster, "vw_create", "w").startswith("CREATE VIEW `w` (`k`, `big`) AS SELECT ")
    assert run(cluster, "vw_create", "SELECT * FROM w ORDER BY k") == [(2, "B"), (3, "C")]
    # IF NOT EXISTS leaves the view as it was; without it the name is taken.
    run(cluster, "vw_create", "CREATE VIEW IF NOT EXISTS v AS SELECT 1 AS one")
    assert create_text(cluster, "vw_create", "v") == text
    assert error_of(cluster, "vw_create", "CREATE VIEW v AS SELECT 1") == (1050, "Table 'v' already exists")
    assert error_of(cluster, "vw_create", "CREATE VIEW t AS SELECT 1") == (1050, "Table 't' already exists")
    run(cluster, "vw_create", "CREATE OR REPLACE VIEW v AS SELECT k FROM t WHERE k = 2")
    assert run(cluster, "vw_create", "SELECT * FROM v") == [(2,)]
    # So a `SELECT *` view keeps its columns when its table is replaced by a wider one.
    run(cluster, "vw_create", "CREATE VIEW star AS SELECT * FROM t")
    run(cluster, "vw_create", "CREATE TABLE wide (k INT, v VARCHAR(20), extra INT) DUPLICATE KEY(k) "
                              "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    run(cluster, "vw_create", "INSERT INTO wide VALUES (7, 'w', 70)")
    run(cluster, "vw_create", "ALTER TABLE t REPLACE WITH TABLE wide")
    assert columns_of(cluster, "vw_create", "SELECT * FROM star") == ["k", "v"]
    assert run(cluster, "vw_create", "SELECT * FROM star") == [(7, "w")]
    # A CTE of a table's name is the CTE, and * EXCEPT keeps what it leaves out.
    run(cluster, "vw_create", "CREATE VIEW cte AS WITH t AS (SELECT 1 AS one) SELECT * FROM t")
    assert columns_of(cluster, "vw_create", "SELECT * FROM cte") == ["one"]
    run(cluster, "vw_create", "CREATE VIEW most AS SELECT * EXCEPT (extra) FROM t")
    assert run(cluster, "vw_create", "SELECT * FROM most") == [(7, "w")]


def test_create_view_errors(cluster: Cluster) -> None:
    make_db(cluster, "vw_errors")
    db = "vw_errors"
    wrong_list = (1353, "View's SELECT and view's field list have different column counts")
    assert error_of(cluster, db, "CREATE VIEW bad (a, b, c) AS SELECT * FROM t") == wrong_list
    assert error_of(cluster, db, "CREATE VIEW bad (a) AS SELECT k, v FROM t") == wrong_list
    assert error_of(cluster, db, "CREATE VIEW bad (a, A) AS SELECT k, v FROM t") == (
        1060, "Duplicate column name 'A'")
    assert error_of(cluster, db, "CREATE VIEW bad AS SELECT k, k FROM t") == (1060, "Duplicate column name 'k'")
    assert error_of(cluster, db, "CREATE VIEW bad AS SELECT * FROM nope") == (
        1105, "Table [nope] does not exist in database [vw_errors].")
    assert error_of(cluster, db, "CREATE VIEW bad AS SELECT * FROM t garbage here")[0] == 1064
    assert error_of(cluster, db, "CREATE VIEW bad (a COMMENT) AS SELECT k FROM t")[0] == 1064
    assert run(cluster, db, "SHOW FULL TABLES") == [("t", "BASE TABLE")]  # nothing half made


# ---- ALTER VIEW --------------------------------------------------------------------------------------------


def test_alter_view(cluster: Cluster) -> None:
    make_db(cluster, "vw_alter")
    db = "vw_alter"
    run(cluster, db, "CREATE VIEW v (a, b) COMMENT 'kept' AS SELECT * FROM t")
    run(cluster, db, "ALTER VIEW v (x COMMENT 'only') AS SELECT k FROM t WHERE k > 1")
    assert run(cluster, db, "SELECT * FROM v ORDER BY x") == [(2,), (3,)]
    assert columns_of(cluster, db, "SELECT * FROM v") == ["x"]
    assert create_text(cluster, db, "v") == (
        'CREATE VIEW `v` (`x` COMMENT "only")\nCOMMENT "kept" AS SELECT k FROM t WHERE k > 1;')
    run(cluster, db, "ALTER VIEW vw_alter.v MODIFY COMMENT 'changed'")
    assert '\nCOMMENT "changed" AS' in create_text(cluster, db, "v")
    run(cluster, db, "ALTER VIEW v AS SELECT v, k FROM t WHERE k = 1")  # no list: the query's names
    assert columns_of(cluster, db, "SELECT * FROM v") == ["v", "k"]
    assert run(cluster, db, "SELECT * FROM v") == [("a", 1)]
    assert error_of(cluster, db, "ALTER VIEW v (a, b) AS SELECT k FROM t") == (
        1353, "View's SELECT and view's field list have different column counts")
    assert error_of(cluster, db, "ALTER VIEW t AS SELECT 1") == (1105, "ALTER VIEW not allowed on a table:vw_alter.t")
    assert error_of(cluster, db, "ALTER VIEW nope AS SELECT 1") == (1105, "Unknown table 'nope' in vw_alter")
    assert error_of(cluster, db, "ALTER VIEW v AS SELECT * FROM nope")[0] == 1105
    assert run(cluster, db, "SELECT * FROM v") == [("a", 1)]  # a failed ALTER changes nothing
    cluster.query("CREATE USER 'vw_reader' IDENTIFIED BY 'pw'")
    cluster.query("GRANT SELECT_PRIV ON vw_alter.* TO 'vw_reader'")
    code, message = error_of(cluster, db, "ALTER VIEW v AS SELECT 1", user="vw_reader", password="pw")
    assert code == 1142 and message.startswith("ALTER command denied to user 'vw_reader'"), message


# ---- SHOW VIEW ---------------------------------------------------------------------------------------------


def test_show_view_lists_the_views_reading_a_table(cluster: Cluster) -> None:
    make_db(cluster, "vw_show", tables=("t", "u"))
    db = "vw_show"
    run(cluster, db, "CREATE VIEW on_t AS SELECT k FROM t")
    run(cluster, db, "CREATE VIEW on_u AS SELECT k FROM u")
    run(cluster, db, "CREATE VIEW joined AS SELECT t.k, u.v FROM t JOIN u ON t.k = u.k")
    run(cluster, db, "CREATE VIEW nested AS SELECT * FROM on_t")
    run(cluster, db, "CREATE VIEW twice AS SELECT a.k FROM t a JOIN t b ON a.k = b.k")
    assert columns_of(cluster, db, "SHOW VIEW FROM t") == ["View", "Create View"]
    rows = run(cluster, db, "SHOW VIEW FROM t")
    # In creation (id) order; a view that reads t through another view counts, one that scans t twice is
    # listed twice, as in Doris.
    assert [r[0] for r in rows] == ["on_t", "joined", "nested", "twice", "twice"]
    assert rows[0][1] == create_text(cluster, db, "on_t")
    assert [r[0] for r in run(cluster, "vw_show", "SHOW VIEW IN vw_show.u")] == ["on_u", "joined"]
    # FROM db overrides the database of db.tbl, as in Doris and MySQL.
    cluster.query("CREATE DATABASE vw_show_other")
    assert [r[0] for r in run(cluster, "vw_show_other", "SHOW VIEW FROM nowhere.u FROM vw_show")] == [
        "on_u", "joined"]
    assert run(cluster, "vw_show_other", "SHOW VIEW FROM vw_show.u IN vw_show")[0][0] == "on_u"
    assert error_of(cluster, db, "SHOW VIEW FROM on_t") == (1105, "Table 'on_t' is not a OLAP table")
    assert error_of(cluster, db, "SHOW VIEW FROM nope") == (1105, "Unknown table 'nope' in vw_show")
    assert error_of(cluster, db, "SHOW VIEW FROM t FROM nodb") == (1049, "Unknown database 'nodb'")
    assert error_of(cluster, db, "SHOW VIEW t")[0] == 1064
    cluster.query("CREATE USER 'vw_nobody' IDENTIFIED BY 'pw'")
    code, message = error_of(cluster, "", "SHOW VIEW FROM vw_show.t", user="vw_nobody", password="pw")
    assert code == 1142 and message.startswith("SHOW VIEW command denied to user 'vw_nobody'@'127.0.0.1'")
    assert message.endswith("for table 'vw_show: t'"), message


def test_views_through_the_mariadb_client(cluster: Cluster) -> None:
    make_db(cluster, "vw_cli")
    out = cluster.mariadb("USE vw_cli; CREATE VIEW v (a COMMENT 'key', b) AS SELECT * FROM t; "
                          "ALTER VIEW v MODIFY COMMENT 'from the client'; SHOW VIEW FROM t; "
                          "SELECT a FROM v ORDER BY a")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "View\tCreate View" and lines[1].startswith("v\tCREATE VIEW `v` (`a` COMMENT \"key\", `b`)")
    assert lines[-4:] == ["a", "1", "2", "3"]
    out = cluster.mariadb("SHOW CREATE VIEW vw_cli.v\\G")
    assert "character_set_client: utf8mb4" in out.stdout and 'COMMENT "from the client"' in out.stdout
    out = cluster.mariadb("CREATE VIEW vw_cli.bad (x, y, z) AS SELECT * FROM vw_cli.t")
    assert "ERROR 1353" in out.stderr and "different column counts" in out.stderr, out.stderr


# ---- restarts ----------------------------------------------------------------------------------------------


def test_views_survive_an_fe_restart(own_cluster: Cluster) -> None:
    c = own_cluster
    make_db(c, "vw_restart")
    run(c, "vw_restart", "CREATE VIEW v (a COMMENT 'c1', b) COMMENT 'kept' AS SELECT * FROM t WHERE k < 3")
    run(c, "vw_restart", "CREATE VIEW w AS SELECT k FROM t")
    run(c, "vw_restart", "ALTER VIEW w (only_k) AS SELECT k FROM t WHERE k = 3")
    before = {v: create_text(c, "vw_restart", v) for v in ("v", "w")}
    c.kill_fe()
    c.start_fe(auto_backends=False)
    assert {v: create_text(c, "vw_restart", v) for v in ("v", "w")} == before
    assert c.wait_for(lambda: _rows_or_none(c, "SELECT * FROM vw_restart.v ORDER BY a")) == [(1, "a"), (2, "b")]
    assert run(c, "vw_restart", "SELECT * FROM w") == [(3,)]
    assert [r[0] for r in run(c, "vw_restart", "SHOW VIEW FROM t")] == ["v", "w"]


def _rows_or_none(cluster: Cluster, sql: str) -> list[tuple] | None:
    """The rows, once the BEs have been heard from again after a restart."""
    try:
        return cluster.query(sql)
    except pymysql.MySQLError:
        return None


# ---- BACKUP / RESTORE --------------------------------------------------------------------------------------


def _restore(cluster: Cluster, db: str, label: str, repo: str, ts: str, clause: str = "", props: str = "",
             state: str = "FINISHED") -> dict:
    extra = f", {props}" if props else ""
    cluster.query(f'RESTORE SNAPSHOT {db}.{label} FROM {repo} {clause} '
                  f'PROPERTIES ("backup_timestamp" = "{ts}", "replication_num" = "1"{extra})')
    row = wait_job(cluster, "RESTORE", db, label)
    assert row["State"] == state, row
    return row


def test_views_in_backup_and_restore(cluster: Cluster, tmp_path: Path) -> None:
    db = "vw_br"
    make_db(cluster, db)
    run(cluster, db, "CREATE VIEW v (a COMMENT 'key', b) COMMENT 'backed up' AS SELECT * FROM t WHERE k < 3")
    run(cluster, db, "CREATE VIEW w AS SELECT count(*) AS n FROM t")
    texts = {name: create_text(cluster, db, name) for name in ("v", "w")}
    reads = {"v": [(1, "a"), (2, "b")], "w": [(3,)]}
    create_local_repo(cluster, "vw_br_repo", tmp_path)
    ts = backup_and_wait(cluster, db, "whole", "vw_br_repo")
    ts_v = backup_and_wait(cluster, db, "only_v", "vw_br_repo", "ON (v)")
    info = cluster.query_dicts("SHOW SNAPSHOT ON vw_br_repo WHERE SNAPSHOT = 'only_v' "
                               f"AND TIMESTAMP = '{ts_v}'")[0]
    assert '"view_list": [\n    {\n      "name": "v"' in info["Details"].replace("\r", ""), info

    def reads_as_backed_up(database: str, *views: str) -> None:
        for name in views:
            assert create_text(cluster, database, name) == texts[name]
            assert sorted(run(cluster, database, f"SELECT * FROM {name}")) == reads[name]

    # A dropped database comes back whole: its table and both views, reading as before.
    cluster.query(f"DROP DATABASE {db} FORCE")
    _restore(cluster, db, "whole", "vw_br_repo", ts)
    reads_as_backed_up(db, "v", "w")
    # A view that reads the same is kept; one changed since fails the restore, unless force_replace.
    _restore(cluster, db, "only_v", "vw_br_repo", ts_v, "ON (v)")
    run(cluster, db, "ALTER VIEW v AS SELECT k FROM t")
    row = _restore(cluster, db, "only_v", "vw_br_repo", ts_v, "ON (v)", state="CANCELLED")
    assert row["Status"] == "[COMMON_ERROR, msg: View v already exist but with different schema]"
    _restore(cluster, db, "only_v", "vw_br_repo", ts_v, "ON (v)", props='"atomic_restore" = "true"',
             state="CANCELLED")
    assert run(cluster, db, "SELECT count(*) FROM v") == [(3,)]  # still the altered view
    _restore(cluster, db, "only_v", "vw_br_repo", ts_v, "ON (v)",
             props='"atomic_restore" = "true", "force_replace" = "true"')
    reads_as_backed_up(db, "v")
    # AS gives the restored view another name; the original stays.
    _restore(cluster, db, "only_v", "vw_br_repo", ts_v, "ON (v AS v_copy)")
    assert create_text(cluster, db, "v_copy") == texts["v"].replace("`v`", "`v_copy`", 1)
    assert sorted(run(cluster, db, "SELECT * FROM v_copy")) == reads["v"]
    reads_as_backed_up(db, "v")
    # A table where the snapshot has a view is not overwritten.
    run(cluster, db, "DROP VIEW w")
    run(cluster, db, TABLE.format(name="w"))
    row = _restore(cluster, db, "whole", "vw_br_repo", ts, "ON (w)", state="CANCELLED")
    assert row["Status"] == ("[COMMON_ERROR, msg: The type of local table should be same as type of remote "
                             "table: w]")
    assert run(cluster, db, "SHOW FULL TABLES LIKE 'w'") == [("w", "BASE TABLE")]
