"""DELETE and UPDATE of a real cluster against DuckDB doing the same on the same Parquet data, in the same run.

    python bench/dml.py [--rows 10000000] [--update-rows 1000000] [--deletes 100] [--runs 3]

1. DELETE of 1% of `rows` rows of a DUPLICATE table (a delete predicate: one version of no rows per tablet)
   against DuckDB writing the tablets' rows without the deleted ones (what a delete of Parquet data takes).
   Target: under 3x DuckDB.
2. UPDATE of 1% of `update-rows` rows of a merge-on-write UNIQUE table (the changed rows read and loaded again)
   against DuckDB writing the tablets' rows with the SET applied (Parquet files do not change in place).
   Target: under 3x DuckDB. Also printed: DuckDB writing only the changed rows (which is all we write).
3. A filtered scan of the DUPLICATE table before any delete, after `deletes` small deletes, and after compaction
   has merged them. Target: under 1.5x the scan before any delete once compacted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import timed  # noqa: E402

from doris_br.be.storage import covering, rowsets_in  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

BE_CONF = "cumulative_compaction_min_deltas = 5\ntablet_rowset_stale_sweep_time_sec = 60\n"
SCAN = "SELECT count(*), sum(v) FROM t WHERE s <> 'none'"


def once(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def table_files(cluster: Cluster, cur, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The files a read of the table takes now, one replica per tablet."""
    rows = cluster.query_dicts(f"SHOW TABLETS FROM bench.{table}")
    versions = {int(r["TabletId"]): int(r["Version"]) for r in rows}
    files: list[str] = []
    for folder in cluster.root.glob("be*/data/*"):
        tablet = int(folder.name)
        if tablet in versions:
            files += [str(r.path) for r in covering(rowsets_in(folder.iterdir()), versions.pop(tablet))]
    return files


def settled(cluster: Cluster, cur, table: str) -> list[str]:  # type: ignore[no-untyped-def]
    """table_files once the BEs have stopped merging (no change for two seconds)."""
    files = table_files(cluster, cur, table)
    while True:
        time.sleep(2)
        now = table_files(cluster, cur, table)
        merging = any(cluster.root.glob("be*/data/*/.*.tmp"))  # a merge being written
        if now == files and not merging:
            return files
        files = now


def native_table(duck: duckdb.DuckDBPyConnection, name: str, files: list[str]) -> str:
    """The same rows in a table of DuckDB's own (made, not timed): its DELETE and UPDATE change it in place."""
    duck.execute(f"CREATE TABLE native_{name} AS SELECT * FROM {listing(files)}")
    return f"native_{name}"


