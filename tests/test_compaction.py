"""Compaction: a tablet's rowsets merged after loads, read, backed up and restored as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doris_br.be.compaction import pick
from doris_br.be.storage import Rowset, covering
from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
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
