"""Deletes and updates through compaction, backup and restore: a snapshot restores exactly the rows a SELECT showed
when it was taken, on every key model, with and without compaction having merged the delete versions; the restored
tables take further UPDATE and DELETE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from doris_br.be.storage import Rowset
from doris_br.deletes import METADATA_KEY
from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster

# Merge from 3 rowsets on; merged inputs are deleted 3 s after the merge (scans planned before it still read them).
BE_CONF = "cumulative_compaction_min_deltas = 3\ntablet_rowset_stale_sweep_time_sec = 3\n"
TABLES = ("dup", "agg", "mor", "mow")


@pytest.fixture(scope="module")
def compacting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dml_compacting"), be_conf=BE_CONF).start()
    yield c
    c.stop()


def tablet_files(cluster: Cluster, db: str, table: str) -> list[list[Path]]:
    """Each replica's rowset files."""
    ids = {r["TabletId"] for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.{table}")}
    def start(path: Path) -> int:
        return Rowset.parse(path).start  # type: ignore[union-attr]

    return [sorted(folder.glob("v*.parquet"), key=start) for folder in cluster.root.glob("be*/data/*")
            if folder.name in ids]


def make_tables(c: Cluster, db: str, compaction: bool) -> None:
    props = "'replication_num' = '1'" + ("" if compaction else ", 'disable_auto_compaction' = 'true'")
    c.query(f"CREATE DATABASE {db}")
    with c.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE dup (k INT, dt DATE, v VARCHAR(20)) DUPLICATE KEY(k) "
                    "PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
                    f"PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                    f"PROPERTIES ({props})")
        cur.execute("CREATE TABLE agg (k INT, total BIGINT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                    f"PROPERTIES ({props})")
        cur.execute("CREATE TABLE mor (k INT, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                    f"PROPERTIES ({props}, 'enable_unique_key_merge_on_write' = 'false')")
        cur.execute("CREATE TABLE mow (k INT, v INT, n VARCHAR(10)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) "
                    f"BUCKETS 1 PROPERTIES ({props})")
        for load in range(3):
            span = range(load * 10, load * 10 + 10)
            cur.execute("INSERT INTO dup VALUES " + ", ".join(
                f"({i}, '2024-0{1 + i % 2}-{1 + i % 28:02d}', 'v{i}')" for i in span))
            cur.execute("INSERT INTO agg VALUES " + ", ".join(f"({i % 7}, {i})" for i in span))
            cur.execute("INSERT INTO mor VALUES " + ", ".join(f"({i % 12}, {i})" for i in span))
            cur.execute("INSERT INTO mow VALUES " + ", ".join(f"({i % 12}, {i}, 'n{i}')" for i in span))
        for sql in ("DELETE FROM dup WHERE k < 5", "DELETE FROM dup PARTITION (p2) WHERE v = 'v21'",
                    "DELETE FROM dup WHERE dt = '2024-01-15' AND k IN (14, 15)",
                    "DELETE FROM agg WHERE k = 3", "DELETE FROM mor WHERE k >= 10",
                    "DELETE FROM mow WHERE v > 25", "UPDATE mow SET n = 'changed' WHERE k < 3",
                    "UPDATE mor SET v = v * 100 WHERE k = 1"):
            cur.execute(sql)
        # rows loaded after a delete stay
        cur.execute("INSERT INTO dup VALUES (1, '2024-01-02', 'back')")
        cur.execute("INSERT INTO agg VALUES (3, 1000)")


def rows(c: Cluster, db: str) -> dict[str, list[tuple]]:
    return {t: sorted(c.query(f"SELECT * FROM {db}.{t}")) for t in TABLES} | {
        f"{t}_count": c.query(f"SELECT count(*) FROM {db}.{t}") for t in TABLES}


def merged(c: Cluster, db: str) -> bool:
    """Every tablet is a base that holds no delete predicates (those merged into it were applied and dropped)
    and at most one newer rowset (too few to merge yet)."""
    for table in ("dup", "agg", "mor"):
        for files in tablet_files(c, db, table):
            if len(files) > 2 or not files[0].name.startswith("v2-") \
                    or METADATA_KEY in (pq.read_metadata(files[0]).metadata or {}):
                return False
    return True


def test_compaction_applies_the_deletes_and_drops_them(compacting: Cluster) -> None:
    c = compacting
    make_tables(c, "dc", compaction=True)
    assert sorted(c.query("SELECT k FROM dc.mor")) == [(k,) for k in range(10)]
    assert c.query("SELECT v FROM dc.mor WHERE k = 1") == [(2500,)]
    assert c.query("SELECT total FROM dc.agg WHERE k = 3") == [(1000,)]
    # the latest rows of keys 2..5 held v 26..29: those keys are gone
    assert sorted(c.query("SELECT k FROM dc.mow")) == [(k,) for k in (0, 1, 6, 7, 8, 9, 10, 11)]
    before = rows(c, "dc")
    # A tablet with delete predicates and at least min_deltas rowsets is rewritten whole.
    c.query("INSERT INTO dc.dup VALUES (50, '2024-01-03', 'x')")
    for bound in (52, 51, 50):
        c.query(f"DELETE FROM dc.dup WHERE k >= {bound}")
    for t in ("agg", "mor"):
        for k in (11, 12, 13):
            c.query(f"DELETE FROM dc.{t} WHERE k = {k}")
    for _ in range(3):
        c.query("UPDATE dc.mow SET n = n WHERE k = 0")
    c.wait_for(lambda: merged(c, "dc"), timeout=60)
    assert rows(c, "dc") == before


@pytest.mark.parametrize("compaction", [False, True])
def test_a_snapshot_after_deletes_and_updates_restores_what_select_showed(compacting: Cluster, tmp_path: Path,
                                                                         compaction: bool) -> None:
    c = compacting
    db = f"dbk_{int(compaction)}"
    make_tables(c, db, compaction)
    if compaction:
        c.wait_for(lambda: merged(c, db), timeout=60)
    else:
        assert not merged(c, db)
    shown = rows(c, db)
    repo = f"dml_repo_{int(compaction)}"
    create_local_repo(c, repo, tmp_path / "repo")
    ts = backup_and_wait(c, db, "snap", repo)
    # changed after the backup: the restore brings back what the snapshot holds
    for t in TABLES:
        c.query(f"DROP TABLE {db}.{t} FORCE")
    c.query(f'RESTORE SNAPSHOT {db}.snap FROM {repo} PROPERTIES ("backup_timestamp" = "{ts}")')
    assert wait_job(c, "RESTORE", db, "snap")["State"] == "FINISHED"
    assert rows(c, db) == shown
    text = c.query(f"SHOW CREATE TABLE {db}.mow")[0][1]
    assert '"enable_unique_key_merge_on_write" = "true"' in text
    assert '"enable_unique_key_merge_on_write" = "false"' in c.query(f"SHOW CREATE TABLE {db}.mor")[0][1]
    # the restored tables take further changes, as before
    with c.connect(database=db) as conn, conn.cursor() as cur:
        assert cur.execute("DELETE FROM mow WHERE k = 0") == 1
        assert cur.execute("UPDATE mow SET v = -1 WHERE k = 1") == 1
        cur.execute("DELETE FROM dup WHERE k = 1")
        cur.execute("DELETE FROM agg WHERE k = 0")
        cur.execute("UPDATE mor SET v = 7 WHERE k = 2")
    assert c.query(f"SELECT k, v FROM {db}.mow WHERE k < 2") == [(1, -1)]
    assert (1,) not in c.query(f"SELECT k FROM {db}.dup")
    assert (0,) not in c.query(f"SELECT k FROM {db}.agg")
    assert c.query(f"SELECT v FROM {db}.mor WHERE k = 2") == [(7,)]
    assert c.query(f"SELECT count(*) FROM {db}.dup") == [(len(shown["dup"]) - 1,)]
    # Stream Load's batch delete works on the restored table: the hidden delete sign came back with it
    answer = requests.put(f"{c.http}/api/{db}/mow/_stream_load", data=b"2\n", auth=("root", ""), timeout=60,
                          headers={"merge_type": "DELETE", "columns": "k"}).json()
    assert answer["Status"] == "Success", answer
    assert c.query(f"SELECT k FROM {db}.mow WHERE k < 3") == [(1,)]


def test_a_restore_over_changed_tables_brings_back_the_snapshot(compacting: Cluster, tmp_path: Path) -> None:
    c = compacting
    db = "dbk_over"
    make_tables(c, db, compaction=False)
    shown = rows(c, db)
    create_local_repo(c, "dml_repo_over", tmp_path / "repo")
    ts = backup_and_wait(c, db, "snap", "dml_repo_over")
    with c.connect(database=db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO dup VALUES (1, '2024-01-02', 'later'), (2, '2024-02-02', 'later')")
        cur.execute("DELETE FROM dup WHERE k >= 20")
        cur.execute("DELETE FROM agg WHERE k = 1")
        cur.execute("UPDATE mor SET v = -1 WHERE k = 2")
        cur.execute("DELETE FROM mow WHERE k < 5")
    assert rows(c, db) != shown
    c.query(f'RESTORE SNAPSHOT {db}.snap FROM dml_repo_over PROPERTIES ("backup_timestamp" = "{ts}", '
            '"replication_num" = "1")')
    assert wait_job(c, "RESTORE", db, "snap")["State"] == "FINISHED"
    assert rows(c, db) == shown
