"""Stream Load of one JSON array (`strip_outer_array: true`): throughput and the FE's peak memory.

    python bench/stream_load_json.py [--size-mb 100] [--replicas 3] [--buckets 8]

Starts its own cluster (FE + 3 BEs) in a temporary folder, writes a JSON array of about `size-mb` MiB of
objects (the rows of bench/stream_load.py), loads it with one Stream Load and prints the rows, the time,
MB/s and the FE's peak resident memory (VmHWM) before and after the load. The array is parsed in blocks
(stream_load_block_bytes), so the peak stays far below the body's size times the cost of Python objects.
The default size is Doris's streaming_load_json_max_mb (100 MB), above which a JSON array is refused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import check_all_loaded, timed_stream_load  # noqa: E402

from tests.bodies import BENCH_COLUMNS, write_json_array  # noqa: E402
from tests.cluster import Cluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "data.json"
        rows = write_json_array(body, int(args.size_mb * (1 << 20)))
        size = body.stat().st_size
        cluster = Cluster(Path(tmp) / "cluster").start()
        try:
            cluster.query("CREATE DATABASE bench")
            cluster.query(
                f"CREATE TABLE bench.t ({BENCH_COLUMNS}) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) "
                f"BUCKETS {args.buckets} PROPERTIES ('replication_num' = '{args.replicas}')")
            rss_before = cluster.fe_peak_rss()
            answer, elapsed = timed_stream_load(cluster, body, {"format": "json", "strip_outer_array": "true"})
            rss_after = cluster.fe_peak_rss()
            check_all_loaded(cluster, answer, rows)
            mb = size / (1 << 20)
            print(f"stream load of a JSON array: {rows} rows, {mb:.0f} MiB in {elapsed:.2f} s = "
                  f"{mb / elapsed:.1f} MB/s (replication_num {args.replicas}, {args.buckets} buckets)")
            print(f"  FE peak RSS: {rss_before / (1 << 20):.0f} MiB before the load, {rss_after / (1 << 20):.0f} MiB "
                  "after it")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
