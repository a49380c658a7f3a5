"""Shared by the backup and restore tests: data to back up, waiting for jobs, holding them in a state."""

from __future__ import annotations

from pathlib import Path

from tests.cluster import Cluster

DONE = ("FINISHED", "CANCELLED")


def make_sales_db(cluster: Cluster, db: str, rows: int = 40) -> dict[str, list[tuple]]:
    """A database with one table per key model, partitions and several loads; returns each table's rows."""
    cluster.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    with cluster.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE dup (k INT, dt DATE, v VARCHAR(20)) DUPLICATE KEY(k) "
                    "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
                    "PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) BUCKETS 3 "
                    "PROPERTIES ('replication_num' = '2')")
        cur.execute("CREATE TABLE agg (k INT, total BIGINT SUM, top INT MAX) AGGREGATE KEY(k) "
                    "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
        cur.execute("CREATE TABLE uniq (k INT, v DECIMAL(10,2)) UNIQUE KEY(k) "
                    "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '3')")
        half = rows // 2
        for start in (0, half):
            values = ", ".join(
                f"({i}, '2024-0{1 + i % 2}-{1 + i % 28:02d}', 'v{i}')" for i in range(start, start + half))
            cur.execute(f"INSERT INTO dup VALUES {values}")
            span = range(start, start + half)
            cur.execute("INSERT INTO agg VALUES " + ", ".join(f"({i % 5}, {i}, {i})" for i in span))
            cur.execute("INSERT INTO uniq VALUES " + ", ".join(f"({i % 7}, {i}.25)" for i in span))
        cur.execute("CREATE VIEW dup_view AS SELECT k, v FROM dup WHERE k < 10")
    return table_rows(cluster, db)


def table_rows(cluster: Cluster, db: str, tables: tuple[str, ...] = ("dup", "agg", "uniq")) -> dict[str, list[tuple]]:
    # Sorted here: the tables have two or three columns, so no one ORDER BY fits them all.
    return {t: sorted(cluster.query(f"SELECT * FROM {db}.{t}")) for t in tables}


def wait_job(cluster: Cluster, kind: str, db: str, label: str, states: tuple[str, ...] = DONE,
             timeout: float = 60.0) -> dict:
    """The job's SHOW BACKUP / SHOW RESTORE row once it reaches one of `states`."""
    column = "SnapshotName" if kind == "BACKUP" else "Label"

    def row() -> dict | None:
        rows = cluster.query_dicts(f"SHOW {kind} FROM {db} WHERE {column} = '{label}'")
        return rows[-1] if rows and rows[-1]["State"] in states else None

    return cluster.wait_for(row, timeout=timeout)


def hold(cluster: Cluster, *states: str) -> None:
    """Hold jobs in these states ("RESTORE.COMMIT", ...) until release()."""
    cluster.query(f"ADMIN SET FRONTEND CONFIG ('debug_pause_job_states' = '{','.join(states)}')")


def release(cluster: Cluster) -> None:
    cluster.query("ADMIN SET FRONTEND CONFIG ('debug_pause_job_states' = '')")


def create_local_repo(cluster: Cluster, name: str, folder: Path) -> None:
    cluster.query(f'CREATE REPOSITORY {name} WITH LOCAL ON LOCATION "file://{folder}"')


def snapshot_timestamp(cluster: Cluster, repo: str, label: str) -> str:
    rows = cluster.query(f"SHOW SNAPSHOT ON {repo} WHERE SNAPSHOT = '{label}'")
    assert rows and rows[0][2] == "OK", rows
    return rows[0][1]


def backup_and_wait(cluster: Cluster, db: str, label: str, repo: str, clause: str = "") -> str:
    cluster.query(f"BACKUP SNAPSHOT {db}.{label} TO {repo} {clause}")
    row = wait_job(cluster, "BACKUP", db, label)
    assert row["State"] == "FINISHED", row
    return snapshot_timestamp(cluster, repo, label)
