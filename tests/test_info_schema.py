"""information_schema's SCHEMATA, PARTITIONS, VIEWS and STATISTICS: Doris's columns, rows from the catalog, and
only what the session's user may see (PrivPredicate.SHOW, as TABLES)."""

from __future__ import annotations

import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

from tests.cluster import Cluster

DB = "isdb"
EMPTY_DB = "is_a_empty"  # sorts before the others: mysql-mimic read an empty first database as no schema
USER, PASSWORD = "is_u1", "pw"

# Doris 2.1's SchemaTable.TABLE_MAP, in order.
PARTITIONS_COLUMNS = [
    "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "PARTITION_NAME", "SUBPARTITION_NAME",
    "PARTITION_ORDINAL_POSITION", "SUBPARTITION_ORDINAL_POSITION", "PARTITION_METHOD", "SUBPARTITION_METHOD",
    "PARTITION_EXPRESSION", "SUBPARTITION_EXPRESSION", "PARTITION_DESCRIPTION", "TABLE_ROWS", "AVG_ROW_LENGTH",
    "DATA_LENGTH", "MAX_DATA_LENGTH", "INDEX_LENGTH", "DATA_FREE", "CREATE_TIME", "UPDATE_TIME", "CHECK_TIME",
    "CHECKSUM", "PARTITION_COMMENT", "NODEGROUP", "TABLESPACE_NAME",
]
VIEWS_COLUMNS = ["TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "VIEW_DEFINITION", "CHECK_OPTION", "IS_UPDATABLE",
                 "DEFINER", "SECURITY_TYPE", "CHARACTER_SET_CLIENT", "COLLATION_CONNECTION"]
STATISTICS_COLUMNS = ["TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "NON_UNIQUE", "INDEX_SCHEMA", "INDEX_NAME",
                      "SEQ_IN_INDEX", "COLUMN_NAME", "COLLATION", "CARDINALITY", "SUB_PART", "PACKED", "NULLABLE",
                      "INDEX_TYPE", "COMMENT", "INDEX_COMMENT"]


