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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Cluster, backup, baseline_copy, load_big, load_many  # noqa: E402

from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402


def tablet_files(cluster: Cluster, db: str, table: str) -> list[Path]:
    ids = {int(r["TabletId"]) for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.{table}")}
    return [p for p in cluster.root.glob("be*/data/*/v*.parquet") if int(p.parent.name) in ids]


def s3_compare(cluster: Cluster, files: list[Path], work: Path) -> tuple[float, float]:
    s3 = S3Server()
    try:
        bucket = s3.create_bucket("bench")
        cluster.query(f'CREATE REPOSITORY s3repo WITH S3 ON LOCATION "s3://{bucket}/ours" {s3.properties()}')
        ours, _ = backup(cluster, "big_s3", "s3repo", "big")
        local = work / "s3_source"
        for f in files:
            (local / f.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, local / f.parent.name / f.name)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": REGION}
        os.sync()
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
    parser.add_argument("--small-tablets", type=int, default=10_000, help="0 skips the many-tablet case")
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
            os.sync()
            ours, _ = backup(cluster, "big", "local_repo", "big")
            os.sync()
            base = baseline_copy(files, work / "cp_target")
            print(f"local backup: {ours:.2f} s; cp -r + md5sum: {base:.2f} s; ratio {ours / base:.2f} "
                  f"(target <= 1.5); {size / 2**20 / ours:.0f} MiB/s")
            if args.small_tablets:
                made = load_many(cluster, args.small_tablets)
                many, _ = backup(cluster, "many", "local_repo", "many")
                print(f"backup of {made} small tablets: {many:.1f} s (target < 30 s)")
            if not args.no_s3:
                ours_s3, aws = s3_compare(cluster, files, work)
                print(f"S3 backup: {ours_s3:.2f} s; aws s3 cp --recursive: {aws:.2f} s; ratio {ours_s3 / aws:.2f} "
                      "(target <= 1)")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
