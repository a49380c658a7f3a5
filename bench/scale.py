"""Backup and restore of many small tablets, and what a client sees meanwhile: `SELECT 1` sent every 20 ms.

    python bench/scale.py [--tablets 10000] [--tablets 100000]

For each size: one FE, three BEs, one replica; a table of that many tablets (100 buckets a partition up to
10,000 tablets, 500 above, as in the issue's 200 x 500); BACKUP to a LOCAL repository, DROP, RESTORE. A second
client, on its own connection, sends `SELECT 1` every 20 ms from the BACKUP to the end of the RESTORE; its p50 and
p99 round trips (ms) are printed beside the jobs' times, the FE's peak RSS and the cost per tablet. The baseline in
the same run is the same client against the same idle FE before the jobs start.
Targets (issue 17): p99 under 50 ms during the jobs; at 100,000 tablets backup and restore each under 60 s, FE RSS
under 1 GiB, and the cost per tablet no more than 1.2x that at 10,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Cluster, wait_done  # noqa: E402

from tests.backup_helpers import create_local_repo, snapshot_timestamp  # noqa: E402


class Prober(threading.Thread):
    """`SELECT 1` every `interval` s on its own connection; the round trips, in ms."""

    def __init__(self, cluster: Cluster, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.conn = cluster.connect()
        self.interval = interval
        self.round_trips: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stopping.is_set():
                start = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchall()
                took = time.perf_counter() - start
                self.round_trips.append(took * 1000)
                self.stopping.wait(max(0.0, self.interval - took))

    def stop(self) -> list[float]:
        self.stopping.set()
        self.join()
        self.conn.close()
        return self.round_trips


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms, max {max(values):.1f} ms ({len(values)} probes)"


# SHOW BACKUP / SHOW RESTORE's time columns, in the order the states end (whole seconds, as Doris gives them).
BACKUP_TIMES = ("CreateTime", "SnapshotFinishedTime", "UploadFinishedTime", "FinishedTime")
RESTORE_TIMES = ("CreateTime", "MetaPreparedTime", "SnapshotFinishedTime", "DownloadFinishedTime", "FinishedTime")


def state_times(row: dict, columns: tuple[str, ...]) -> str:
    """Seconds from each time column to the next: where a job's time went."""
    stamps = [dt.datetime.fromisoformat(str(row[c])) for c in columns]
    return ", ".join(f"{columns[i + 1]} +{(stamps[i + 1] - stamps[i]).total_seconds():.0f} s"
                     for i in range(len(columns) - 1))


def make_table(cluster: Cluster, tablets: int) -> int:
    buckets = 100 if tablets <= 10_000 else 500
    partitions = max(1, tablets // buckets)
    bounds = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * 10}')" for i in range(partitions))
    cluster.query("CREATE DATABASE bench")
    cluster.query(f"CREATE TABLE bench.many (k INT, v INT) DUPLICATE KEY(k) PARTITION BY RANGE(k) ({bounds}) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {buckets} PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO bench.many SELECT number % {partitions * 10}, number FROM numbers('number' = "
                  f"'{partitions * buckets * 2}')")
    return partitions * buckets


def copy_baseline_s(cluster: Cluster, into: Path) -> float:
    """The baseline for the jobs' times: `cp -r` of every BE's tablet folders, one copy per BE at once (as the BEs
    upload), then `md5sum` of the copies: the same files, folders and bytes a backup writes and checksums."""
    into.mkdir()
    start = time.perf_counter()
    copies = [subprocess.Popen(["cp", "-r", str(data), str(into / data.parent.name)])
              for data in sorted(cluster.root.glob("be*/data"))]
    assert all(copy.wait() == 0 for copy in copies)
    subprocess.run(f"find {into} -type f -print0 | xargs -0 -n 2000 md5sum > /dev/null", shell=True, check=True)
    took = time.perf_counter() - start
    shutil.rmtree(into)
    return took


def fe_rss_peak_mib(cluster: Cluster) -> float:
    return cluster.fe_peak_rss() / 2**20


def run(tablets: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cluster = Cluster(root / "cluster").start()
        try:
            made = make_table(cluster, tablets)
            baseline_s = copy_baseline_s(cluster, root / "baseline")
            create_local_repo(cluster, "scale_repo", root / "repo")
            idle = Prober(cluster)
            idle.start()
            time.sleep(3)
            idle_trips = idle.stop()
            busy = Prober(cluster)
            busy.start()
            start = time.perf_counter()
            cluster.query("BACKUP SNAPSHOT bench.s1 TO scale_repo ON (many)")
            backup_row = wait_done(cluster, "BACKUP", "bench", "s1")
            assert backup_row["State"] == "FINISHED", backup_row
            backup_s = time.perf_counter() - start
            stamp = snapshot_timestamp(cluster, "scale_repo", "s1")
            cluster.query("DROP TABLE bench.many FORCE")
            start = time.perf_counter()
            cluster.query(f"RESTORE SNAPSHOT bench.s1 FROM scale_repo ON (many) "
                          f"PROPERTIES ('backup_timestamp' = '{stamp}', 'replication_num' = '1')")
            restore_row = wait_done(cluster, "RESTORE", "bench", "s1")
            assert restore_row["State"] == "FINISHED", restore_row
            restore_s = time.perf_counter() - start
            busy_trips = busy.stop()
            print(f"{made} tablets: backup {backup_s:.1f} s ({backup_s / made * 1e3:.2f} ms a tablet), "
                  f"restore {restore_s:.1f} s ({restore_s / made * 1e3:.2f} ms a tablet), "
                  f"FE peak RSS {fe_rss_peak_mib(cluster):.0f} MiB")
            print(f"  baseline (cp -r + md5sum of the BEs' tablet folders): {baseline_s:.1f} s; backup "
                  f"{backup_s / baseline_s:.2f}x, restore {restore_s / baseline_s:.2f}x of it")
            print(f"  backup states:  {state_times(backup_row, BACKUP_TIMES)}")
            print(f"  restore states: {state_times(restore_row, RESTORE_TIMES)}")
            print(f"  SELECT 1 idle:        {percentiles(idle_trips)}")
            print(f"  SELECT 1 during jobs: {percentiles(busy_trips)}  (target p99 < 50 ms)")
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tablets", type=int, action="append", help="repeatable; default 10000")
    args = parser.parse_args()
    for tablets in args.tablets or [10_000]:
        run(tablets)


if __name__ == "__main__":
    main()
