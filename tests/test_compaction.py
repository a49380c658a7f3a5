"""Compaction: a tablet's rowsets merged after loads, read, backed up and restored as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from doris_br.be.compaction import Compactor, pick
from doris_br.be.storage import Rowset, Storage, covering
from tests.backup_helpers import backup_and_wait, create_local_repo, hold, release, wait_job
from tests.cluster import Cluster

# Merge from 3 rowsets on; merged inputs are deleted a second after the merge.
BE_CONF = "cumulative_compaction_min_deltas = 3\ntablet_rowset_stale_sweep_time_sec = 1\n"


@pytest.fixture(scope="module")
def compacting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("compacting"), be_conf=BE_CONF).start()
    yield c
    c.stop()


def tablet_files(cluster: Cluster, db: str, table: str) -> dict[str, list[str]]:
    """Each replica's rowset files, by (tablet id, backend index)."""
    ids = {r["TabletId"] for r in cluster.query_dicts(f"SHOW TABLETS FROM {db}.{table}")}
    found: dict[str, list[str]] = {}
    for folder in cluster.root.glob("be*/data/*"):
        if folder.name in ids:
            found[f"{folder.name}@{folder.parent.parent.name}"] = sorted(p.name for p in folder.glob("v*.parquet"))
    return found


def is_chain(names: list[str], version: int) -> bool:
    """The files hold versions 2..version, each once."""
    rowsets = sorted((r.start, r.end) for r in map(Rowset.parse, map(Path, names)) if r is not None)
    return [v for start, end in rowsets for v in range(start, end + 1)] == list(range(2, version + 1))


def kv_table(cluster: Cluster, name: str, keys: str, buckets: int, replicas: int, properties: str = "") -> None:
    cluster.query(f"CREATE TABLE {name} (k INT, v INT) {keys} KEY(k) DISTRIBUTED BY HASH(k) BUCKETS {buckets} "
                  f"PROPERTIES ('replication_num' = '{replicas}'{properties})")


def load_versions(cluster: Cluster, db: str, table: str, loads: int) -> None:
    for i in range(loads):  # key 0..9 again and again: a UNIQUE KEY table keeps the last load's values
        values = ", ".join(f"({k}, {i * 100 + k})" for k in range(10))
        cluster.query(f"INSERT INTO {db}.{table} VALUES {values}")


def test_rowset_chains_prefer_merged_files_and_skip_unpublished_versions() -> None:
    path = Path("/x")
    singles = [Rowset(v, v, path / f"v{v}.parquet") for v in range(2, 9)]
    merged = Rowset(2, 6, path / "v2-6.parquet")
    chain = covering([*singles, merged], 7)
    assert [(r.start, r.end) for r in chain] == [(2, 6), (7, 7)]  # v8 is a load not yet published
    assert covering(singles, 1) == []
    with pytest.raises(FileNotFoundError, match="misses version 4"):
        covering([r for r in singles if r.start != 4], 8)


def test_the_newest_small_rowsets_are_picked(tmp_path: Path) -> None:
    def rowset(start: int, end: int, size: int) -> Rowset:
        p = tmp_path / Rowset.name(start, end)
        p.write_bytes(b"x" * size)
        return Rowset(start, end, p)

    base = rowset(2, 20, 10_000)
    small = [rowset(v, v, 100) for v in range(21, 25)]
    assert pick([base, *small], 3) == small  # the big base is left alone
    assert pick([base, *small], 5) == []  # too few small ones yet
    assert pick(small, 2) == small


def rows_file(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"k": pa.array(values, pa.int32())}), path)


def rows_of(path: Path) -> list[int]:
    return pq.read_table(path).column("k").to_pylist()


