"""Small-query round trips of a real cluster (one FE, three BEs) against a MariaDB server, same client, same run.

    python bench/wire.py [--seconds 3]

MariaDB is Debian's mariadb-server (`apt-get install mariadb-server`), started here as a child process on a free
loopback port with a temporary data folder and no grant tables. One PyMySQL connection to each runs every
statement back to back for `seconds`; the rate (round trips per second) and ours / MariaDB's are printed.
SHOW BACKUP has no MariaDB counterpart; two stand in for it: SHOW TABLES (a catalog listing of one row, but of one
column where SHOW BACKUP has 14), and `SELECT * FROM bench.backup_row`, a MariaDB table holding SHOW BACKUP's own
row under its 14 column names: the same bytes for the client to read. The last column is the client's own CPU
time a round trip, which bounds the rate whatever the server does.
The two servers are measured in alternating slices (ten of each), so a change in the machine's speed during the
run falls on both alike. Target: at least 0.5x MariaDB's rate for SELECT 1 and the SHOW statements.
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

import attrs
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
    ("SHOW BACKUP (same row)", "SHOW BACKUP FROM bench", "SELECT * FROM bench.backup_row"),
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


def copy_backup_row(ours: pymysql.connections.Connection, theirs: pymysql.connections.Connection) -> None:
    """MariaDB's bench.backup_row: our SHOW BACKUP's row under its column names, as strings."""
    with ours.cursor() as cur:
        cur.execute("SHOW BACKUP FROM bench")
        names, row = [d[0] for d in cur.description], cur.fetchone()
    with theirs.cursor() as cur:
        cur.execute("CREATE TABLE bench.backup_row (" + ", ".join(f"`{n}` TEXT" for n in names) + ")")
        cur.execute(f"INSERT INTO bench.backup_row VALUES ({', '.join(['%s'] * len(names))})",
                    [None if v is None else str(v) for v in row])


@attrs.define
class Tally:
    """Round trips of one server's statement: how many, in how long, and the client's own CPU seconds."""

    trips: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0

    def run(self, conn: pymysql.connections.Connection, sql: str, seconds: float) -> None:
        """As many round trips of `sql` (rows fetched) as fit in `seconds`."""
        cpu = time.process_time()
        with conn.cursor() as cur:
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                cur.execute(sql)
                cur.fetchall()
                count += 1
        self.trips, self.seconds = self.trips + count, self.seconds + elapsed
        self.client_cpu += time.process_time() - cpu

    @property
    def rate(self) -> float:
        return self.trips / self.seconds

    @property
    def client_us(self) -> float:
        return self.client_cpu / self.trips * 1e6


def measure(ours: pymysql.connections.Connection, mine: str, theirs: pymysql.connections.Connection, maria_sql: str,
            seconds: float, slices: int = 10) -> tuple[Tally, Tally]:
    """Both servers' round trips, after a warm-up, measured in alternating slices."""
    Tally().run(ours, mine, 0.2)
    Tally().run(theirs, maria_sql, 0.2)
    a, b = Tally(), Tally()
    for _ in range(slices):
        a.run(ours, mine, seconds / slices)
        b.run(theirs, maria_sql, seconds / slices)
    return a, b


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
            copy_backup_row(ours, theirs)
            print(f"{'statement':<24} {'doris-br q/s':>13} {'MariaDB q/s':>12} {'ratio':>6}   client CPU us a trip "
                  "(doris-br / MariaDB)")
            for name, mine, maria_sql in STATEMENTS:
                a, b = measure(ours, mine, theirs, maria_sql, args.seconds)
                print(f"{name:<24} {a.rate:>13.0f} {b.rate:>12.0f} {a.rate / b.rate:>6.2f}   "
                      f"{a.client_us:.0f} / {b.client_us:.0f}")
            ours.close()
            theirs.close()
        finally:
            cluster.stop()
            maria.terminate()
            maria.wait(timeout=30)


if __name__ == "__main__":
    main()
