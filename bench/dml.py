"""DELETE and UPDATE against DuckDB doing the same to the same rows, and what deletes cost later scans.

    python bench/dml.py [--rows 10000000] [--update-rows 1000000] [--small-deletes 100] [--runs 5]

Starts its own cluster (FE + 3 BEs, one replica per tablet) in a temporary folder and prints, each with its
ratio to DuckDB run in the same process on a table made from the same Parquet files the BEs wrote:

- DELETE of 1% of `rows` rows from a DUPLICATE table (a delete predicate) and from a merge-on-write UNIQUE
  table (the rows marked with the delete sign);
- UPDATE of 1% of `update-rows` rows of a merge-on-write UNIQUE table;
- a scan of the DUPLICATE table before any delete, after `small-deletes` more single-key deletes, and once
  compaction has merged them (target: under 1.5x the scan before any delete).

Each of our statements is checked to leave the same rows as DuckDB's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doris_br.be.storage import covering, rowsets_in  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

BATCH_ROWS = 1_000_000
BUCKETS = 8
SCAN = "SELECT count(v), sum(v), max(s) FROM {table}"
# Compaction merges a tablet's small rowsets in the background; the bench waits this long for it at most.
COMPACTION_WAIT_S = 300.0
BE_CONF = "tablet_rowset_stale_sweep_time_sec = 1\n"


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of `runs` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Bench:
    def __init__(self, cluster: Cluster, runs: int) -> None:
        self.cluster = cluster
        self.runs = runs
        self.conn = cluster.connect(database=None)
        self.cur = self.conn.cursor()
        self.duck = duckdb.connect()
        self.sql("CREATE DATABASE bench")
        self.sql("USE bench")

    def sql(self, text: str) -> list[tuple]:
        self.cur.execute(text)
        return list(self.cur.fetchall())

    def make_table(self, name: str, keys: str, rows: int) -> None:
        """`name` in the cluster and the same rows in DuckDB, read from the Parquet files the BEs wrote."""
        self.sql(f"CREATE TABLE {name} (k BIGINT, v BIGINT, s VARCHAR(32)) {keys} KEY(k) "
                 f"DISTRIBUTED BY HASH(k) BUCKETS {BUCKETS} PROPERTIES ('replication_num' = '1')")
        for start in range(0, rows, BATCH_ROWS):
            n = min(BATCH_ROWS, rows - start)
            self.sql(f"INSERT INTO {name} SELECT number + {start}, (number + {start}) * 3, "
                     f"md5(cast(number + {start} AS STRING)) FROM numbers('number' = '{n}')")
        files = ", ".join(f"'{f}'" for f in self.chain_files(name))
        self.duck.execute(f"CREATE TABLE {name} AS SELECT k, v, s FROM read_parquet([{files}])")

    def tablet_folders(self, table: str) -> list[Path]:
        backends = {str(r[0]): f"{r[1]}:{r[2]}" for r in self.sql("SHOW BACKENDS")}
        folders = []
        for r in self.sql(f"SHOW TABLETS FROM {table}"):
            be = self.cluster.be_addresses.index(backends[str(r[2])])
            folders.append(self.cluster.root / f"be{be}" / "data" / str(r[0]))
        return folders

    def chains(self, table: str) -> list[list[Path]]:
        """Each tablet's rowsets a scan reads now (every version on disk is published: no load is running)."""
        result = []
        for folder in self.tablet_folders(table):
            rowsets = rowsets_in(folder.glob("v*.parquet"))
            last = max((r.end for r in rowsets), default=1)
            result.append([r.path for r in covering(rowsets, last)])
        return result

    def chain_files(self, table: str) -> list[Path]:
        return [p for chain in self.chains(table) for p in chain]

    def same(self, table: str) -> tuple[object, object]:
        ours = self.sql(f"SELECT count(*), sum(v) FROM {table}")[0]
        theirs = self.duck.execute(f"SELECT count(*), sum(v) FROM {table}").fetchone()
        assert theirs is not None and tuple(int(x) for x in ours) == tuple(int(x) for x in theirs), (ours, theirs)
        return ours

    def compare(self, what: str, table: str, statement: str) -> None:
        """`statement` run once by us and once by DuckDB on its copy; both must leave the same rows."""
        ours = once(lambda: self.sql(statement))
        theirs = once(lambda: self.duck.execute(statement))
        rows = self.same(table)
        print(f"{what}: ours {ours * 1000:.0f} ms, DuckDB {theirs * 1000:.0f} ms, ratio {ours / theirs:.2f} "
              f"(target < 3; rows left agree: {rows[0]:,})", flush=True)

    def scan(self, table: str) -> float:
        seconds, _ = timed(lambda: self.sql(SCAN.format(table=table)), self.runs)
        return seconds

    def wait_compacted(self, table: str) -> list[int]:
        """Waits until every tablet of `table` is read as one rowset (or the wait runs out); the chain lengths."""
        deadline = time.monotonic() + COMPACTION_WAIT_S
        while True:
            lengths = [len(c) for c in self.chains(table)]
            if max(lengths) <= 1 or time.monotonic() > deadline:
                return lengths
            time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the tables deleted from")
    parser.add_argument("--update-rows", type=int, default=1_000_000, help="rows of the table updated")
    parser.add_argument("--small-deletes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hundredth = args.rows // 100
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp) / "cluster", be_conf=BE_CONF).start()
        try:
            b = Bench(cluster, args.runs)
            start = time.perf_counter()
            b.make_table("d", "DUPLICATE", args.rows)
            print(f"DUPLICATE table d: {args.rows:,} rows loaded in {time.perf_counter() - start:.1f} s", flush=True)
            before = b.scan("d")
            duck_scan, _ = timed(lambda: b.duck.execute(SCAN.format(table="d")).fetchall(), args.runs)
            print(f"scan of d before any delete: {before * 1000:.0f} ms (DuckDB's table: {duck_scan * 1000:.0f} ms)",
                  flush=True)
            middle = args.rows // 2
            b.compare(f"DELETE of 1% of {args.rows:,} rows, DUPLICATE", "d",
                      f"DELETE FROM d WHERE k >= {middle} AND k < {middle + hundredth}")
            step = max(1, args.rows // max(1, args.small_deletes))
            start = time.perf_counter()
            for i in range(args.small_deletes):
                key = i * step + 1
                b.sql(f"DELETE FROM d WHERE k = {key}")
                b.duck.execute(f"DELETE FROM d WHERE k = {key}")
            deletes_s = time.perf_counter() - start
            b.same("d")
            after = b.scan("d")
            print(f"{args.small_deletes} single-key deletes in {deletes_s:.1f} s; scan of d after them: "
                  f"{after * 1000:.0f} ms, {after / before:.2f}x the scan before any delete", flush=True)
            lengths = b.wait_compacted("d")
            compacted = b.scan("d")
            b.same("d")
            print(f"after compaction (rowsets per tablet: {lengths}): scan of d {compacted * 1000:.0f} ms, "
                  f"{compacted / before:.2f}x the scan before any delete (target < 1.5)", flush=True)

            b.make_table("u", "UNIQUE", args.rows)
            b.compare(f"DELETE of 1% of {args.rows:,} rows, UNIQUE merge-on-write", "u",
                      "DELETE FROM u WHERE k % 100 = 7")
            b.make_table("w", "UNIQUE", args.update_rows)
            b.compare(f"UPDATE of 1% of {args.update_rows:,} rows, UNIQUE merge-on-write", "w",
                      "UPDATE w SET v = v + 1 WHERE k % 100 = 3")
        except pymysql.MySQLError as e:
            print(f"failed: {e}", flush=True)
            raise
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
