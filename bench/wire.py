"""Small-query round trips of a real cluster (one FE, three BEs) against a MariaDB server, same client, same run.

    python bench/wire.py [--seconds 3]

MariaDB is Debian's mariadb-server (`apt-get install mariadb-server`), started here as a child process on a free
loopback port with a temporary data folder and no grant tables. One PyMySQL connection to each runs every
statement back to back for `seconds`; the rate (round trips per second) and ours / MariaDB's are printed.
SHOW BACKUP has no MariaDB counterpart: MariaDB runs SHOW TABLES there (a catalog listing of the same size).
Target: at least 0.5x MariaDB's rate for SELECT 1 and the SHOW statements.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backup_helpers import backup_and_wait, create_local_repo  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

TABLE = "CREATE TABLE bench.kv (k INT, v VARCHAR(32)) {tail}"
DORIS_TAIL = "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '1')"
# (what is measured, our statement, MariaDB's)
STATEMENTS = [
    ("SELECT 1", "SELECT 1", "SELECT 1"),
    ("SHOW DATABASES", "SHOW DATABASES", "SHOW DATABASES"),
    ("SHOW BACKUP", "SHOW BACKUP FROM bench", "SHOW TABLES FROM bench"),
    ("primary-key SELECT", "SELECT v FROM bench.kv WHERE k = 500", "SELECT v FROM bench.kv WHERE k = 500"),
    ("1,000-row SELECT", "SELECT k, v FROM bench.kv", "SELECT k, v FROM bench.kv"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mariadb(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
    data = folder / "data"
    subprocess.run([install, f"--datadir={data}", "--auth-root-authentication-method=normal", "--user=root",
                    "--skip-test-db"], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen([server, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
                             f"--socket={folder / 'mysql.sock'}", "--skip-grant-tables", "--user=root",
                             f"--pid-file={folder / 'mariadb.pid'}", "--skip-log-bin"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root").close()
            return proc, port
        except pymysql.err.OperationalError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("mariadbd did not start")


def fill(conn: pymysql.connections.Connection, tail: str) -> None:
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS bench")
        cur.execute(TABLE.format(tail=tail))
        cur.execute("INSERT INTO bench.kv VALUES " + ", ".join(f"({i}, 'value-{i}')" for i in range(1000)))


def rate(conn: pymysql.connections.Connection, sql: str, seconds: float) -> float:
    """Round trips per second of `sql` (rows fetched), after a warm-up."""
    with conn.cursor() as cur:
        for _ in range(20):
            cur.execute(sql)
            cur.fetchall()
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            cur.execute(sql)
            cur.fetchall()
            count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        maria, maria_port = start_mariadb(root / "mariadb")
        cluster = Cluster(root / "cluster").start()
        try:
            ours = cluster.connect()
            theirs = pymysql.connect(host="127.0.0.1", port=maria_port, user="root", autocommit=True)
            fill(ours, DORIS_TAIL)
            fill(theirs, "ENGINE=InnoDB")
            create_local_repo(cluster, "bench_repo", root / "repo")  # one finished backup: SHOW BACKUP has a row
            backup_and_wait(cluster, "bench", "s1", "bench_repo", "ON (kv)")
            print(f"{'statement':<20} {'doris-br q/s':>13} {'MariaDB q/s':>12} {'ratio':>6}")
            for name, mine, maria_sql in STATEMENTS:
                a, b = rate(ours, mine, args.seconds), rate(theirs, maria_sql, args.seconds)
                print(f"{name:<20} {a:>13.0f} {b:>12.0f} {a / b:>6.2f}")
            ours.close()
            theirs.close()
        finally:
            cluster.stop()
            maria.terminate()
            maria.wait(timeout=30)


if __name__ == "__main__":
    main()
