"""DELETE, UPDATE, merge-on-write, sequence columns, delete predicates: Doris's behaviour and errors per key model,
through PyMySQL and the mariadb client."""

from __future__ import annotations

import signal
import sqlite3

import pyarrow as pa
import pymysql
import pytest
import requests

from doris_br import duck
from doris_br.deletes import Condition, DeletePredicate, deleted_sql
from doris_br.fe.journal import journal_path
from tests.cluster import Cluster
from tests.test_data import run


def affected(cluster: Cluster, db: str, sql: str) -> int:
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        return cur.execute(sql)


def error(cluster: Cluster, db: str, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as info:
        run(cluster, db, sql)
    code, text = info.value.args[0], info.value.args[1]
    return code, text.removeprefix("errCode = 2, detailMessage = ")


def versions(cluster: Cluster, db: str, table: str) -> dict[str, int]:
    rows = cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.{table}")
    return {r["PartitionName"]: int(r["VisibleVersion"]) for r in rows}


def kv(cluster: Cluster, db: str, name: str, model: str, properties: str = "") -> None:
    values = ", ".join(f"({k}, {k * 10}, 'n{k}')" for k in range(1, 11))
    agg = " SUM" if model == "AGGREGATE" else ""
    name_agg = " REPLACE" if model == "AGGREGATE" else ""
    run(cluster, db, f"CREATE TABLE {name} (k INT, v INT{agg}, n VARCHAR(10){name_agg}) {model} KEY(k) "
                     f"DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '2'{properties})",
        f"INSERT INTO {name} VALUES {values}")


def keys(cluster: Cluster, db: str, table: str) -> list[int]:
    return [r[0] for r in run(cluster, db, f"SELECT k FROM {table} ORDER BY k")]


def test_merge_on_write_unique_delete_and_update(cluster: Cluster) -> None:
    db = "dml_mow"
    kv(cluster, db, "u", "UNIQUE")
    text = run(cluster, db, "SHOW CREATE TABLE u")[0][1]
    assert '"enable_unique_key_merge_on_write" = "true"' in text
    assert "__DORIS" not in text
    assert affected(cluster, db, "DELETE FROM u WHERE k = 3") == 1
    assert affected(cluster, db, "DELETE FROM u WHERE v > 80 AND n LIKE 'n%'") == 2  # value columns, any form
    assert keys(cluster, db, "u") == [1, 2, 4, 5, 6, 7, 8]
    assert affected(cluster, db, "UPDATE u SET v = v + 1, n = concat(n, '!') WHERE k < 3") == 2
    assert run(cluster, db, "SELECT * FROM u WHERE k <= 2 ORDER BY k") == [(1, 11, "n1!"), (2, 21, "n2!")]
    assert [d[0] for d in run(cluster, db, "DESC u")] == ["k", "v", "n"]
    # a key deleted can be loaded again; count(*) sees what SELECT sees
    run(cluster, db, "INSERT INTO u VALUES (3, 33, 'again')")
    assert run(cluster, db, "SELECT count(*) FROM u") == [(8,)]
    assert run(cluster, db, "SELECT v FROM u WHERE k = 3") == [(33,)]
    # DELETE ... USING a join
    run(cluster, db, "CREATE TABLE gone (id INT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1')", "INSERT INTO gone VALUES (4), (5)")
    assert affected(cluster, db, "DELETE FROM u USING gone WHERE u.k = gone.id") == 2
    assert keys(cluster, db, "u") == [1, 2, 3, 6, 7, 8]
    # UPDATE ... FROM
    assert affected(cluster, db, "UPDATE u SET v = gone.id * 100 FROM gone WHERE u.k + 2 = gone.id") == 2
    assert run(cluster, db, "SELECT k, v FROM u WHERE k IN (2, 3) ORDER BY k") == [(2, 400), (3, 500)]
    assert affected(cluster, db, "DELETE FROM u WHERE k = 99") == 0
    assert affected(cluster, db, "DELETE FROM u") == 6
    assert keys(cluster, db, "u") == []


def test_update_errors(cluster: Cluster) -> None:
    db = "dml_update_errors"
    kv(cluster, db, "u", "UNIQUE")
    kv(cluster, db, "d", "DUPLICATE")
    kv(cluster, db, "a", "AGGREGATE")
    assert error(cluster, db, "UPDATE d SET v = 1 WHERE k = 1") == (1105, "Only unique table could be updated.")
    assert error(cluster, db, "UPDATE a SET v = 1 WHERE k = 1") == (1105, "Only unique table could be updated.")
    assert error(cluster, db, "UPDATE u SET k = 1 WHERE k = 2") == (
        1105, "Only value columns of unique table could be updated")
    assert error(cluster, db, "UPDATE u SET nope = 1 WHERE k = 2") == (
        1105, "unknown column in assignment list: nope")
    code, text = error(cluster, db, "UPDATE u SET v = 'abc' WHERE k = 2")
    assert code == 1105 and "can not cast" in text
    assert keys(cluster, db, "u") == list(range(1, 11))


@pytest.mark.parametrize("model", ["DUPLICATE", "AGGREGATE", "UNIQUE_MOR"])
def test_predicate_deletes_per_key_model(cluster: Cluster, model: str) -> None:
    db = f"dml_pred_{model.lower()}"
    mor = model == "UNIQUE_MOR"
    kv(cluster, db, "t", "UNIQUE" if mor else model,
       ", 'enable_unique_key_merge_on_write' = 'false'" if mor else "")
    before = versions(cluster, db, "t")["t"]
    assert affected(cluster, db, "DELETE FROM t WHERE k = 3") == 0  # Doris answers 0 rows for predicate deletes
    assert versions(cluster, db, "t")["t"] == before + 1
    assert affected(cluster, db, "DELETE FROM t WHERE k IN (5, 6) AND k != 6") == 0
    assert affected(cluster, db, "DELETE FROM t WHERE k >= 9") == 0
    assert keys(cluster, db, "t") == [1, 2, 4, 6, 7, 8]
    assert run(cluster, db, "SELECT count(*) FROM t") == [(6,)]
    # rows loaded after a delete are not deleted by it
    run(cluster, db, "INSERT INTO t VALUES (3, 1, 'back')")
    assert keys(cluster, db, "t") == [1, 2, 3, 4, 6, 7, 8]
    assert run(cluster, db, "SELECT count(*), sum(v) FROM t") == [(7, 1 + 10 + 20 + 40 + 60 + 70 + 80)]
    if model == "DUPLICATE":
        assert affected(cluster, db, "DELETE FROM t WHERE n = 'n7' AND v IS NOT NULL") == 0
        assert keys(cluster, db, "t") == [1, 2, 3, 4, 6, 8]
        return
    kind = "an Aggregate table" if model == "AGGREGATE" else "an unique table without merge-on-write"
    assert error(cluster, db, "DELETE FROM t WHERE v = 10") == (
        1105, "delete predicate on value column only supports Unique table with merge-on-write enabled and "
              f"Duplicate table, but Table[t] is {kind}.")


def test_delete_errors(cluster: Cluster) -> None:
    db = "dml_delete_errors"
    kv(cluster, db, "d", "DUPLICATE")
    kv(cluster, db, "a", "AGGREGATE")
    run(cluster, db, "CREATE TABLE f (k INT, x DOUBLE) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1')")
    assert error(cluster, db, "DELETE FROM d WHERE k = 1 OR k = 2") == (
        1105, "Where clause only supports compound predicate, binary predicate, is_null predicate or in "
              "predicate. But we meet k = 1 OR k = 2")
    assert error(cluster, db, "DELETE FROM d WHERE k = v")[1].startswith(
        "Right expr of binary predicate should be value")
    assert error(cluster, db, "DELETE FROM f WHERE x = 1.5") == (1105, "Column[x] type is float or double.")
    assert error(cluster, db, "DELETE FROM d") == (1105, "delete command must contain filter")
    assert error(cluster, db, "DELETE FROM a USING d WHERE a.k = d.k") == (
        1105, "delete command on with using clause only supports unique key model")
    assert error(cluster, db, "DELETE FROM d WHERE nope = 1")[0] == 1054
    assert error(cluster, db, "DELETE FROM d WHERE k = 'x'") == (1105, "Invalid column value [x] for column [k]")
    assert error(cluster, db, "DELETE FROM d PARTITION (p9) WHERE k = 1") == (
        1105, "Partition: p9 does not exist in table: d")
    # hostile text stays a value
    assert affected(cluster, db, "DELETE FROM d WHERE n = 'x'' OR 1=1 --'") == 0
    assert keys(cluster, db, "d") == list(range(1, 11))
    assert error(cluster, db, "CREATE TABLE bad (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                              "PROPERTIES ('enable_unique_key_merge_on_write' = 'true')") == (
        1105, "enable_unique_key_merge_on_write property only support unique key table")
    assert error(cluster, db, "CREATE TABLE bad (k INT, s INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                              "PROPERTIES ('function_column.sequence_col' = 's')") == (
        1105, "sequence column only support UNIQUE_KEYS")


def stream_load(cluster: Cluster, db: str, table: str, body: bytes, **headers: str) -> dict:
    r = requests.put(f"{cluster.http}/api/{db}/{table}/_stream_load", data=body, auth=("root", ""),
                     headers={"column_separator": ",", **headers}, timeout=60)
    return r.json()


def test_stream_load_merge_types(cluster: Cluster) -> None:
    db = "dml_stream"
    kv(cluster, db, "u", "UNIQUE")
    kv(cluster, db, "d", "DUPLICATE")
    answer = stream_load(cluster, db, "u", b"1,0,x\n2,0,x\n", merge_type="DELETE")
    assert answer["Status"] == "Success", answer
    assert keys(cluster, db, "u") == list(range(3, 11))
    # MERGE: rows the condition matches delete their key, the others are upserts
    answer = stream_load(cluster, db, "u", b"3,1,x\n4,444,four\n11,110,n11\n", merge_type="MERGE",
                         delete="v = 1")
    assert answer["Status"] == "Success", answer
    assert keys(cluster, db, "u") == [4, 5, 6, 7, 8, 9, 10, 11]
    assert run(cluster, db, "SELECT v, n FROM u WHERE k = 4") == [(444, "four")]
    # the hidden column named in `columns`
    answer = stream_load(cluster, db, "u", b"5,1\n6,0\n", columns="k,__DORIS_DELETE_SIGN__")
    assert answer["Status"] == "Success", answer
    assert keys(cluster, db, "u") == [4, 6, 7, 8, 9, 10, 11]
    assert run(cluster, db, "SELECT * FROM u WHERE k = 11") == [(11, 110, "n11")]  # hidden columns never shown
    # what the table cannot honour fails; nothing is appended
    for headers, message in [
        ({"merge_type": "DELETE"}, "errCode = 2, detailMessage = load by MERGE or DELETE is only supported in "
                                   "unique tables."),
        ({"merge_type": "MERGE"}, "[INVALID_ARGUMENT]Excepted DELETE ON clause when merge type is MERGE."),
        ({"merge_type": "APPEND", "delete": "k = 1"},
         "[INVALID_ARGUMENT]Not support DELETE ON clause when merge type is not MERGE."),
        ({"merge_type": "UPSERT"}, "[INVALID_ARGUMENT]Invalid merge type UPSERT"),
    ]:
        answer = stream_load(cluster, db, "d", b"1,1,x\n", **headers)
        assert (answer["Status"], answer["Message"]) == ("Fail", message), headers
    assert run(cluster, db, "SELECT count(*) FROM d") == [(10,)]


def test_sequence_columns_decide_which_row_wins(cluster: Cluster) -> None:
    db = "dml_sequence"
    run(cluster, db, "CREATE TABLE s (k INT, v INT, seq INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                     "PROPERTIES ('replication_num' = '1', 'function_column.sequence_col' = 'seq')",
        "INSERT INTO s VALUES (1, 10, 5), (2, 20, 5)",
        "INSERT INTO s VALUES (1, 11, 4), (2, 21, 5)")  # smaller loses; equal: the later load wins
    assert run(cluster, db, "SELECT * FROM s ORDER BY k") == [(1, 10, 5), (2, 21, 5)]
    assert '"function_column.sequence_col" = "seq"' in run(cluster, db, "SHOW CREATE TABLE s")[0][1]
    assert affected(cluster, db, "UPDATE s SET v = 99 WHERE k = 1") == 1
    assert affected(cluster, db, "DELETE FROM s WHERE k = 2") == 1
    assert run(cluster, db, "SELECT * FROM s ORDER BY k") == [(1, 99, 5)]
    # the hidden sequence column of a sequence_type, filled by Stream Load's header
    run(cluster, db, "CREATE TABLE h (k INT, v INT, s INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1', 'function_column.sequence_type' = 'int')")
    answer = stream_load(cluster, db, "h", b"1,10,7\n", **{"function_column.sequence_col": "s"})
    assert answer["Status"] == "Success", answer
    answer = stream_load(cluster, db, "h", b"1,11,6\n", **{"function_column.sequence_col": "s"})
    assert answer["Status"] == "Success", answer
    assert run(cluster, db, "SELECT * FROM h") == [(1, 10, 7)]
    answer = stream_load(cluster, db, "h", b"1,12,8\n")
    assert answer["Message"] == "errCode = 2, detailMessage = Table h has sequence column, need to specify the " \
                                "sequence column"
    assert [d[0] for d in run(cluster, db, "DESC h")] == ["k", "v", "s"]


def test_mariadb_client_updates_and_deletes(cluster: Cluster) -> None:
    kv(cluster, "dml_cli", "u", "UNIQUE")
    kv(cluster, "dml_cli", "d", "DUPLICATE")
    script = ("USE dml_cli; UPDATE u SET v = -v WHERE k IN (1, 2); DELETE FROM u WHERE n = 'n3'; "
              "DELETE FROM d WHERE k > 2; SELECT k, v FROM u WHERE k < 5 ORDER BY k; SELECT count(*) FROM d;")
    out = cluster.mariadb(script, extra=("--batch", "--skip-column-names", "-vv"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "Query OK, 2 rows affected" in "\n".join(lines)
    assert "Query OK, 1 row affected" in "\n".join(lines)
    assert "Query OK, 0 rows affected" in "\n".join(lines)
    assert ["1\t-10", "2\t-20", "4\t40"] == [line for line in lines if "\t" in line]
    assert "2" in lines
    out = cluster.mariadb("DELETE FROM dml_cli.d WHERE k = 1 OR k = 2", extra=("--batch",))
    assert out.returncode != 0 and "ERROR 1105" in out.stderr and "Where clause only supports" in out.stderr


def test_delete_and_update_need_the_load_privilege(cluster: Cluster) -> None:
    db = "dml_priv"
    kv(cluster, db, "u", "UNIQUE")
    cluster.query("CREATE USER IF NOT EXISTS 'dml_reader'@'%' IDENTIFIED BY 'pw'")
    cluster.query(f"GRANT SELECT_PRIV ON {db}.* TO dml_reader")
    for sql in (f"DELETE FROM {db}.u WHERE k = 1", f"UPDATE {db}.u SET v = 1 WHERE k = 1"):
        with cluster.connect(user="dml_reader", password="pw") as conn, conn.cursor() as cur:
            with pytest.raises(pymysql.err.MySQLError) as info:
                cur.execute(sql)
        assert info.value.args[0] == 1142 and "LOAD command denied" in info.value.args[1], info.value.args
    cluster.query(f"GRANT LOAD_PRIV ON {db}.u TO dml_reader")
    with cluster.connect(user="dml_reader", password="pw") as conn, conn.cursor() as cur:
        assert cur.execute(f"DELETE FROM {db}.u WHERE k = 1") == 1
    assert keys(cluster, db, "u") == list(range(2, 11))


def test_unique_tables_from_before_merge_on_write_are_merge_on_read(own_cluster: Cluster) -> None:
    """A UNIQUE table journaled before the property and the delete sign existed (made so here by editing the
    journal while the FE is stopped) is merge-on-read: key-column delete predicates, no batch delete."""
    c = own_cluster
    db = "dml_old"
    kv(c, db, "u", "UNIQUE")
    c.kill_fe(signal.SIGTERM)
    with sqlite3.connect(journal_path(c.root)) as journal:
        journal.execute("UPDATE objects SET body = json_set(json_remove(body, '$.properties."
                        "enable_unique_key_merge_on_write'), '$.hidden_columns', json('[]')) "
                        "WHERE kind = 'tables' AND json_extract(body, '$.name') = 'u'")
    c.start_fe()
    assert '"enable_unique_key_merge_on_write" = "false"' in run(c, db, "SHOW CREATE TABLE u")[0][1]
    assert error(c, db, "DELETE FROM u WHERE v = 10")[1].endswith(
        "but Table[u] is an unique table without merge-on-write.")
    assert error(c, db, "DELETE FROM u") == (1105, "delete command must contain filter")
    assert affected(c, db, "DELETE FROM u WHERE k > 8") == 0
    assert affected(c, db, "UPDATE u SET v = 0 WHERE k = 1") == 1
    assert run(c, db, "SELECT k, v FROM u WHERE k IN (1, 2, 9) ORDER BY k") == [(1, 0), (2, 20)]
    answer = stream_load(c, db, "u", b"1,1,x\n", merge_type="DELETE")
    assert answer["Message"] == "errCode = 2, detailMessage = load by MERGE or DELETE need to upgrade table to " \
                                "support batch delete.", answer
    assert keys(c, db, "u") == list(range(1, 9))


def test_deletes_of_named_partitions(cluster: Cluster) -> None:
    db = "dml_parts"
    for name, model in (("d", "DUPLICATE"), ("u", "UNIQUE")):
        run(cluster, db, f"CREATE TABLE {name} (k INT, v INT) {model} KEY(k) PARTITION BY RANGE(k) "
                         "(PARTITION p1 VALUES LESS THAN ('10'), PARTITION p2 VALUES LESS THAN ('20'), "
                         "PARTITION p3 VALUES LESS THAN ('30')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                         "PROPERTIES ('replication_num' = '1')",
            f"INSERT INTO {name} VALUES " + ", ".join(f"({k}, {k % 2})" for k in range(30)))
        before = versions(cluster, db, name)
        affected(cluster, db, f"DELETE FROM {name} PARTITIONS (p1, p2) WHERE v = 1")
        assert [k for k in keys(cluster, db, name) if k % 2] == list(range(21, 30, 2))
        affected(cluster, db, f"DELETE FROM {name} PARTITION p3 WHERE v = 1")
        assert [k for k in keys(cluster, db, name) if k % 2] == []
        affected(cluster, db, f"DELETE FROM {name} WHERE k = 4")  # only p1 can hold k = 4
        after = versions(cluster, db, name)
        assert after["p3"] == before["p3"] + 1 and after["p1"] == before["p1"] + 2, (before, after)
        assert keys(cluster, db, name) == [k for k in range(30) if k % 2 == 0 and k != 4]


def test_an_insert_into_a_hidden_sequence_table_must_fill_the_sequence(cluster: Cluster) -> None:
    db = "dml_hidden_seq"
    run(cluster, db, "CREATE TABLE h (k INT, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1', 'function_column.sequence_type' = 'bigint')")
    assert error(cluster, db, "INSERT INTO h VALUES (1, 1)") == (
        1105, "Table h has sequence column, need to specify the sequence column")
    run(cluster, db, "INSERT INTO h (k, v, __DORIS_SEQUENCE_COL__) VALUES (1, 1, 9), (2, 2, 1)",
        "INSERT INTO h (k, v, __DORIS_SEQUENCE_COL__) VALUES (1, 10, 8), (2, 20, 2)")
    assert run(cluster, db, "SELECT * FROM h ORDER BY k") == [(1, 1), (2, 20)]
    assert affected(cluster, db, "UPDATE h SET v = 5 WHERE k = 1") == 1  # keeps the row's sequence: it wins
    assert affected(cluster, db, "DELETE FROM h WHERE k = 2") == 1
    assert run(cluster, db, "SELECT * FROM h ORDER BY k") == [(1, 5)]


def test_show_hidden_columns(cluster: Cluster) -> None:
    db = "dml_hidden"
    kv(cluster, db, "u", "UNIQUE")
    affected(cluster, db, "DELETE FROM u WHERE k > 1")
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("SET show_hidden_columns = true")
        cur.execute("SELECT * FROM u")
        assert cur.fetchall() == ((1, 10, "n1", 0),)  # deleted rows stay hidden
        cur.execute("DESC u")
        assert [r[0] for r in cur.fetchall()] == ["k", "v", "n", "__DORIS_DELETE_SIGN__"]
        cur.execute("SET show_hidden_columns = false")
        cur.execute("SELECT * FROM u")
        assert cur.fetchall() == ((1, 10, "n1"),)


def test_delete_conditions_are_typed_literals_never_sql() -> None:
    hostile = Condition('n"; --', "=", ("x' OR 1=1 --",), "VARCHAR")
    assert hostile.sql() == '"n""; --" = CAST(\'x\'\' OR 1=1 --\' AS VARCHAR)'
    for bad in (Condition("k", "= 1 OR", ("1",), "INTEGER"), Condition("k", "=", ("1",), "INTEGER) OR (1")):
        with pytest.raises(ValueError):
            bad.sql()
    rows = pa.table({"k": [1, 2, 3, None], 'n"; --': ["a", "x' OR 1=1 --", "b", None]})
    predicates = [DeletePredicate(5, (Condition("k", "=", ("1",), "INTEGER"),)),
                  DeletePredicate(6, (Condition("k", "IN", ("3", "4"), "INTEGER"),)), DeletePredicate(7, (hostile,))]
    cur = duck.cursor()
    try:
        cur.register("r", rows)
        kept = cur.sql(f"SELECT k FROM r WHERE NOT {deleted_sql(predicates)}").fetchall()
    finally:
        cur.close()
    assert kept == [(None,)]  # NULLs match no comparison: kept, as Doris keeps them