def test_a_late_publish_of_an_older_load_is_refused(tmp_path: Path) -> None:
    """An older load's publish that reaches a BE after a newer load's (its FE gave up waiting for it) must not
    replace the newer version; rows of a load given up that arrive after its abort are not kept."""
    storage = Storage(tmp_path)
    storage.create_tablet(7)
    schema = pa.schema([("k", pa.int32())])
    for txn, value in (("aa", 1), ("bb", 2)):
        storage.write_staged(7, txn, pa.RecordBatchReader.from_batches(schema, [pa.record_batch([[value]], schema)]))
    storage.publish(7, "bb", 2, sequence=20)
    with pytest.raises(FileExistsError):
        storage.publish(7, "aa", 2, sequence=10)
    assert rows_of(storage.tablet_dir(7) / "v2.parquet") == [2]
    storage.abort([7], "cc")
    with pytest.raises(FileNotFoundError, match="given up"):
        storage.write_staged(7, "cc", pa.RecordBatchReader.from_batches(schema, [pa.record_batch([[3]], schema)]))
    assert sorted(p.name for p in storage.tablet_dir(7).iterdir()) == ["txn_aa.parquet", "v2.parquet"]


def test_merges_skip_old_requests_and_a_restart_sweeps_their_inputs(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    storage.create_tablet(7)
    folder = storage.tablet_dir(7)
    for v in range(2, 9):
        rows_file(folder / f"v{v}.parquet", [v])
    compactor = Compactor(storage, min_deltas=2, stale_keep_s=3600)
    compactor.compact(7, 8)
    compactor.compact(7, 7)  # a request that arrived late: versions 2..7 are merged already
    names = sorted(p.name for p in folder.iterdir())
    assert "v2-8.parquet" in names and "v2-7.parquet" not in names
    assert rows_of(folder / "v2-8.parquet") == list(range(2, 9))  # in version order
    assert storage.remove_partial_files() == 7  # after a restart: the merged inputs go at once
    assert [p.name for p in folder.iterdir()] == ["v2-8.parquet"]


def test_loads_are_merged_and_read_the_same(compacting: Cluster) -> None:
    c = compacting
    c.query("CREATE DATABASE cdb")
    kv_table(c, "cdb.u", "UNIQUE", buckets=2, replicas=3)
    kv_table(c, "cdb.d", "DUPLICATE", buckets=2, replicas=2)
    load_versions(c, "cdb", "u", 6)
    load_versions(c, "cdb", "d", 6)

    # Versions 2..7 of every replica, merged into a chain of at most two files once the merged inputs' second
    # has passed.
    def merged() -> bool:
        files = {**tablet_files(c, "cdb", "u"), **tablet_files(c, "cdb", "d")}
        return len(files) == 10 and all(is_chain(names, 7) and len(names) <= 2 for names in files.values())

    c.wait_for(merged, timeout=30)
    assert sorted(c.query("SELECT k, v FROM cdb.u")) == [(k, 500 + k) for k in range(10)]
    assert sorted(c.query("SELECT k, v FROM cdb.d")) == sorted((k, i * 100 + k) for i in range(6) for k in range(10))

    # A load after the merge is read after it: its values win.
    c.query("INSERT INTO cdb.u VALUES (3, -3)")
    assert c.query("SELECT v FROM cdb.u WHERE k = 3") == [(-3,)]

    # SHOW TABLETS links each replica's compaction status, in the shape of Doris's BE answer.
    row = c.query_dicts("SHOW TABLETS FROM cdb.u")[0]
    url = row["CompactionStatus"]
    assert requests.get(url, timeout=10).status_code == 401
    status = requests.get(url, auth=("root", ""), timeout=10).json()
    assert status["backend_id"] == int(row["BackendId"]) and status["cumulative policy type"] == "SIZE_BASED"
    assert status["rowsets"][0].startswith("[2-") and " DATA OVERLAPPING " in status["rowsets"][0], status
    ranges = [tuple(map(int, line[1:line.index("]")].split("-"))) for line in status["rowsets"]]
    assert is_chain([Rowset.name(*r) for r in ranges], 8), status  # versions 2..8, each once
    unknown = requests.get(url.replace(f"tablet_id={row['TabletId']}", "tablet_id=1"), auth=("root", ""), timeout=10)
    assert unknown.status_code == 404 and "Unknown tablet 1" in unknown.json()["msg"]


def test_merged_tablets_back_up_and_restore_whole(compacting: Cluster, tmp_path: Path) -> None:
    c = compacting
    c.query("CREATE DATABASE cbk")
    kv_table(c, "cbk.u", "UNIQUE", buckets=1, replicas=1)
    load_versions(c, "cbk", "u", 3)
    c.wait_for(lambda: list(tablet_files(c, "cbk", "u").values()) == [["v2-4.parquet"]], timeout=30)
    load_versions(c, "cbk", "u", 1)  # version 5, after the merge of 2..4: i = 0 again
    create_local_repo(c, "cbk_repo", tmp_path / "repo")
    backup_and_wait(c, "cbk", "snap", "cbk_repo")
    stored = sorted(p.name.rsplit(".", 1)[0] for p in (tmp_path / "repo").rglob("v*.parquet.*"))
    assert stored == ["v2-4.parquet", "v5.parquet"]

    c.query("DROP TABLE cbk.u FORCE")
    ts = c.query("SHOW SNAPSHOT ON cbk_repo WHERE SNAPSHOT = 'snap'")[0][1]
    c.query(f'RESTORE SNAPSHOT cbk.snap FROM cbk_repo PROPERTIES ("backup_timestamp" = "{ts}")')
    assert wait_job(c, "RESTORE", "cbk", "snap")["State"] == "FINISHED"
    assert sorted(c.query("SELECT k, v FROM cbk.u")) == [(k, k) for k in range(10)]
    load_versions(c, "cbk", "u", 1)  # the restored tablet takes loads (version 6) as before
    assert c.query("SELECT count(*) FROM cbk.u") == [(10,)]


def test_disable_auto_compaction_keeps_every_rowset(compacting: Cluster) -> None:
    c = compacting
    c.query("CREATE DATABASE cno")
    kv_table(c, "cno.t", "DUPLICATE", buckets=1, replicas=1, properties=", 'disable_auto_compaction' = 'true'")
    kv_table(c, "cno.on", "DUPLICATE", buckets=1, replicas=1)
    load_versions(c, "cno", "t", 3)
    load_versions(c, "cno", "on", 3)
    c.wait_for(lambda: list(tablet_files(c, "cno", "on").values()) == [["v2-4.parquet"]], timeout=30)
    assert list(tablet_files(c, "cno", "t").values()) == [["v2.parquet", "v3.parquet", "v4.parquet"]]


def test_a_table_waiting_for_its_backup_snapshot_is_not_merged(compacting: Cluster, tmp_path: Path) -> None:
    """A backup asks for the versions it planned at its start: the table's rowsets are not merged past them
    until the snapshot is taken."""
    c = compacting
    c.query("CREATE DATABASE cbp")
    kv_table(c, "cbp.t", "DUPLICATE", buckets=1, replicas=1)
    load_versions(c, "cbp", "t", 1)
    create_local_repo(c, "cbp_repo", tmp_path / "repo")
    hold(c, "BACKUP.SNAPSHOTING")
    try:
        c.query("BACKUP SNAPSHOT cbp.snap TO cbp_repo")
        wait_job(c, "BACKUP", "cbp", "snap", ("SNAPSHOTING",))
        load_versions(c, "cbp", "t", 3)
        time.sleep(1)  # a merge would be done by now (see the tests above)
        assert list(tablet_files(c, "cbp", "t").values()) == [[f"v{v}.parquet" for v in range(2, 6)]]
    finally:
        release(c)
    assert wait_job(c, "BACKUP", "cbp", "snap")["State"] == "FINISHED"
    load_versions(c, "cbp", "t", 1)
    c.wait_for(lambda: list(tablet_files(c, "cbp", "t").values()) == [["v2-6.parquet"]], timeout=30)