@pytest.fixture(scope="module")
def catalog(cluster: Cluster) -> Cluster:
    """isdb.r (RANGE, two rows loaded), isdb.l (LIST on two columns), isdb.u (unpartitioned, two indexes),
    the view isdb.v over u, and a user who may see u only."""
    for sql in [
        f"CREATE DATABASE {EMPTY_DB}",
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.r (k INT, v INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN ('10'), "
        "PARTITION p2 VALUES LESS THAN ('20'), PARTITION pmax VALUES LESS THAN MAXVALUE) "
        "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        f"INSERT INTO {DB}.r VALUES (1, 1), (5, 2), (15, 3)",
        f"CREATE TABLE {DB}.l (id INT NOT NULL, city VARCHAR(10) NOT NULL) PARTITION BY LIST (id, city) "
        "(PARTITION pa VALUES IN ((\"1\", \"Beijing\"), (\"1\", \"Shanghai\")), PARTITION pb VALUES IN "
        "((\"2\", \"Beijing\"))) DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        f"CREATE TABLE {DB}.u (k INT NOT NULL, s VARCHAR(20), INDEX idx_s (s) USING INVERTED COMMENT 'words', "
        "INDEX idx_k (k) USING INVERTED) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
        "PROPERTIES ('replication_num' = '1')",
        f"CREATE VIEW {DB}.v AS SELECT k, s FROM {DB}.u WHERE k > 1",
        f"CREATE USER {USER} IDENTIFIED BY '{PASSWORD}'",
        f"GRANT SELECT_PRIV ON {DB}.u TO {USER}",
    ]:
        cluster.query(sql)
    return cluster


def described(c: Cluster, sql: str, user: str = "root", password: str = "") -> tuple[list[str], list[tuple]]:
    """The result's column names and rows."""
    with c.connect(user, password) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description], list(cur.fetchall())


def test_columns_are_doriss_in_order(catalog: Cluster) -> None:
    for table, expected in [("partitions", PARTITIONS_COLUMNS), ("views", VIEWS_COLUMNS),
                            ("statistics", STATISTICS_COLUMNS)]:
        names, _ = described(catalog, f"SELECT * FROM information_schema.{table} WHERE table_schema = '{DB}'")
        assert names == expected, table
        listed = catalog.query("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                               f"'information_schema' AND table_name = '{table}' ORDER BY ordinal_position")
        assert [r[0] for r in listed] == expected, table
    with catalog.connect() as conn, conn.cursor() as cur:  # Doris's types on the wire: INT, BIGINT, DATETIME
        cur.execute("SELECT partition_ordinal_position, table_rows, update_time, partition_name "
                    "FROM information_schema.partitions")
        assert [d[1] for d in cur.description] == [FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG, FIELD_TYPE.DATETIME,
                                                   FIELD_TYPE.STRING]


def test_range_partitions(catalog: Cluster) -> None:
    names, rows = described(catalog, f"SELECT * FROM information_schema.partitions WHERE table_schema = '{DB}' "
                                     "AND table_name = 'r' ORDER BY partition_name")
    got = [dict(zip(names, r, strict=True)) for r in rows]
    assert [g["PARTITION_NAME"] for g in got] == ["p1", "p2", "pmax"]
    first = got[0]
    assert (first["TABLE_CATALOG"], first["TABLE_SCHEMA"], first["TABLE_NAME"]) == ("internal", DB, "r")
    assert (first["PARTITION_METHOD"], first["PARTITION_EXPRESSION"]) == ("RANGE", "k")
    assert [g["PARTITION_DESCRIPTION"] for g in got] == [
        "[('-2147483648'), ('10'))", "[('10'), ('20'))", "[('20'), (MAXVALUE))"]
    assert [g["TABLE_ROWS"] for g in got] == [2, 1, 0]
    assert first["DATA_LENGTH"] > 0 and first["AVG_ROW_LENGTH"] == first["DATA_LENGTH"] // 2
    assert got[2]["DATA_LENGTH"] == 0 and got[2]["AVG_ROW_LENGTH"] == 0
    # What Doris's FE fills for what it does not have: the text "NULL", zeros, empty strings.
    assert (first["SUBPARTITION_NAME"], first["SUBPARTITION_METHOD"], first["SUBPARTITION_EXPRESSION"]) == (
        "NULL", "NULL", "NULL")
    assert (first["PARTITION_ORDINAL_POSITION"], first["MAX_DATA_LENGTH"], first["CHECKSUM"]) == (0, 0, 0)
    assert first["CHECK_TIME"] is None and first["UPDATE_TIME"] is not None and first["PARTITION_COMMENT"] == ""


def test_list_and_unpartitioned_partitions(catalog: Cluster) -> None:
    rows = catalog.query("SELECT table_name, partition_name, partition_method, partition_expression, "
                         "partition_description, table_rows FROM INFORMATION_SCHEMA.PARTITIONS "
                         f"WHERE table_schema = '{DB}' AND table_name IN ('l', 'u') ORDER BY 1, 2")
    assert rows == [
        ("l", "pa", "LIST", "id, city", '(("1", "Beijing"),("1", "Shanghai"))', 0),
        ("l", "pb", "LIST", "id, city", '(("2", "Beijing"))', 0),
        ("u", "u", "UNPARTITIONED", "NULL", "NULL", 0),  # one partition named as the table, as Doris
    ]
    assert catalog.query(f"SELECT COUNT(*) FROM information_schema.partitions WHERE table_schema = '{DB}'") == [
        (6,)]


def test_views_hold_the_views_query(catalog: Cluster) -> None:
    names, rows = described(catalog, "SELECT * FROM information_schema.views WHERE table_schema = 'isdb'")
    assert len(rows) == 1
    row = dict(zip(names, rows[0], strict=True))
    with catalog.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SHOW CREATE VIEW v")
        create = cur.fetchone()[1]
    assert create.endswith(f" AS {row['VIEW_DEFINITION']};") and "WHERE" in row["VIEW_DEFINITION"]
    assert row == {"TABLE_CATALOG": None, "TABLE_SCHEMA": DB, "TABLE_NAME": "v",
                   "VIEW_DEFINITION": row["VIEW_DEFINITION"], "CHECK_OPTION": "NONE", "IS_UPDATABLE": "NO",
                   "DEFINER": "root@%", "SECURITY_TYPE": "DEFINER", "CHARACTER_SET_CLIENT": "utf8",
                   "COLLATION_CONNECTION": None}
    assert catalog.query("SELECT table_name, view_definition FROM information_schema.views "
                         f"WHERE table_schema = '{DB}'") == [("v", row["VIEW_DEFINITION"])]


def test_statistics_agree_with_show_index(catalog: Cluster) -> None:
    with catalog.connect(database=DB) as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM u")
        shown = [(r[2], r[4], r[10], r[11]) for r in cur.fetchall()]
    rows = catalog.query("SELECT index_name, column_name, index_type, index_comment, seq_in_index, non_unique, "
                         "nullable, index_schema FROM information_schema.statistics "
                         f"WHERE table_schema = '{DB}' AND table_name = 'u'")
    assert [r[:4] for r in rows] == shown == [("idx_s", "s", "INVERTED", "words"), ("idx_k", "k", "INVERTED", "")]
    assert [r[4:] for r in rows] == [(1, 1, "YES", DB), (1, 1, "", DB)]
    assert catalog.query("SELECT COUNT(*) FROM information_schema.statistics WHERE table_name = 'u'") == [(2,)]
    assert catalog.query("SELECT COUNT(*) FROM information_schema.statistics WHERE table_name = 'r'") == [(0,)]


def test_a_user_sees_only_what_he_may(catalog: Cluster) -> None:
    """The user holds SELECT_PRIV on isdb.u only: none of r's, l's or v's rows."""
    def seen(sql: str) -> list[tuple]:
        return described(catalog, sql, USER, PASSWORD)[1]

    assert seen(f"SELECT table_name, partition_name FROM information_schema.partitions "
                f"WHERE table_schema = '{DB}'") == [("u", "u")]
    assert seen("SELECT table_name FROM information_schema.views") == []
    assert seen("SELECT DISTINCT table_name FROM information_schema.statistics") == [("u",)]
    catalog.query(f"GRANT SELECT_PRIV ON {DB}.v TO {USER}")
    try:
        assert seen("SELECT table_schema, table_name FROM information_schema.views") == [(DB, "v")]
    finally:
        catalog.query(f"REVOKE SELECT_PRIV ON {DB}.v FROM {USER}")


def test_the_tables_are_listed_and_unknown_ones_refused(catalog: Cluster) -> None:
    mine = catalog.query(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{DB}' ORDER BY 1")
    assert mine == [("l",), ("r",), ("u",), ("v",)]
    listed = catalog.query("SELECT table_name, table_type FROM information_schema.tables "
                           "WHERE table_schema = 'information_schema' AND table_name IN "
                           "('partitions', 'views', 'statistics') ORDER BY table_name")
    assert listed == [("partitions", "SYSTEM VIEW"), ("statistics", "SYSTEM VIEW"), ("views", "SYSTEM VIEW")]
    shown = {r[0] for r in catalog.query("SHOW TABLES FROM information_schema")}
    assert {"partitions", "views", "statistics"} <= shown
    described_rows = catalog.query("DESC information_schema.PARTITIONS")
    assert [r[0] for r in described_rows] == PARTITIONS_COLUMNS
    assert described_rows[5] == ("PARTITION_ORDINAL_POSITION", "INT", "Yes", "false", None, "")
    with catalog.connect(USER, PASSWORD, database="information_schema") as conn, conn.cursor() as cur:
        cur.execute("DESCRIBE views")  # any user may, as any user may read them
        assert [r[0] for r in cur.fetchall()] == VIEWS_COLUMNS
    with pytest.raises(pymysql.err.MySQLError) as info:
        catalog.query("SELECT * FROM information_schema.no_such_table")
    assert info.value.args == (1105, "errCode = 2, detailMessage = Table [no_such_table] does not exist in "
                                     "database [information_schema].")
    with pytest.raises(pymysql.err.MySQLError) as described_info:
        catalog.query("DESC information_schema.no_such_table")
    assert described_info.value.args == (
        1105, "errCode = 2, detailMessage = Unknown table 'no_such_table' in information_schema")


def test_schemata_lists_every_visible_database_empty_ones_too(catalog: Cluster) -> None:
    names, rows = described(catalog, "SELECT * FROM information_schema.schemata")
    assert names == ["CATALOG_NAME", "SCHEMA_NAME", "DEFAULT_CHARACTER_SET_NAME", "DEFAULT_COLLATION_NAME",
                     "SQL_PATH"]
    assert ("internal", EMPTY_DB, "utf8", "utf8_general_ci", None) in rows
    assert [r[1] for r in rows] == [r[0] for r in catalog.query("SHOW DATABASES")]
    seen = described(catalog, "SELECT schema_name FROM information_schema.schemata", USER, PASSWORD)[1]
    assert seen == [("information_schema",), (DB,)]
