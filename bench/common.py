"""What the benchmarks share: the data they move, timing a job or a Stream Load, the copy baseline."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backup_helpers import snapshot_timestamp  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

ROW_BYTES = 110  # about what one generated row takes in Parquet (md5 hex strings compress about 2:1)
BATCH_ROWS = 1_000_000  # rows per INSERT: one load's Parquet files stay well under the BEs' memory


def timed(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall time of `runs` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def load_big(cluster: Cluster, size_mb: int, tablets: int) -> None:
    """About `size_mb` of Parquet in `tablets` tablets of bench.big, one replica each."""
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


def load_many(cluster: Cluster, count: int) -> int:
    """bench.many: `count` small tablets (100 buckets per partition, one replica); returns the tablets made."""
    partitions = max(1, count // 100)
    buckets = count // partitions
    bounds = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * 10}')" for i in range(partitions))
    cluster.query(f"CREATE TABLE bench.many (k INT, v INT) DUPLICATE KEY(k) PARTITION BY RANGE(k) ({bounds}) "
                  f"DISTRIBUTED BY HASH(k) BUCKETS {buckets} PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO bench.many SELECT number % {partitions * 10}, number FROM numbers('number' = "
                  f"'{count * 2}')")
    return partitions * buckets


def wait_done(cluster: Cluster, kind: str, db: str, label: str) -> dict:
    """The job's row once FINISHED or CANCELLED, polled every 50 ms: the tests' 200 ms would add up to a
    tenth of a second to every timing."""
    column = "SnapshotName" if kind == "BACKUP" else "Label"
    while True:
        rows = cluster.query_dicts(f"SHOW {kind} FROM {db} WHERE {column} = '{label}'")
        if rows and rows[-1]["State"] in ("FINISHED", "CANCELLED"):
            return rows[-1]
        time.sleep(0.05)


def backup(cluster: Cluster, label: str, repo: str, table: str) -> tuple[float, str]:
    """Seconds from BACKUP to FINISHED, and the snapshot's timestamp."""
    start = time.perf_counter()
    cluster.query(f"BACKUP SNAPSHOT bench.{label} TO {repo} ON ({table})")
    row = wait_done(cluster, "BACKUP", "bench", label)
    elapsed = time.perf_counter() - start
    assert row["State"] == "FINISHED", row
    return elapsed, snapshot_timestamp(cluster, repo, label)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_copy(files: list[Path], target: Path) -> float:
    """One `cp` of exactly these files, each into a copy of its folder, and `md5sum` of the copies: the same
    bytes read, written, summed. (Not `cp -r` of the folders: a tablet's folder also keeps rowsets merged by
    compaction for a while, which no backup reads.)"""
    root = Path(os.path.commonpath([str(f) for f in files]))
    if root in files:
        root = root.parent
    relative = [str(f.relative_to(root)) for f in files]
    start = time.perf_counter()
    target.mkdir(parents=True)
    subprocess.run(["cp", "--parents", *relative, str(target)], check=True, cwd=root)
    subprocess.run(["md5sum", *relative], check=True, stdout=subprocess.DEVNULL, cwd=target)
    return time.perf_counter() - start


def timed_stream_load(cluster: Cluster, body: Path, headers: dict[str, str]) -> tuple[dict, float]:
    """`body` sent as one Stream Load into bench.t: Doris's answer (checked to be a Success) and the seconds."""
    with open(body, "rb") as data:
        start = time.perf_counter()
        answer = requests.put(f"{cluster.http}/api/bench/t/_stream_load", data=data, auth=("root", ""),
                              headers={"label": "bench", "Expect": "100-continue", **headers}, timeout=3600).json()
        elapsed = time.perf_counter() - start
    assert answer["Status"] == "Success", answer
    return answer, elapsed


def check_all_loaded(cluster: Cluster, answer: dict, rows: int) -> None:
    counted = cluster.query("SELECT count(*) FROM bench.t")[0][0]
    assert counted == rows == answer["NumberLoadedRows"], (counted, rows, answer)
