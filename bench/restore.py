"""RESTORE throughput of a real cluster against copying and checksumming the same snapshot files, in one run.

    python bench/restore.py [--size-mb 1024] [--tablets 64] [--runs 3] [--small-tablets 10000]

1. Loads about `size-mb` of Parquet data into `tablets` tablets (one replica each) with INSERT ... SELECT
   FROM numbers(), backs it up to a local repository, restores the snapshot into a new database (one
   replica) and prints the restore time divided by `cp -r` of the snapshot's data files plus `md5sum` of
   the copies: the same bytes read, written and checksummed. Target: 1.5 or below. Restores and copies
   alternate `runs` times and the medians are compared: on this kind of machine a GiB of writes leaves
   the disk busy with writeback for seconds, so each timed step starts after a `sync` and one run alone
   says more about the page cache than about either side.
2. Backs up and restores a table of `small-tablets` small tablets (100 buckets per partition, one replica)
   and prints both times. Target for the restore: under 30 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backup_helpers import snapshot_timestamp  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

ROW_BYTES = 110  # about what one generated row takes in Parquet (md5 hex strings compress about 2:1)
BATCH_ROWS = 1_000_000  # rows per INSERT: one load's Parquet files stay well under the BEs' memory


def wait_done(cluster: Cluster, kind: str, db: str, label: str) -> dict:
    """The job's row once FINISHED or CANCELLED, polled every 50 ms: the tests' 200 ms would add up to a
    tenth of a second to every timing."""
    column = "SnapshotName" if kind == "BACKUP" else "Label"
    while True:
        rows = cluster.query_dicts(f"SHOW {kind} FROM {db} WHERE {column} = '{label}'")
        if rows and rows[-1]["State"] in ("FINISHED", "CANCELLED"):
            return rows[-1]
        time.sleep(0.05)


def load_big(cluster: Cluster, size_mb: int, tablets: int) -> None:
    cluster.query("CREATE DATABASE bench")
    cluster.query(f"CREATE TABLE bench.big (k BIGINT, a STRING, b STRING, c STRING) DUPLICATE KEY(k) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {tablets} PROPERTIES ('replication_num' = '1')")
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    for start in range(0, rows, BATCH_ROWS):
        n = min(BATCH_ROWS, rows - start)
        cluster.query(
            f"INSERT INTO bench.big SELECT number + {start}, md5(cast(number + {start} AS STRING)), "
            f"md5(cast(number * 7 + {start} AS STRING)), md5(cast(number * 13 + {start} AS STRING)) "
            f"FROM numbers('number' = '{n}')")


def backup(cluster: Cluster, label: str, repo: str, table: str) -> tuple[float, str]:
    """Seconds from BACKUP to FINISHED, and the snapshot's timestamp."""
    start = time.perf_counter()
    cluster.query(f"BACKUP SNAPSHOT bench.{label} TO {repo} ON ({table})")
    row = wait_done(cluster, "BACKUP", "bench", label)
    elapsed = time.perf_counter() - start
    assert row["State"] == "FINISHED", row
    return elapsed, snapshot_timestamp(cluster, repo, label)


def restore(cluster: Cluster, db: str, label: str, repo: str, ts: str) -> float:
    """Seconds from RESTORE to FINISHED, into a new database with one replica (as the source has)."""
    start = time.perf_counter()
    cluster.query(f'RESTORE SNAPSHOT {db}.{label} FROM {repo} PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1", "timeout" = "7200")')
    row = wait_done(cluster, "RESTORE", db, label)
    elapsed = time.perf_counter() - start
    assert row["State"] == "FINISHED", row
    return elapsed


def snapshot_data_files(repo: Path, label: str) -> list[Path]:
    """The snapshot's data files as the restore downloads them (tablet headers are not downloaded)."""
    content = next(repo.glob(f"__palo_repository_*/__ss_{label}/__ss_content"))
    return [p for p in content.rglob("*") if p.is_file() and ".hdr." not in p.name]


