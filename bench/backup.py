"""BACKUP throughput of a real cluster against copying and checksumming the same files, in the same run.

    python bench/backup.py [--size-mb 1024] [--tablets 64] [--small-tablets 10000] [--no-s3]

1. Loads about `size-mb` of Parquet data into `tablets` tablets (one replica each), backs it up to a local
   repository, and prints our time divided by `cp -r` of the same tablet files plus `md5sum` of them.
   Target: 1.5 or below.
2. Backs up a table of `small-tablets` small tablets and prints the time. Target: under 30 s.
3. Backs the big table up to S3 (moto on loopback) and prints our time divided by `aws s3 cp --recursive`
   of the same files to the same endpoint. Target: 1 or below.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backup_helpers import wait_job  # noqa: E402
from tests.cluster import Cluster  # noqa: E402
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402

ROW_BYTES = 110  # about what one generated row takes in Parquet (md5 hex strings compress about 2:1)


def tablet_files(cluster: Cluster, db: str, table: str) -> list[Path]:
    ids = {int(r["TabletId"]) for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.{table}")}
    return [p for p in cluster.root.glob("be*/data/*/v*.parquet") if int(p.parent.name) in ids]


def load_big(cluster: Cluster, size_mb: int, tablets: int) -> None:
    cluster.query("CREATE DATABASE bench")
    cluster.query(f"CREATE TABLE bench.big (k BIGINT, a STRING, b STRING, c STRING) DUPLICATE KEY(k) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {tablets} PROPERTIES ('replication_num' = '1')")
    rows = size_mb * 1024 * 1024 // ROW_BYTES
    batch = 1_000_000
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        cluster.query(
            f"INSERT INTO bench.big SELECT number + {start}, md5(cast(number + {start} AS STRING)), "
            f"md5(cast(number * 7 + {start} AS STRING)), md5(cast(number * 13 + {start} AS STRING)) "
            f"FROM numbers('number' = '{n}')")


def timed_backup(cluster: Cluster, label: str, repo: str, clause: str = "ON (big)") -> float:
    start = time.perf_counter()
    cluster.query(f"BACKUP SNAPSHOT bench.{label} TO {repo} {clause}")
    row = wait_job(cluster, "BACKUP", "bench", label, timeout=3600)
    elapsed = time.perf_counter() - start
    assert row["State"] == "FINISHED", row
    return elapsed


def baseline_copy(files: list[Path], target: Path) -> float:
    """`cp -r` of the tablet folders and `md5sum` of the copied files: the same bytes, read and written."""
    folders = sorted({f.parent for f in files})
    start = time.perf_counter()
    target.mkdir(parents=True)
    subprocess.run(["cp", "-r", *map(str, folders), str(target)], check=True)
    copied = [str(p) for p in target.rglob("*.parquet")]
    subprocess.run(["md5sum", *copied], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def small_tablets(cluster: Cluster, count: int, repo: str) -> float:
    partitions = max(1, count // 100)
    buckets = count // partitions
    bounds = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * 10}')" for i in range(partitions))
    cluster.query(f"CREATE TABLE bench.many (k INT, v INT) DUPLICATE KEY(k) PARTITION BY RANGE(k) ({bounds}) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {buckets} PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO bench.many SELECT number % {partitions * 10}, number FROM numbers('number' = "
                  f"'{count * 2}')")
    return timed_backup(cluster, "many", repo, "ON (many)")


def s3_compare(cluster: Cluster, files: list[Path], work: Path) -> tuple[float, float]:
    s3 = S3Server()
    try:
        bucket = s3.create_bucket("bench")
        cluster.query(f'CREATE REPOSITORY s3repo WITH S3 ON LOCATION "s3://{bucket}/ours" {s3.properties()}')
        ours = timed_backup(cluster, "big_s3", "s3repo")
        local = work / "s3_source"
        for f in files:
            (local / f.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, local / f.parent.name / f.name)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": REGION}
        start = time.perf_counter()
        subprocess.run(["aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint,
                        str(local), f"s3://{bucket}/aws"], check=True, env=env)
        return ours, time.perf_counter() - start
    finally:
        s3.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--tablets", type=int, default=64)
    parser.add_argument("--small-tablets", type=int, default=10_000)
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster(work / "cluster").start()
        try:
            t0 = time.perf_counter()
            load_big(cluster, args.size_mb, args.tablets)
            files = tablet_files(cluster, "bench", "big")
            size = sum(f.stat().st_size for f in files)
            print(f"loaded {size / 2**20:.0f} MiB in {len(files)} files ({args.tablets} tablets) "
                  f"in {time.perf_counter() - t0:.1f} s")
            cluster.query(f'CREATE REPOSITORY local_repo WITH LOCAL ON LOCATION "file://{work}/repo"')
            ours = timed_backup(cluster, "big", "local_repo")
            base = baseline_copy(files, work / "cp_target")
            print(f"local backup: {ours:.2f} s; cp -r + md5sum: {base:.2f} s; ratio {ours / base:.2f} "
                  f"(target <= 1.5); {size / 2**20 / ours:.0f} MiB/s")
            if args.small_tablets:
                many = small_tablets(cluster, args.small_tablets, "local_repo")
                print(f"backup of {args.small_tablets} small tablets: {many:.1f} s (target < 30 s)")
            if not args.no_s3:
                ours_s3, aws = s3_compare(cluster, files, work)
                print(f"S3 backup: {ours_s3:.2f} s; aws s3 cp --recursive: {aws:.2f} s; ratio {ours_s3 / aws:.2f} "
                      "(target <= 1)")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
