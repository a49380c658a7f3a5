"""RESTORE throughput of a real cluster against copying and checksumming the same snapshot files, in one run.

    python bench/restore.py [--size-mb 1024] [--tablets 64] [--runs 3] [--small-tablets 10000]

1. Loads about `size-mb` of Parquet data into `tablets` tablets (one replica each) with INSERT ... SELECT
   FROM numbers(), backs it up to a local repository, restores the snapshot into a new database (one
   replica) and prints the restore time divided by `cp` of the snapshot's data files plus `md5sum` of
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
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Cluster, backup, baseline_copy, load_big, load_many, wait_done  # noqa: E402


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
    print(f"local restore: {', '.join(f'{t:.2f}' for t in ours_runs)} s; cp + md5sum: "
          f"{', '.join(f'{t:.2f}' for t in base_runs)} s; median ratio {ours / base:.2f} (target <= 1.5); "
          f"{size / 2**20 / ours:.0f} MiB/s")


def small_case(cluster: Cluster, count: int) -> None:
    t0 = time.perf_counter()
    made = load_many(cluster, count)
    print(f"created and loaded {made} tablets in {time.perf_counter() - t0:.1f} s")
    backup_s, ts = backup(cluster, "many", "local_repo", "many")
    os.sync()
    restore_s = restore(cluster, "restored_many", "many", "local_repo", ts)
    assert cluster.query("SELECT count(*), sum(v) FROM bench.many") == \
        cluster.query("SELECT count(*), sum(v) FROM restored_many.many")
    print(f"{made} small tablets: backup {backup_s:.1f} s, restore {restore_s:.1f} s "
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
