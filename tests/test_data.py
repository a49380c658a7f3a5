"""Loads and reads through the MySQL wire: key models, partition routing and pruning, versions, atomicity,
restarts, result types; with PyMySQL and the mariadb CLI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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


def versions(cluster: Cluster, db: str, table: str) -> dict[str, int]:
    rows = cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.{table}")
    return {r["PartitionName"]: int(r["VisibleVersion"]) for r in rows}


def test_duplicate_model_keeps_every_row(cluster: Cluster) -> None:
    db = "data_dup"
    run(cluster, db, "CREATE TABLE t (k INT, name VARCHAR(10), amount DECIMAL(10, 2), ts DATETIME) "
                     "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '2')")
    loads = [
        [(1, "a", "1.50", "2024-01-01 10:00:00"), (2, "b", "2.25", "2024-01-02 11:30:00")],
        [(1, "a", "1.50", "2024-01-01 10:00:00")],
        [(3, None, "-7.00", None)],
    ]
    for rows in loads:
        values = ", ".join(
            "(" + ", ".join("NULL" if v is None else (str(v) if isinstance(v, int) else f"'{v}'") for v in r) + ")"
            for r in rows)
        with cluster.connect(database=db) as conn, conn.cursor() as cur:
            assert cur.execute(f"INSERT INTO t VALUES {values}") == len(rows)
    got = run(cluster, db, "SELECT k, name, amount, ts FROM t ORDER BY k, name")
    expected = sorted(
        ((k, n, Decimal(a), dt.datetime.fromisoformat(t) if t else None) for load in loads for k, n, a, t in load),
        key=lambda r: (r[0], r[1] or ""))
    assert got == expected
    assert versions(cluster, db, "t") == {"t": 4}


def test_aggregate_model_merges_per_key(cluster: Cluster) -> None:
    db = "data_agg"
    run(cluster, db,
        "CREATE TABLE t (k1 INT, k2 VARCHAR(5), s BIGINT SUM, mx INT MAX, mn INT MIN, r VARCHAR(5) REPLACE, "
        "rn INT REPLACE_IF_NOT_NULL) AGGREGATE KEY(k1, k2) DISTRIBUTED BY HASH(k1) BUCKETS 4",
        "INSERT INTO t VALUES (1, 'x', 10, 5, 5, 'a', 1), (2, 'y', 1, 1, 1, 'b', 2)",
        "INSERT INTO t VALUES (1, 'x', 5, 9, 2, 'c', NULL), (1, 'z', 1, 1, 1, 'd', 3)",
        "INSERT INTO t VALUES (1, 'x', 1, 0, 7, NULL, 8)")
    got = run(cluster, db, "SELECT * FROM t ORDER BY k1, k2")
    assert got == [(1, "x", 16, 9, 2, None, 8), (1, "z", 1, 1, 1, "d", 3), (2, "y", 1, 1, 1, "b", 2)]
    # No KEY clause: the columns without an aggregation are the key.
    run(cluster, db, "CREATE TABLE implicit (d DATE, city VARCHAR(10), pv BIGINT SUM) "
                     "DISTRIBUTED BY HASH(d) BUCKETS 2",
        "INSERT INTO implicit VALUES ('2024-01-01', 'a', 1), ('2024-01-01', 'a', 2), ('2024-01-01', 'b', 5)")
    assert run(cluster, db, "SELECT city, pv FROM implicit ORDER BY city") == [("a", 3), ("b", 5)]
    create = run(cluster, db, "SHOW CREATE TABLE implicit")[0][1]
    assert "AGGREGATE KEY(`d`, `city`)" in create and "`pv` bigint SUM NULL" in create


def test_unique_model_keeps_last_loaded_row(cluster: Cluster) -> None:
    db = "data_unique"
    run(cluster, db,
        "CREATE TABLE t (id BIGINT, v VARCHAR(10), n INT) UNIQUE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3",
        "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)",
        "INSERT INTO t VALUES (2, 'B', 20)",
        "INSERT INTO t VALUES (3, 'C', NULL), (3, 'CC', 33)")
    assert run(cluster, db, "SELECT * FROM t ORDER BY id") == [(1, "a", 1), (2, "B", 20), (3, "CC", 33)]
    assert run(cluster, db, "SELECT count(*) FROM t") == [(3,)]


def test_range_partitions_route_prune_and_version(cluster: Cluster) -> None:
    db = "data_range"
    run(cluster, db,
        "CREATE TABLE t (dt DATE NOT NULL, id INT, v INT) DUPLICATE KEY(dt, id) "
        "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
        "PARTITION p2 VALUES [('2024-02-01'), ('2024-03-01')), "
        "FROM ('2024-03-01') TO ('2024-05-01') INTERVAL 1 MONTH) "
        "DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    assert versions(cluster, db, "t") == {"p1": 1, "p2": 1, "p_202403": 1, "p_202404": 1}
    run(cluster, db, "INSERT INTO t VALUES ('2024-01-15', 1, 10), ('2024-02-10', 2, 20)")
    assert versions(cluster, db, "t") == {"p1": 2, "p2": 2, "p_202403": 1, "p_202404": 1}
    run(cluster, db, "INSERT INTO t PARTITION (p_202404) VALUES ('2024-04-30', 3, 30)")
    run(cluster, db, "INSERT INTO t VALUES ('2024-01-01', 4, 40)")
    assert versions(cluster, db, "t") == {"p1": 3, "p2": 2, "p_202403": 1, "p_202404": 2}
    # Routing: each row sits in the partition whose range holds it.
    assert run(cluster, db, "SELECT id FROM t WHERE dt < '2024-02-01' ORDER BY id") == [(1,), (4,)]
    plan = "\n".join(r[0] for r in run(cluster, db, "EXPLAIN SELECT id FROM t WHERE dt = '2024-04-30'"))
    assert "partitions=1/4 (p_202404)" in plan
    plan = "\n".join(r[0] for r in run(cluster, db, "EXPLAIN SELECT id FROM t WHERE dt >= '2024-02-01'"))
    assert "partitions=3/4 (p2,p_202403,p_202404)" in plan
    assert run(cluster, db, "SELECT id FROM t WHERE dt = '2024-04-30'") == [(3,)]
    # A row that fits no partition fails the whole load; nothing of it is visible and no version moves.
    with pytest.raises(pymysql.err.OperationalError, match="Insert has filtered data in strict mode"):
        run(cluster, db, "INSERT INTO t VALUES ('2024-01-20', 5, 50), ('2030-01-01', 6, 60)")
    with pytest.raises(pymysql.err.OperationalError, match="Insert has filtered data in strict mode"):
        run(cluster, db, "INSERT INTO t PARTITION (p1) VALUES ('2024-02-20', 7, 70)")
    assert run(cluster, db, "SELECT count(*) FROM t") == [(4,)]
    assert versions(cluster, db, "t") == {"p1": 3, "p2": 2, "p_202403": 1, "p_202404": 2}
    tablets = cluster.query_dicts(f"SHOW TABLETS FROM {db}.t PARTITION (p1)")
    assert {int(r["Version"]) for r in tablets} == {3} and len(tablets) == 2
    assert sum(int(r["RowCount"]) for r in tablets) == 2


def test_list_partitions_and_largeint_ranges(cluster: Cluster) -> None:
    db = "data_list"
    run(cluster, db,
        "CREATE TABLE t (id INT, city VARCHAR(10)) PARTITION BY LIST (city) "
        "(PARTITION pn VALUES IN ('beijing', 'shanghai'), PARTITION ps VALUES IN ('shenzhen'), PARTITION pother) "
        "DISTRIBUTED BY HASH(id) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        "INSERT INTO t VALUES (1, 'beijing'), (2, 'shenzhen'), (3, 'paris')")
    assert versions(cluster, db, "t") == {"pn": 2, "ps": 2, "pother": 2}
    plan = "\n".join(r[0] for r in run(cluster, db, "EXPLAIN SELECT * FROM t WHERE city = 'shenzhen'"))
    assert "partitions=2/3 (ps,pother)" in plan
    assert run(cluster, db, "SELECT id FROM t WHERE city IN ('shenzhen', 'paris') ORDER BY id") == [(2,), (3,)]
    create = run(cluster, db, "SHOW CREATE TABLE t")[0][1]
    assert "PARTITION BY LIST (`city`)" in create
    run(cluster, db, "CREATE TABLE big (k LARGEINT, v INT) PARTITION BY RANGE(k) "
                     "(PARTITION p0 VALUES LESS THAN ('10'), PARTITION p1 VALUES LESS THAN (MAXVALUE)) "
                     "DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
        "INSERT INTO big VALUES (-5, 1), (10, 2), (12345678901234567890, 3)")
    ranges = {r["PartitionName"]: r["Range"] for r in cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.big")}
    assert ranges["p0"] == ("[types: [LARGEINT]; keys: [-170141183460469231731687303715884105728]; "
                            "..types: [LARGEINT]; keys: [10]; )")
    assert ranges["p1"] == "[types: [LARGEINT]; keys: [10]; ..types: [LARGEINT]; keys: [MAXVALUE]; )"
    assert run(cluster, db, "SELECT v FROM big WHERE k >= 10 ORDER BY v") == [(2,), (3,)]


def test_insert_select_from_numbers_and_tables(cluster: Cluster) -> None:
    db = "data_numbers"
    run(cluster, db,
        "CREATE TABLE src (id BIGINT, grp INT, v DOUBLE) DISTRIBUTED BY HASH(id) BUCKETS 4 "
        "PROPERTIES ('replication_num' = '3')",
        "INSERT INTO src WITH LABEL lbl_1 SELECT number, number % 7, number * 0.5 FROM numbers('number' = '10000')")
    assert run(cluster, db, "SELECT count(*), sum(id), min(id), max(id) FROM src") == [(10000, 49995000, 0, 9999)]
    # A label names one load of the database: using it again is refused and loads nothing.
    with pytest.raises(pymysql.err.OperationalError, match=r"Label \[lbl_1\] has already been used"):
        run(cluster, db, "INSERT INTO src WITH LABEL lbl_1 VALUES (1, 1, 1)")
    assert run(cluster, db, "SELECT count(*) FROM src") == [(10000,)]
    run(cluster, db, "CREATE TABLE dst (grp INT, total DOUBLE SUM, n BIGINT SUM) AGGREGATE KEY(grp) "
                     "DISTRIBUTED BY HASH(grp) BUCKETS 2",
        "INSERT INTO dst (grp, total, n) SELECT grp, v, 1 FROM src",
        "INSERT INTO dst SELECT grp, sum(v), count(*) FROM src GROUP BY grp")
    expected = run(cluster, db, "SELECT grp, sum(v) * 2, count(*) * 2 FROM src GROUP BY grp ORDER BY grp")
    assert run(cluster, db, "SELECT grp, total, n FROM dst ORDER BY grp") == expected
    # Joins and views run over the merged tables.
    run(cluster, db, "CREATE VIEW v AS SELECT grp, n FROM dst WHERE grp < 3")
    assert run(cluster, db, "SELECT v.grp, v.n, count(*) FROM v JOIN src ON v.grp = src.grp "
                            "GROUP BY v.grp, v.n ORDER BY v.grp") == [(g, 2 * c, c) for g, c in
                                                                      [(0, 1429), (1, 1429), (2, 1429)]]


def test_result_column_types(cluster: Cluster) -> None:
    db = "data_types"
    run(cluster, db,
        "CREATE TABLE t (a TINYINT, b SMALLINT, c INT, d BIGINT, e FLOAT, f DOUBLE, g DECIMAL(12, 3), h DATE, "
        "i DATETIME, j CHAR(3), k VARCHAR(8), l STRING, m BOOLEAN) DISTRIBUTED BY HASH(a) BUCKETS 1",
        "INSERT INTO t VALUES (1, 2, 3, 4, 1.1, 2.5, 12.345, '2024-02-29', '2024-02-29 23:59:58', 'abc', 'vc', "
        "'str', true)")
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM t")
        types = [d[1] for d in cur.description]
        row = cur.fetchone()
    FT = pymysql.constants.FIELD_TYPE
    assert types == [FT.TINY, FT.SHORT, FT.LONG, FT.LONGLONG, FT.FLOAT, FT.DOUBLE, FT.NEWDECIMAL, FT.DATE,
                     FT.DATETIME, FT.STRING, FT.STRING, FT.STRING, FT.TINY]  # 254, as Doris sends CHAR and VARCHAR
    assert row == (1, 2, 3, 4, 1.1, 2.5, Decimal("12.345"), dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 58),
                   "abc", "vc", "str", 1)


def test_mariadb_cli_create_load_select(cluster: Cluster) -> None:
    script = (
        "CREATE DATABASE data_cli; USE data_cli; "
        "CREATE TABLE t (k INT, v DECIMAL(8, 2) SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2; "
        "INSERT INTO t VALUES (1, 1.25), (2, 2.00); INSERT INTO t VALUES (1, 0.75); "
        "SELECT * FROM t ORDER BY k;"
    )
    out = cluster.mariadb(script, extra=("--batch",))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["k\tv", "1\t2.00", "2\t2.00"]
    script = (
        "USE data_cli; "
        "CREATE TABLE u (k INT, v VARCHAR(5)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2; "
        "CREATE TABLE d (k INT, v VARCHAR(5)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2; "
        "INSERT INTO u VALUES (1, 'a'), (2, 'b'); INSERT INTO u VALUES (1, 'c'); "
        "INSERT INTO d VALUES (1, 'a'), (2, 'b'); INSERT INTO d VALUES (1, 'c'); "
        "SELECT * FROM u ORDER BY k; SELECT * FROM d ORDER BY k, v;"
    )
    out = cluster.mariadb(script, extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1\tc", "2\tb", "1\ta", "1\tc", "2\tb"]
    out = cluster.mariadb("SELECT * FROM data_cli.missing", extra=("--batch",))
    assert out.returncode != 0 and "ERROR 1105" in out.stderr and "does not exist" in out.stderr


def test_restart_finds_same_data(own_cluster: Cluster) -> None:
    c = own_cluster
    db = "data_restart"
    run(c, db, "CREATE TABLE t (k INT, v INT SUM) DISTRIBUTED BY HASH(k) BUCKETS 3",
        "INSERT INTO t SELECT number % 10, 1 FROM numbers('number' = '1000')",
        "INSERT INTO t VALUES (1, 100)")
    before = run(c, db, "SELECT * FROM t ORDER BY k")
    tablets_before = c.query(f"SHOW TABLETS FROM {db}.t")
    c.stop()
    # What a BE killed in the middle of writing leaves behind, and rows staged by a load that was never
    # published: removed at the next start.
    tablet = next(c.root.glob("be0/data/*"))
    leftovers = [tablet / ".txn_0123abcd.parquet.4567.tmp", tablet / "txn_0123abcd.parquet"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    for i in range(c.backend_count):
        c.start_be(i)
    assert not any(path.exists() for path in leftovers)
    c.start_fe()
    c.wait_for(lambda: all(r[9] == "true" for r in c.query("SHOW BACKENDS")))
    assert run(c, db, "SELECT * FROM t ORDER BY k") == before
    assert before[1] == (1, 200)
    assert c.query(f"SHOW TABLETS FROM {db}.t") == tablets_before
    run(c, db, "INSERT INTO t VALUES (1, 1)")
    assert run(c, db, "SELECT v FROM t WHERE k = 1") == [(201,)]
    assert versions(c, db, "t") == {"t": 4}


def test_scans_survive_a_dead_replica_and_loads_need_every_replica(own_cluster: Cluster) -> None:
    c = own_cluster
    db = "data_replicas"
    run(c, db, "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES ('replication_num' = '2')",
        "INSERT INTO t SELECT number, number FROM numbers('number' = '100')")
    c.kill_be(0)
    c.wait_for(lambda: any(r[9] == "false" for r in c.query("SHOW BACKENDS")))
    assert run(c, db, "SELECT count(*), sum(v) FROM t") == [(100, 4950)]
    with pytest.raises(pymysql.err.OperationalError, match="failed to load tablet"):
        run(c, db, "INSERT INTO t VALUES (1000, 1)")
    assert run(c, db, "SELECT count(*) FROM t") == [(100,)]
    assert versions(c, db, "t") == {"t": 2}


def test_grouped_queries_aggregated_on_backends(cluster: Cluster) -> None:
    """Grouped queries over DUPLICATE tables run in two phases (BEs, then FE); results match plain Python."""
    db = "data_partial"
    run(cluster, db, "CREATE TABLE e (id INT, p INT, v BIGINT, s VARCHAR(8)) DISTRIBUTED BY HASH(id) BUCKETS 3",
        "CREATE TABLE t (id INT, p INT, v BIGINT, s VARCHAR(8)) DISTRIBUTED BY HASH(id) BUCKETS 5")
    assert run(cluster, db, "SELECT count(*), sum(v), max(s) FROM e") == [(0, None, None)]
    assert run(cluster, db, "SELECT p, count(*) FROM e GROUP BY p") == []
    assert run(cluster, db, "SELECT avg(v) FROM e") == [(None,)]
    rows = [(i, i % 4, i * 10, f"s{i % 3}") for i in range(1, 301)]
    run(cluster, db, "INSERT INTO t VALUES " + ", ".join(f"({a}, {b}, {c}, '{d}')" for a, b, c, d in rows),
        "INSERT INTO t VALUES (999, NULL, NULL, NULL)")
    assert run(cluster, db, "SELECT count(*), count(v), sum(v), min(s), max(id) FROM t") == [
        (301, 300, sum(r[2] for r in rows), "s0", 999)]
    by_p: dict[int, list[tuple]] = {}
    for r in rows:
        by_p.setdefault(r[1], []).append(r)
    expected = [(None, 1, None)] + [(p, len(rs), sum(r[2] for r in rs)) for p, rs in sorted(by_p.items())]
    assert run(cluster, db, "SELECT p, count(*), sum(v) FROM t GROUP BY p ORDER BY p") == expected
    assert run(cluster, db, "SELECT p AS g, sum(v) * 2 AS x FROM t WHERE id > 100 GROUP BY g "
                            "HAVING count(*) > 10 ORDER BY x DESC LIMIT 2") == sorted(
        [(p, 2 * sum(r[2] for r in rs if r[0] > 100)) for p, rs in by_p.items()], key=lambda r: -r[1])[:2]
    assert run(cluster, db, "SELECT t.s, min(t.v), max(t.v) FROM t WHERE t.s IS NOT NULL GROUP BY 1 "
                            "ORDER BY 1") == [
        (s, min(r[2] for r in rows if r[3] == s), max(r[2] for r in rows if r[3] == s)) for s in ("s0", "s1", "s2")]
    assert run(cluster, db, "SELECT p, avg(v) FROM t WHERE p IS NOT NULL GROUP BY p ORDER BY p") == [
        (p, sum(r[2] for r in rs) / len(rs)) for p, rs in sorted(by_p.items())]
    assert run(cluster, db, "SELECT p % 2, count(DISTINCT s), avg(v) FROM t WHERE p IS NOT NULL GROUP BY p % 2 "
                            "ORDER BY 1") == [
        (k, 3, sum(r[2] for r in rows if r[1] % 2 == k) / sum(1 for r in rows if r[1] % 2 == k)) for k in (0, 1)]


def test_uncommitted_files_are_never_read(cluster: Cluster) -> None:
    """A version file beyond the visible version (an orphan of a failed load) is invisible, then replaced."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    db = "data_orphan"
    run(cluster, db, "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                     "PROPERTIES ('replication_num' = '1')")
    tablet = cluster.query_dicts(f"SHOW TABLETS FROM {db}.t")[0]
    backends = {r["BackendId"]: f"{r['Host']}:{r['HeartbeatPort']}" for r in cluster.query_dicts("SHOW BACKENDS")}
    root = cluster.root / f"be{cluster.be_addresses.index(backends[tablet['BackendId']])}"
    orphan = root / "data" / tablet["TabletId"] / "v2.parquet"
    pq.write_table(pa.table({"k": pa.array([7], pa.int32()), "v": pa.array([7], pa.int32())}), orphan)
    assert run(cluster, db, "SELECT * FROM t") == []
    run(cluster, db, "INSERT INTO t VALUES (1, 1)")
    assert run(cluster, db, "SELECT * FROM t") == [(1, 1)]
    assert versions(cluster, db, "t") == {"t": 2}


def test_concurrent_loads_each_publish_one_version(cluster: Cluster) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = "data_concurrent"
    run(cluster, db, "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 2")

    def load(i: int) -> None:
        run(cluster, db, f"INSERT INTO t SELECT number, {i} FROM numbers('number' = '100')")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(load, range(6)))
    assert versions(cluster, db, "t") == {"t": 7}
    assert run(cluster, db, "SELECT v, count(*) FROM t GROUP BY v ORDER BY v") == [(i, 100) for i in range(6)]
    tablets = cluster.query_dicts(f"SHOW TABLETS FROM {db}.t")
    assert {int(r["Version"]) for r in tablets} == {7} and {int(r["VersionCount"]) for r in tablets} == {7}