def listing(files: list[str]) -> str:
    return "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--update-rows", type=int, default=1_000_000)
    parser.add_argument("--deletes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "cluster", be_conf=BE_CONF).start()
        work = Path(tmp) / "duck"
        work.mkdir()
        duck = duckdb.connect()
        try:
            conn = cluster.connect()
            cur = conn.cursor()
            cur.execute("CREATE DATABASE bench")
            cur.execute("USE bench")
            cur.execute("CREATE TABLE t (k BIGINT, v BIGINT, s VARCHAR(16)) DUPLICATE KEY(k) "
                        "DISTRIBUTED BY HASH(k) BUCKETS 8 PROPERTIES ('replication_num' = '1')")
            cur.execute(f"INSERT INTO t SELECT number, number * 3, 'row' FROM numbers('number' = '{args.rows}')")
            files = settled(cluster, cur, "t")

            def scan() -> object:
                cur.execute(SCAN)
                return cur.fetchall()

            base_s, base_rows = timed(scan, args.runs)

            # 1. DELETE of 1%
            cut = args.rows // 100
            ours = once(lambda: cur.execute(f"DELETE FROM t WHERE k < {cut}"))
            theirs = once(lambda: duck.execute(
                f"COPY (SELECT * FROM {listing(files)} WHERE NOT (k < {cut})) TO '{work}/deleted.parquet'"))
            native = native_table(duck, "t", files)
            in_table = once(lambda: duck.execute(f"DELETE FROM {native} WHERE k < {cut}"))
            cur.execute("SELECT count(*) FROM t")
            left = cur.fetchall()[0][0]
            print(f"DELETE of 1% of {args.rows} rows: ours {ours * 1000:.0f} ms, DuckDB rewriting the files "
                  f"{theirs * 1000:.0f} ms, ratio {ours / theirs:.2f} (target < 3; {left} rows left); DuckDB "
                  f"deleting from its own table of the same rows {in_table * 1000:.0f} ms (ratio "
                  f"{ours / in_table:.2f})")

            # 2. UPDATE of 1% of a merge-on-write UNIQUE table
            cur.execute("CREATE TABLE u (k BIGINT, v BIGINT, s VARCHAR(16)) UNIQUE KEY(k) "
                        "DISTRIBUTED BY HASH(k) BUCKETS 8 PROPERTIES ('replication_num' = '1')")
            cur.execute(f"INSERT INTO u SELECT number, number, 'row' FROM numbers('number' = '{args.update_rows}')")
            u_files = settled(cluster, cur, "u")
            few = args.update_rows // 100
            ours = once(lambda: cur.execute(f"UPDATE u SET v = v + 1 WHERE k < {few}"))
            # Parquet files do not change in place: DuckDB's update of them writes them again, as its delete does
            theirs = once(lambda: duck.execute(
                f"COPY (SELECT k, CASE WHEN k < {few} THEN v + 1 ELSE v END AS v, s FROM {listing(u_files)}) "
                f"TO '{work}/updated.parquet'"))
            changed_only = once(lambda: duck.execute(
                f"COPY (SELECT k, v + 1 AS v, s FROM {listing(u_files)} WHERE k < {few}) "
                f"TO '{work}/changed.parquet'"))
            native = native_table(duck, "u", u_files)
            in_table = once(lambda: duck.execute(f"UPDATE {native} SET v = v + 1 WHERE k < {few}"))
            print(f"UPDATE of 1% of {args.update_rows} rows: ours {ours * 1000:.0f} ms, DuckDB rewriting the files "
                  f"{theirs * 1000:.0f} ms, ratio {ours / theirs:.2f} (target < 3); DuckDB writing only the "
                  f"changed rows {changed_only * 1000:.0f} ms (ratio {ours / changed_only:.2f}); DuckDB updating "
                  f"its own table of the same rows {in_table * 1000:.0f} ms (ratio {ours / in_table:.2f})")
            # A merge-on-write DELETE reads the rows and loads them again with the delete sign.
            ours = once(lambda: cur.execute("DELETE FROM u WHERE k % 100 = 7"))
            in_table = once(lambda: duck.execute(f"DELETE FROM {native} WHERE k % 100 = 7"))
            cur.execute("SELECT count(*), sum(v) FROM u")
            mine = cur.fetchall()[0]
            same = tuple(int(x) for x in mine) == tuple(int(x) for x in duck.execute(
                f"SELECT count(*), sum(v) FROM {native}").fetchone())  # type: ignore[union-attr]
            print(f"merge-on-write DELETE of 1% of {args.update_rows} rows (k % 100 = 7): ours {ours * 1000:.0f} ms, "
                  f"DuckDB's own table {in_table * 1000:.0f} ms, ratio {ours / in_table:.2f} (rows left agree: {same})")

            # 3. scans after many small deletes, before and after compaction
            for i in range(args.deletes):
                cur.execute(f"DELETE FROM t WHERE k = {cut + 1 + i * 7}")
            many_s, _ = timed(scan, args.runs)
            settled(cluster, cur, "t")
            merged_s, merged_rows = timed(scan, args.runs)
            print(f"scan: {base_s * 1000:.0f} ms before any delete, {many_s * 1000:.0f} ms after "
                  f"{args.deletes + 1} deletes ({many_s / base_s:.2f}x), {merged_s * 1000:.0f} ms once compacted "
                  f"({merged_s / base_s:.2f}x, target < 1.5; rows {base_rows} -> {merged_rows})")
            conn.close()
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
