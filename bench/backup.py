"""BACKUP throughput of a real cluster against copying and checksumming the same files, in the same run.

    python bench/backup.py [--size-mb 1024] [--tablets 64] [--small-tablets 10000] [--no-s3]

1. Loads about `size-mb` of Parquet data into `tablets` tablets (one replica each) in 1M-row INSERTs, waits
   for the BEs to merge the loads' rowsets (as Doris's compaction does), backs it up to a local repository,
   and prints our time divided by one `cp` of the same tablet files plus `md5sum` of them. Target: 1.5 or below.
2. Backs up a table of `small-tablets` small tablets and prints the time. Target: under 30 s.
3. Backs the big table up to S3 (moto on loopback) and prints our time divided by `aws s3 cp --recursive`
   of the same files to the same endpoint, the medians of `runs` runs of each (see s3_compare). Target: 1 or
   below.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Cluster, backup, baseline_copy, cpu_seconds, load_big, load_many  # noqa: E402

from doris_br.be.storage import covering, rowsets_in  # noqa: E402
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402


def tablet_files(cluster: Cluster, db: str, table: str) -> list[Path]:
    """The files a snapshot of the table takes now: each tablet's rowsets at its version. After compaction that
    is not every v*.parquet, since the merged ones stay a while for reads planned before the merge."""
    versions = {int(r["TabletId"]): int(r["Version"]) for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.{table}")}
    files: list[Path] = []
    for folder in cluster.root.glob("be*/data/*"):
        if int(folder.name) in versions:
            files += [r.path for r in covering(rowsets_in(folder.iterdir()), versions[int(folder.name)])]
    return files


def settled_files(cluster: Cluster, db: str, table: str) -> list[Path]:
    """tablet_files once the BEs have stopped merging the table's loads (no change for two seconds)."""
    files = tablet_files(cluster, db, table)
    while True:
        time.sleep(2)
        now = tablet_files(cluster, db, table)
        if now == files:
            return files
        files = now


def s3_compare(cluster: Cluster, files: list[Path], work: Path, runs: int) -> None:
    """Ours and `aws s3 cp --recursive`, `runs` times each, the medians compared. Fair to both sides:
    - one untimed round of each first: a fresh moto pays for growing its memory on the first GiB it stores;
    - each run's objects are deleted after it, so moto holds the same data before every run;
    - the sides take turns going first, and every run starts after a `sync`.
    The CPU seconds of each side (the FE and BEs; the aws process) and of moto are printed: unlike times, they
    are not moved by other load on the machine."""
    s3 = S3Server()
    try:
        bucket = s3.create_bucket("bench")
        cluster.query(f'CREATE REPOSITORY s3repo WITH S3 ON LOCATION "s3://{bucket}/ours" {s3.properties()}')
        local = work / "s3_source"
        for f in files:
            (local / f.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, local / f.parent.name / f.name)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": REGION}
        ours_pids = [p.pid for p in (cluster.fe, *cluster.bes) if p is not None]

        def run_ours(name: str) -> tuple[float, float]:
            cpu = sum(map(cpu_seconds, ours_pids))
            elapsed, _ = backup(cluster, name, "s3repo", "big")
            delete_prefix(s3, bucket, f"ours/__palo_repository_s3repo/__ss_{name}/")
            return elapsed, sum(map(cpu_seconds, ours_pids)) - cpu

        def run_aws(name: str) -> tuple[float, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(["aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint,
                            str(local), f"s3://{bucket}/{name}"], check=True, env=env)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            delete_prefix(s3, bucket, f"{name}/")
            return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

        sides = {"ours": run_ours, "aws": run_aws}
        for side, run in sides.items():
            os.sync()
            run(f"{side}_warmup")
        times: dict[str, list[float]] = {"ours": [], "aws": []}
        for i in range(runs):
            report = []
            for side in (("ours", "aws") if i % 2 == 0 else ("aws", "ours")):
                os.sync()
                moto = cpu_seconds(s3.proc.pid)
                elapsed, cpu = sides[side](f"{side}{i}")
                times[side].append(elapsed)
                report.append(f"{side} {elapsed:.2f} s (CPU s: {side} {cpu:.1f}, "
                              f"moto {cpu_seconds(s3.proc.pid) - moto:.1f})")
            print(f"  S3 run {i + 1}: " + "; ".join(report))
        ours, aws = statistics.median(times["ours"]), statistics.median(times["aws"])
        print(f"S3 backup: median {ours:.2f} s; aws s3 cp --recursive: median {aws:.2f} s; ratio {ours / aws:.2f} "
              "(target <= 1)")
    finally:
        s3.stop()


def delete_prefix(s3: S3Server, bucket: str, prefix: str) -> None:
    client = s3.client()
    keys = s3.keys(bucket, prefix)
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--tablets", type=int, default=64)
    parser.add_argument("--small-tablets", type=int, default=10_000, help="0 skips the many-tablet case")
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="S3 runs of each side; the medians are compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster(work / "cluster").start()
        try:
            t0 = time.perf_counter()
            load_big(cluster, args.size_mb, args.tablets)
            files = settled_files(cluster, "bench", "big")
            size = sum(f.stat().st_size for f in files)
            print(f"loaded {size / 2**20:.0f} MiB in {len(files)} files ({args.tablets} tablets) "
                  f"in {time.perf_counter() - t0:.1f} s")
            cluster.query(f'CREATE REPOSITORY local_repo WITH LOCAL ON LOCATION "file://{work}/repo"')
            os.sync()
            ours, _ = backup(cluster, "big", "local_repo", "big")
            os.sync()
            base = baseline_copy(files, work / "cp_target")
            print(f"local backup: {ours:.2f} s; cp + md5sum: {base:.2f} s; ratio {ours / base:.2f} "
                  f"(target <= 1.5); {size / 2**20 / ours:.0f} MiB/s")
            if args.small_tablets:
                made = load_many(cluster, args.small_tablets)
                many, _ = backup(cluster, "many", "local_repo", "many")
                print(f"backup of {made} small tablets: {many:.1f} s (target < 30 s)")
            if not args.no_s3:
                s3_compare(cluster, files, work, args.runs)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