def test_fe_killed_during_a_load_leaves_it_invisible(own_cluster: Cluster) -> None:
    """kill -9 of the FE while replicas are being written: after a restart the load is not there (its staged
    files are never read), and the next load takes its version number."""
    import os
    import signal
    import threading

    c = own_cluster
    db = "data_fe_crash"
    run(c, db, "CREATE TABLE t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "INSERT INTO t VALUES (1, 1)")
    stuck = c.bes[0]
    assert stuck is not None
    os.kill(stuck.pid, signal.SIGSTOP)  # its writes hang, the other replicas' writes land
    errors: list[BaseException] = []

    def load() -> None:
        try:
            run(c, db, "INSERT INTO t SELECT number + 100, 7 FROM numbers('number' = '1000')")
        except BaseException as e:  # noqa: BLE001 - the FE dies under it
            errors.append(e)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        c.wait_for(lambda: any(c.root.glob("be*/data/*/txn_*.parquet")))
        c.kill_fe()
    finally:
        os.kill(stuck.pid, signal.SIGCONT)
    loader.join(30)
    assert errors
    c.start_fe()
    c.wait_for(lambda: all(r[9] == "true" for r in c.query("SHOW BACKENDS")))
    assert run(c, db, "SELECT * FROM t") == [(1, 1)]
    assert versions(c, db, "t") == {"t": 2}
    run(c, db, "INSERT INTO t VALUES (2, 2)")
    assert run(c, db, "SELECT * FROM t ORDER BY k") == [(1, 1), (2, 2)]
    assert versions(c, db, "t") == {"t": 3}