def baseline_copy(files: list[Path], target: Path) -> float:
    """`cp -r` of the snapshot's tablet folders and `md5sum` of the copied files."""
    folders = sorted({f.parent for f in files})
    start = time.perf_counter()
    target.mkdir(parents=True)
    subprocess.run(["cp", "-r", *map(str, folders), str(target)], check=True)
    copied = [str(p) for p in target.rglob("*") if p.is_file() and ".hdr." not in p.name]
    subprocess.run(["md5sum", *copied], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def check_rows(cluster: Cluster, source: str, target: str) -> None:
    """The restored table must hold what was backed up: same count and same checksum of the keys."""
    query = "SELECT count(*), sum(k), sum(length(a)) FROM {}"
    assert cluster.query(query.format(source)) == cluster.query(query.format(target))


def big_case(cluster: Cluster, work: Path, size_mb: int, tablets: int, runs: int) -> None:
    t0 = time.perf_counter()
    load_big(cluster, size_mb, tablets)
    print(f"loaded the big table ({tablets} tablets) in {time.perf_counter() - t0:.1f} s")
    cluster.query(f'CREATE REPOSITORY local_repo WITH LOCAL ON LOCATION "file://{work}/repo"')
    backup_s, ts = backup(cluster, "big", "local_repo", "big")
    files = snapshot_data_files(work / "repo", "big")
    size = sum(f.stat().st_size for f in files)
    print(f"backup: {size / 2**20:.0f} MiB in {len(files)} files in {backup_s:.2f} s")
    ours_runs, base_runs = [], []
    for i in range(runs):
        os.sync()  # neither side pays for the other's (or the load's) writeback
        ours_runs.append(restore(cluster, f"restored{i}", "big", "local_repo", ts))
        check_rows(cluster, "bench.big", f"restored{i}.big")
        cluster.query(f"DROP DATABASE restored{i} FORCE")
        os.sync()
        base_runs.append(baseline_copy(files, work / "cp_target"))
        shutil.rmtree(work / "cp_target")
    ours, base = statistics.median(ours_runs), statistics.median(base_runs)
    print(f"local restore: {', '.join(f'{t:.2f}' for t in ours_runs)} s; cp -r + md5sum: "
          f"{', '.join(f'{t:.2f}' for t in base_runs)} s; median ratio {ours / base:.2f} (target <= 1.5); "
          f"{size / 2**20 / ours:.0f} MiB/s")


def small_case(cluster: Cluster, count: int) -> None:
    partitions = max(1, count // 100)
    buckets = count // partitions
    bounds = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * 10}')" for i in range(partitions))
    t0 = time.perf_counter()
    cluster.query(f"CREATE TABLE bench.many (k INT, v INT) DUPLICATE KEY(k) PARTITION BY RANGE(k) ({bounds}) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {buckets} PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO bench.many SELECT number % {partitions * 10}, number FROM numbers('number' = "
                  f"'{count * 2}')")
    print(f"created and loaded {partitions * buckets} tablets in {time.perf_counter() - t0:.1f} s")
    backup_s, ts = backup(cluster, "many", "local_repo", "many")
    os.sync()
    restore_s = restore(cluster, "restored_many", "many", "local_repo", ts)
    assert cluster.query("SELECT count(*), sum(v) FROM bench.many") == \
        cluster.query("SELECT count(*), sum(v) FROM restored_many.many")
    print(f"{partitions * buckets} small tablets: backup {backup_s:.1f} s, restore {restore_s:.1f} s "
          "(target < 30 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--tablets", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3, help="restores and copies of the big snapshot")
    parser.add_argument("--small-tablets", type=int, default=10_000, help="0 skips the many-tablet case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster(work / "cluster").start()
        try:
            big_case(cluster, work, args.size_mb, args.tablets, args.runs)
            if args.small_tablets:
                small_case(cluster, args.small_tablets)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
