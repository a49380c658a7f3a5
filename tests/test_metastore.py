"""Issue 7: `doris-br metastore backup | restore | list`, driven as an operator would, against real clusters."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
import requests

from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.layout import file_names
from doris_br.metastore.restore import target_objects
from doris_br.metastore.scope import select_scope
from tests.backup_helpers import wait_job
from tests.cluster import Cluster
from tests.s3server import SECRET_KEY, S3Server

STAMP = r"\d{4}(_\d{2}){5}"


def metastore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doris_br", "metastore", *args], capture_output=True, text=True,
                          timeout=120)


def backed_up_path(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("metadata store backed up to ")
    return Path(line.removeprefix("metadata store backed up to "))


def backup(c: Cluster, *args: str) -> Path:
    return backed_up_path(metastore("backup", "--data-dir", str(c.root), *args))


def files_of(folder: Path) -> dict[str, list[str]]:
    """kind folder -> its file names."""
    return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(folder.iterdir()) if d.is_dir()}


def read_json(folder: Path, rel: str) -> dict:
    return json.loads((folder / rel).read_text())


# ---- a cluster with metadata of every kind -------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """A table, the INSERTs that load it, and its rows as the mariadb CLI prints them (--batch)."""

    name: str
    ddl: str
    inserts: tuple[str, ...]
    order_by: str
    rows: tuple[str, ...]


LOADED = (
    Loaded("ms_shop.orders",
           "CREATE TABLE ms_shop.orders (id INT, dt DATE, amount DECIMAL(8, 2)) DUPLICATE KEY(id) "
           "PARTITION BY RANGE(dt) (PARTITION p2024_01 VALUES LESS THAN ('2024-02-01'), "
           "PARTITION p2024_02 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(id) BUCKETS 2 "
           "PROPERTIES ('replication_num' = '2')",
           ("INSERT INTO ms_shop.orders WITH LABEL first_orders VALUES (1, '2024-01-05', 10.50), "
            "(2, '2024-02-10', 3.25)",
            "INSERT INTO ms_shop.orders VALUES (1, '2024-01-05', 10.50)"),
           "id, dt",
           ("1\t2024-01-05\t10.50", "1\t2024-01-05\t10.50", "2\t2024-02-10\t3.25")),
    Loaded("ms_shop.stock",
           "CREATE TABLE ms_shop.stock (sku VARCHAR(8), qty INT) UNIQUE KEY(sku) DISTRIBUTED BY HASH(sku) BUCKETS 3",
           ("INSERT INTO ms_shop.stock VALUES ('a1', 5), ('b2', 7)", "INSERT INTO ms_shop.stock VALUES ('a1', 4)"),
           "sku",
           ("a1\t4", "b2\t7")),
    Loaded("ms_shop.daily",
           "CREATE TABLE ms_shop.daily (city VARCHAR(10), day DATE, pv BIGINT SUM) AGGREGATE KEY(city, day) "
           "PARTITION BY LIST (city) (PARTITION p_north VALUES IN ('oslo'), PARTITION p_rest) "
           "DISTRIBUTED BY HASH(day) BUCKETS 1 PROPERTIES ('replication_num' = '1')",
           ("INSERT INTO ms_shop.daily VALUES ('oslo', '2024-01-01', 3), ('rome', '2024-01-01', 1)",
            "INSERT INTO ms_shop.daily VALUES ('oslo', '2024-01-01', 4)"),
           "city",
           ("oslo\t2024-01-01\t7", "rome\t2024-01-01\t1")),
    Loaded("ms_crm.customers",
           "CREATE TABLE ms_crm.customers (id INT, name VARCHAR(20)) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) "
           "BUCKETS 1 PROPERTIES ('replication_num' = '1')",
           ("INSERT INTO ms_crm.customers VALUES (1, 'ada'), (2, 'bob')",),
           "id",
           ("1\tada", "2\tbob")),
)


def populate(c: Cluster) -> None:
    """Two databases with tables of the three key models (range, list and no partitions) loaded by INSERT, one
    load WITH LABEL, a view, users with database and table grants, and a repository."""
    c.query("CREATE DATABASE ms_shop")
    c.query("CREATE DATABASE ms_crm")
    for table in LOADED:
        for sql in (table.ddl, *table.inserts):
            c.query(sql)
    c.query("CREATE VIEW ms_shop.big_orders AS SELECT id, amount FROM ms_shop.orders WHERE amount > 5")
    c.query("CREATE USER ms_reader IDENTIFIED BY 'pw'")
    c.query("GRANT SELECT_PRIV ON ms_shop.* TO ms_reader")
    c.query("CREATE USER ms_clerk")
    c.query("GRANT LOAD_PRIV ON ms_shop.orders TO ms_clerk")
    c.query("CREATE USER ms_crm_user")
    c.query("GRANT SELECT_PRIV ON ms_crm.* TO ms_crm_user")
    c.query(f'CREATE REPOSITORY ms_repo WITH LOCAL ON LOCATION "file://{c.root}/repo"')
    c.query("BACKUP SNAPSHOT ms_shop.ms_snap TO ms_repo ON (orders)")
    assert wait_job(c, "BACKUP", "ms_shop", "ms_snap")["State"] == "FINISHED"


def read_back(c: Cluster, sql: str) -> list[str]:
    out = c.mariadb(sql, extra=("--batch", "--skip-column-names"))
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def check_every_table(c: Cluster) -> None:
    for table in LOADED:
        assert read_back(c, f"SELECT * FROM {table.name} ORDER BY {table.order_by}") == list(table.rows), table.name


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A populated cluster for the tests that only back up and list."""
    c = Cluster(tmp_path_factory.mktemp("shop")).start()
    try:
        populate(c)
        yield c
    finally:
        c.stop()


# ---- backups ---------------------------------------------------------------------------------------------------


def test_system_backup_writes_one_named_json_file_per_object(shop: Cluster) -> None:
    folder = backup(shop)
    assert folder.parent == shop.root / "meta_backups" and re.fullmatch(f"meta_{STAMP}", folder.name)
    files = files_of(folder)
    assert sorted(files) == ["backends", "databases", "job_parts", "jobs", "load_labels", "partitions",
                             "repositories", "sequences", "tables", "users", "views"]
    [job_file] = files["jobs"]
    assert re.fullmatch(r"ms_shop\.ms_snap\.\d+\.json", job_file)
    job = read_json(folder, f"jobs/{job_file}")
    assert (job["type"], job["state"], job["repo"]) == ("BACKUP", "FINISHED", "ms_repo")
    job_id = job_file.split(".")[-2]  # its info, journaled apart from it (a finished job keeps no tablets or meta)
    assert [f for f in files["job_parts"] if f.startswith(f"{job_id}.")] == [f"{job_id}.info.json"]
    assert read_json(folder, f"job_parts/{job_id}.info.json")["value"]["backup_objects"]
    assert files["databases"] == ["ms_crm.json", "ms_shop.json"]
    assert files["tables"] == ["ms_crm.customers.json", "ms_shop.daily.json", "ms_shop.orders.json",
                               "ms_shop.stock.json"]
    assert files["partitions"] == ["ms_crm.customers.customers.json", "ms_shop.daily.p_north.json",
                                   "ms_shop.daily.p_rest.json", "ms_shop.orders.p2024_01.json",
                                   "ms_shop.orders.p2024_02.json", "ms_shop.stock.stock.json"]
    assert files["views"] == ["ms_shop.big_orders.json"]
    assert files["load_labels"] == ["ms_shop.first_orders.json"]
    assert files["repositories"] == ["ms_repo.json"] and files["sequences"] == ["object_id.json"]
    assert {"ms_reader@%.json", "ms_clerk@%.json", "root@%.json"} <= set(files["users"])
    assert all(re.fullmatch(r"\d+_127\.0\.0\.1_\d+\.json", f) for f in files["backends"])
    assert len(files["backends"]) == 3
    assert (folder / "tables" / "ms_shop.orders.json").read_text().startswith("{\n  ")  # pretty-printed

    orders = read_json(folder, "tables/ms_shop.orders.json")
    assert [c["name"] for c in orders["columns"]] == ["id", "dt", "amount"]
    assert orders["keys_type"] == "DUP_KEYS" and orders["partition_kind"] == "RANGE"
    assert read_json(folder, "tables/ms_shop.daily.json")["columns"][2]["aggregation"] == "SUM"
    versions = {r["PartitionName"]: int(r["VisibleVersion"])
                for r in shop.query_dicts("SHOW PARTITIONS FROM ms_shop.orders")}
    backend_ids = {read_json(folder, f"backends/{f}")["id"] for f in files["backends"]}
    for name, version in versions.items():
        part = read_json(folder, f"partitions/ms_shop.orders.{name}.json")
        assert part["table_id"] == orders["id"] and part["visible_version"] == version
        assert len(part["tablets"]) == 2
        for tablet in part["tablets"]:
            assert len({r["backend_id"] for r in tablet["replicas"]}) == 2
            assert {r["backend_id"] for r in tablet["replicas"]} <= backend_ids
    assert sum(t["row_count"] for n in versions for t in read_json(
        folder, f"partitions/ms_shop.orders.{n}.json")["tablets"]) == 3
    assert "amount > 5" in read_json(folder, "views/ms_shop.big_orders.json")["sql"]
    label = read_json(folder, "load_labels/ms_shop.first_orders.json")
    assert label["label"] == "first_orders" and label["rows"] == 2 and label["table_id"] == orders["id"]
    assert read_json(folder, "users/ms_clerk@%.json")["grants"] == [
        {"db": "ms_shop", "table": "orders", "privileges": ["LOAD_PRIV"]}]

    manifest = read_json(folder, "manifest.json")
    assert manifest["scope"] == {"kind": "system"} and manifest["source"] == str(shop.root)
    assert manifest["counts"] == {kind: len(names) for kind, names in files.items()}
    for rel, entry in manifest["files"].items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == entry["sha256"]
    assert len(manifest["files"]) == sum(len(names) for names in files.values())


def test_database_and_table_backups_hold_their_objects_and_dependencies(shop: Cluster) -> None:
    project = backup(shop, "--database", "ms_shop")
    assert re.fullmatch(f"project_ms_shop_{STAMP}", project.name)
    files = files_of(project)
    # Users granted on the database, its jobs and the repository they use come along; no sequences and no
    # other database.
    assert sorted(files) == ["backends", "databases", "job_parts", "jobs", "load_labels", "partitions",
                             "repositories", "tables", "users", "views"]
    assert files["repositories"] == ["ms_repo.json"] and len(files["jobs"]) == 1
    job_id = files["jobs"][0].split(".")[-2]  # the job's parts come with it
    assert files["job_parts"] and all(f.startswith(f"{job_id}.") for f in files["job_parts"])
    assert files["databases"] == ["ms_shop.json"]
    assert files["tables"] == ["ms_shop.daily.json", "ms_shop.orders.json", "ms_shop.stock.json"]
    assert files["views"] == ["ms_shop.big_orders.json"] and files["load_labels"] == ["ms_shop.first_orders.json"]
    assert files["users"] == ["ms_clerk@%.json", "ms_reader@%.json"]
    assert len(files["backends"]) == 3  # stock's replicas are on every BE
    assert read_json(project, "manifest.json")["scope"] == {"kind": "database", "database": "ms_shop"}

    table = backup(shop, "--table", "ms_crm.customers")
    assert re.fullmatch(f"table_ms_crm.customers_{STAMP}", table.name)
    files = files_of(table)
    assert sorted(files) == ["backends", "databases", "partitions", "tables"]
    assert files["tables"] == ["ms_crm.customers.json"] and files["databases"] == ["ms_crm.json"]
    replica = read_json(table, "partitions/ms_crm.customers.customers.json")["tablets"][0]["replicas"][0]
    assert files["backends"] == [f for f in files_of(shop.root / "meta_backups" / project.name)["backends"]
                                 if f.startswith(f"{replica['backend_id']}_")]  # only the BE holding it

    orders = files_of(backup(shop, "--table", "ms_shop.orders"))
    assert orders["load_labels"] == ["ms_shop.first_orders.json"] and orders["users"] == ["ms_clerk@%.json"]
    assert "views" not in orders and orders["tables"] == ["ms_shop.orders.json"]


def test_concurrent_backups_get_their_own_folders_and_list_shows_them(shop: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    # Two backups of one scope finishing in the same second: neither fails nor overwrites the other.
    runs = [subprocess.Popen([sys.executable, "-m", "doris_br", "metastore", "backup", "--data-dir", str(shop.root),
                              "--database", "ms_crm", "--out", str(out), "--progress", "on"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [subprocess.CompletedProcess(p.args, p.wait(timeout=60), *p.communicate()) for p in runs]
    folders = {backed_up_path(r) for r in results}
    assert len(folders) == 2 and all(f.parent == out for f in folders)
    for r in results:  # the bar goes to stderr; stdout holds only the line scripts read
        assert len(r.stdout.splitlines()) == 1 and "backing up metadata" in r.stderr
    (out / ".tmp-interrupted").mkdir()  # what a killed backup leaves: never listed as a backup
    listing = metastore("list", "--out", str(out))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TIME", "SCOPE", "OBJECTS", "SIZE", "STATUS"]
    rows = [line for line in lines if line.startswith("project_ms_crm_")]
    assert len(rows) == 2 and ".tmp-" not in listing.stdout
    for row in rows:
        assert re.search(r" \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} +database ms_crm +\d+ +[\d.]+ (B|KiB) +OK$", row)
    assert "databases=1" in listing.stdout and "tables=1" in listing.stdout and "users=1" in listing.stdout
    assert metastore("list", "--out", str(tmp_path / "none")).stdout.startswith("no metadata backups in")


# ---- restores --------------------------------------------------------------------------------------------------


def test_restore_after_losing_the_journal_reads_every_table_back(own_cluster: Cluster) -> None:
    c = own_cluster
    populate(c)
    folder = backup(c)
    c.stop()
    for suffix in ("", "-wal", "-shm"):
        (c.root / "fe" / f"meta.db{suffix}").unlink(missing_ok=True)
    done = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert done.returncode == 0, done.stderr
    assert "+ tables/" in done.stdout and "(ms_shop.orders)" in done.stdout and "kept at" not in done.stdout
    c.start()  # the BEs kept the data; the restored journal names their tablets and visible versions
    check_every_table(c)
    assert read_back(c, "SELECT * FROM ms_shop.big_orders ORDER BY id") == ["1\t10.50", "1\t10.50"]
    c.connect("ms_reader", "pw").close()
    assert c.query_dicts("SHOW GRANTS FOR ms_clerk")[0]["TablePrivs"] == "internal.ms_shop.orders: Load_priv"
    assert [r["RepoName"] for r in c.query_dicts("SHOW REPOSITORIES")] == ["ms_repo"]
    with pytest.raises(pymysql.err.MySQLError, match=r"Label \[first_orders\] has already been used"):
        c.query("INSERT INTO ms_shop.orders WITH LABEL first_orders VALUES (9, '2024-01-09', 1)")
    c.query("CREATE TABLE ms_crm.after (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")  # new ids do not collide
    c.query("INSERT INTO ms_crm.after VALUES (1)")
    assert read_back(c, "SELECT * FROM ms_crm.after") == ["1"]
    check_every_table(c)


def test_table_restore_rolls_back_that_table_only(own_cluster: Cluster) -> None:
    c = own_cluster
    with c.connect() as conn, conn.cursor() as cur:
        for sql in ("CREATE DATABASE ms_t", "USE ms_t",
                    "CREATE TABLE events (k INT, v VARCHAR(8)) PARTITION BY RANGE(k) "
                    "(PARTITION p1 VALUES LESS THAN ('10')) DISTRIBUTED BY HASH(k) BUCKETS 2",
                    "CREATE TABLE notes (k INT, v VARCHAR(8)) DISTRIBUTED BY HASH(k) BUCKETS 1",
                    "INSERT INTO events WITH LABEL l1 VALUES (1, 'a'), (2, 'b')",
                    "INSERT INTO notes VALUES (1, 'n1')"):
            cur.execute(sql)
    folder = backup(c, "--table", "ms_t.events")
    with c.connect(database="ms_t") as conn, conn.cursor() as cur:
        for sql in ("ALTER TABLE events ADD PARTITION p2 VALUES LESS THAN ('20')",
                    "INSERT INTO events WITH LABEL l2 VALUES (3, 'c'), (15, 'late')",
                    "INSERT INTO notes VALUES (2, 'n2')"):
            cur.execute(sql)
    c.kill_fe()
    dry = metastore("restore", str(folder), "--data-dir", str(c.root), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert re.search(r"^- partitions/\d+ \(ms_t\.events\.p2\)$", dry.stdout, re.M)
    assert re.search(r"^~ partitions/\d+ \(ms_t\.events\.p1\)$", dry.stdout, re.M)  # its version goes back
    assert re.search(r"^- load_labels/\d+/l2 \(ms_t\.l2\)$", dry.stdout, re.M)
    assert "notes" not in dry.stdout and "dry run: 0 to add, 1 to change, 2 to remove" in dry.stdout
    done = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert done.returncode == 0, done.stderr
    kept = Path(done.stdout.split("the previous metadata is kept at ")[1].strip())
    assert re.fullmatch(r"meta\.db\.before-restore-\d{14}", kept.name) and kept.parent == c.root / "fe"
    c.start_fe(auto_backends=False)
    assert [r["PartitionName"] for r in c.query_dicts("SHOW PARTITIONS FROM ms_t.events")] == ["p1"]
    assert read_back(c, "SELECT * FROM ms_t.events ORDER BY k") == ["1\ta", "2\tb"]
    assert read_back(c, "SELECT * FROM ms_t.notes ORDER BY k") == ["1\tn1", "2\tn2"]  # not rolled back
    # The rolled-back load is forgotten: its label is free, and the next load writes over its invisible files.
    c.query("INSERT INTO ms_t.events WITH LABEL l2 VALUES (4, 'd')")
    assert read_back(c, "SELECT * FROM ms_t.events ORDER BY k") == ["1\ta", "2\tb", "4\td"]


def test_jobs_are_named_and_scoped_with_their_database() -> None:
    """Backup and restore jobs (journal kind "jobs") go with their database, with the repositories they use and
    those repositories' brokers; a backup and the restore of its snapshot may share a label."""
    objects = {
        "databases": {"1": {"id": 1, "name": "d1"}, "2": {"id": 2, "name": "d2"}},
        "jobs": {"10": {"db_id": 1, "db_name": "d1", "label": "snap", "repo": "r1"},
                 "11": {"db_id": 1, "db_name": "d1", "label": "snap", "repo": "r1"},
                 "12": {"db_id": 2, "db_name": "d2", "label": "other", "repo": "r2"}},
        "repositories": {"r1": {"id": 3, "name": "r1", "broker": "b1"}, "r2": {"id": 4, "name": "r2"}},
        "brokers": {"b1@h:1": {"name": "b1", "host": "h", "port": 1}, "b2@h:2": {"name": "b2", "host": "h", "port": 2}},
    }
    selected = select_scope(objects, {"kind": "database", "database": "d1"})
    assert sorted(selected["jobs"]) == ["10", "11"] and list(selected["repositories"]) == ["r1"]
    assert list(selected["brokers"]) == ["b1@h:1"] and list(selected["databases"]) == ["1"]
    names = file_names(selected)
    assert [names[("jobs", k)] for k in ("10", "11")] == ["jobs/d1.snap.10.json", "jobs/d1.snap.11.json"]
    assert names[("brokers", "b1@h:1")] == "brokers/b1@h:1.json"


def test_scoped_restore_refuses_a_database_created_again() -> None:
    old_db = {"id": 10001, "name": "d"}
    backup = {"databases": {"10001": old_db},
              "tables": {"10002": {"id": 10002, "db_id": 10001, "name": "t"}}}
    current = {"databases": {"10050": {"id": 10050, "name": "d"}}}  # dropped and created again
    with pytest.raises(MetastoreError, match="two databases named 'd' \\(ids 10050 and 10001\\)"):
        target_objects(current, backup, {"kind": "table", "database": "d", "table": "t"})


def test_restored_ids_never_go_back() -> None:
    partition = {"id": 10010, "table_id": 10002, "tablets": [{"id": 10011, "replicas": [{"id": 10012}]}]}
    backup = {"partitions": {"10010": partition},
              "sequences": {"object_id": {"name": "object_id", "next_id": 10005}}}
    # Tablet and replica ids nested in a partition count, as do ids the old journal had handed out since.
    assert target_objects({}, backup, {"kind": "system"})["sequences"]["object_id"]["next_id"] == 10013
    current = {"sequences": {"object_id": {"name": "object_id", "next_id": 20000}}}
    assert target_objects(current, backup, {"kind": "system"})["sequences"]["object_id"]["next_id"] == 20000


def test_backup_list_and_restore_users_and_repositories(own_cluster: Cluster, tmp_path: Path) -> None:
    c = own_cluster
    c.query("CREATE USER 'meta_user'@'%' IDENTIFIED BY 'pw'")
    c.query("GRANT SELECT_PRIV ON shop.* TO meta_user")
    c.query(f'CREATE REPOSITORY meta_repo WITH LOCAL ON LOCATION "file://{tmp_path}/repo"')
    folder = backed_up_path(metastore("backup", "--data-dir", str(c.root)))  # while the FE runs
    assert folder.parent == c.root / "meta_backups" and folder.name.startswith("meta_20")
    assert sorted(p.name for p in folder.iterdir()) == ["backends", "manifest.json", "repositories", "sequences",
                                                         "users"]
    user = json.loads((folder / "users" / "meta_user@%.json").read_text())
    assert user["grants"] == [{"db": "shop", "table": "*", "privileges": ["SELECT_PRIV"]}]
    assert json.loads((folder / "repositories" / "meta_repo.json").read_text())["kind"] == "LOCAL"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scope"] == {"kind": "system"} and manifest["counts"]["backends"] == 3
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    listing = metastore("list", "--data-dir", str(c.root))
    assert folder.name in listing.stdout and "system" in listing.stdout

    # Restore refuses while the FE runs, then works once it is stopped.
    refused = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert refused.returncode == 1 and "an FE is running" in refused.stderr
    c.query("DROP USER meta_user")
    c.query("DROP REPOSITORY meta_repo")
    c.kill_fe()
    dry = metastore("restore", str(folder), "--data-dir", str(c.root), "--dry-run")
    assert dry.returncode == 0 and "+ users/meta_user@%" in dry.stdout and "nothing was changed" in dry.stdout
    done = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert done.returncode == 0, done.stderr
    c.start_fe(auto_backends=False)
    assert c.query_dicts("SHOW GRANTS FOR meta_user")[0]["DatabasePrivs"] == "internal.shop: Select_priv"
    c.connect("meta_user", "pw").close()
    assert [r["RepoName"] for r in c.query_dicts("SHOW REPOSITORIES")] == ["meta_repo"]


def test_truncated_file_makes_restore_refuse_and_change_nothing(own_cluster: Cluster) -> None:
    c = own_cluster
    c.query("CREATE USER keep_me")
    folder = backed_up_path(metastore("backup", "--data-dir", str(c.root)))
    c.query("CREATE USER added_later")
    c.kill_fe()
    victim = folder / "users" / "keep_me@%.json"
    victim.write_text(victim.read_text()[:20])
    journal = c.root / "fe" / "meta.db"
    before = journal.read_bytes()
    result = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert result.returncode == 1
    assert "users/keep_me@%.json does not match the manifest" in result.stderr
    assert journal.read_bytes() == before
    c.start_fe(auto_backends=False)
    assert c.query_dicts("SHOW GRANTS FOR added_later")  # nothing was rolled back


def test_backup_errors_leave_no_half_backup(cluster: Cluster, tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    result = metastore("backup", "--data-dir", str(cluster.root), "--out", str(blocker / "sub"))
    assert result.returncode == 1 and "error" in result.stderr
    result = metastore("backup", "--data-dir", str(cluster.root), "--database", "no_such_db",
                       "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "Unknown database 'no_such_db'" in result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    result = metastore("backup", "--data-dir", str(cluster.root), "--table", "no_dot")
    assert result.returncode == 1 and "--table takes db.tbl, got 'no_dot'" in result.stderr
    cluster.query("CREATE DATABASE IF NOT EXISTS ms_errors")
    result = metastore("backup", "--data-dir", str(cluster.root), "--table", "ms_errors.nope")
    assert result.returncode == 1 and "Unknown table 'nope' in database 'ms_errors'" in result.stderr
    damaged = tmp_path / "damaged"
    (damaged / "fe").mkdir(parents=True)
    (damaged / "fe" / "meta.db").write_bytes(b"not sqlite " * 200)
    result = metastore("backup", "--data-dir", str(damaged))
    assert result.returncode == 1 and "cannot read the FE metadata" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (damaged / "meta_backups").exists() or list((damaged / "meta_backups").iterdir()) == []
    result = metastore("restore", str(tmp_path), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr
    with pytest.raises(pymysql.err.MySQLError):  # the server is untouched by all this
        cluster.query("USE no_such_db")


def rewrite(folder: Path, rel: str, body: dict) -> None:
    """Change one file of a backup and its manifest entry to match, as an older writer might have left it."""
    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
    (folder / rel).write_bytes(data)
    manifest = read_json(folder, "manifest.json")
    manifest["files"][rel].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def test_backups_leave_secrets_out_and_restore_says_which_to_set_again(own_cluster: Cluster, s3: S3Server) -> None:
    """Issue 13: the S3 secret key was in clear in repositories/<name>.json and in the REST zip. Backups leave
    secrets out and list them in the manifest; a restore keeps the journal's own where it has the repository,
    else names the repository to ALTER, which then works again."""
    c = own_cluster
    bucket = s3.create_bucket("meta-secrets")
    c.query(f'CREATE REPOSITORY meta_s3 WITH S3 ON LOCATION "s3://{bucket}/b" {s3.properties()}')
    folder = backup(c)
    assert all(SECRET_KEY.encode() not in p.read_bytes() for p in folder.rglob("*") if p.is_file())
    repo = read_json(folder, "repositories/meta_s3.json")
    assert "s3.secret_key" not in repo["properties"] and repo["properties"]["s3.access_key"]
    assert read_json(folder, "manifest.json")["secrets_left_out"] == [
        {"kind": "repositories", "key": "meta_s3", "name": "meta_s3", "properties": ["s3.secret_key"]}]
    # The REST zip holds none either, also of a backup written before backups left secrets out.
    rewrite(folder, "repositories/meta_s3.json", {**repo, "properties": {**repo["properties"],
                                                                         "s3.secret_key": SECRET_KEY}})
    z = requests.get(f"{c.http}/rest/v1/meta_backups/{folder.name}/download", auth=("root", ""), timeout=30)
    assert z.status_code == 200, z.text
    entries = zipfile.ZipFile(io.BytesIO(z.content))
    assert all(SECRET_KEY.encode() not in entries.read(n) for n in entries.namelist())
    zipped = json.loads(entries.read(f"{folder.name}/manifest.json"))
    assert zipped["secrets_left_out"][0]["properties"] == ["s3.secret_key"]
    rewrite(folder, "repositories/meta_s3.json", repo)

    # The journal still has the repository: its secret stays, nothing to do.
    c.kill_fe()
    kept = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert kept.returncode == 0 and "ALTER REPOSITORY" not in kept.stdout, kept.stdout + kept.stderr
    c.start_fe(auto_backends=False)
    assert c.query_dicts("SHOW SNAPSHOT ON meta_s3") == []
    # It was dropped since: restored without its secret, and the restore says how to set it again.
    c.query("DROP REPOSITORY meta_s3")
    c.kill_fe()
    done = metastore("restore", str(folder), "--data-dir", str(c.root))
    assert done.returncode == 0, done.stderr
    assert ('repository meta_s3: s3.secret_key not restored (metadata backups leave secrets out); set them with '
            'ALTER REPOSITORY meta_s3 PROPERTIES ("s3.secret_key" = "...")') in done.stdout, done.stdout
    c.start_fe(auto_backends=False)
    assert [r["RepoName"] for r in c.query_dicts("SHOW REPOSITORIES")] == ["meta_s3"]
    c.query(f'ALTER REPOSITORY meta_s3 PROPERTIES ("s3.secret_key" = "{SECRET_KEY}")')
    c.query("CREATE DATABASE meta_s3_db")
    c.query("CREATE TABLE meta_s3_db.t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
            "PROPERTIES ('replication_num' = '1')")
    c.query("INSERT INTO meta_s3_db.t VALUES (1)")
    c.query("BACKUP SNAPSHOT meta_s3_db.s1 TO meta_s3 ON (t)")
    assert wait_job(c, "BACKUP", "meta_s3_db", "s1")["State"] == "FINISHED"
    assert [r["Snapshot"] for r in c.query_dicts("SHOW SNAPSHOT ON meta_s3")] == ["s1"]


def list_files(folder: Path, rel: str, body: bytes) -> None:
    """List one more file in a backup's manifest (wherever `rel` points), with its true size and checksum."""
    manifest = read_json(folder, "manifest.json")
    manifest["files"][rel] = {"kind": "users", "key": "intruder@%", "size": len(body),
                              "sha256": hashlib.sha256(body).hexdigest()}
    manifest["counts"]["users"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_restore_and_list_treat_a_backup_folder_as_hostile(cluster: Cluster, tmp_path: Path) -> None:
    """Issue 13: `metastore restore` read manifest entries with `../` or absolute paths outside the backup folder.
    Such entries, symbolic links out of the folder, huge and malformed JSON are refused with a clear message and
    exit code 1, changing nothing; `list` shows such a folder without failing."""
    cluster.query("CREATE USER IF NOT EXISTS hostile_keep")
    good = backup(cluster, "--out", str(tmp_path / "made"))
    data_dir = tmp_path / "data"
    assert metastore("restore", str(good), "--data-dir", str(data_dir)).returncode == 0
    journal = data_dir / "fe" / "meta.db"
    before = journal.read_bytes()
    user = (good / "users" / "hostile_keep@%.json").read_bytes()
    outside = tmp_path / "outside"
    (outside / "users").mkdir(parents=True)
    (outside / "users" / "intruder@%.json").write_bytes(user)
    (outside / "users" / "hostile_keep@%.json").write_bytes(user)

    def variant(name: str) -> Path:
        folder = tmp_path / "hostile" / f"meta_2020_01_01_00_00_{len(list((tmp_path / 'hostile').glob('*'))):02d}"
        shutil.copytree(good, folder)
        return folder

    (tmp_path / "hostile").mkdir()
    cases: list[tuple[Path, str]] = []
    for rel in ("../../outside/users/intruder@%.json", str(outside / "users" / "intruder@%.json"),
                "users/../../../outside/users/intruder@%.json", "users\\..\\x.json"):
        folder = variant(rel)
        list_files(folder, rel, user)
        cases.append((folder, f"lists {rel!r}, a path outside the backup folder: refused"))
    folder = variant("file link")
    (folder / "users" / "hostile_keep@%.json").unlink()
    (folder / "users" / "hostile_keep@%.json").symlink_to(outside / "users" / "hostile_keep@%.json")
    cases.append((folder, "users/hostile_keep@%.json is a symbolic link"))
    folder = variant("folder link")
    shutil.rmtree(folder / "users")
    shutil.copytree(good / "users", outside / "users_copy")
    (folder / "users").symlink_to(outside / "users_copy")
    cases.append((folder, "is a symbolic link"))
    folder = variant("manifest link")
    os.replace(folder / "manifest.json", outside / "manifest.json")
    (folder / "manifest.json").symlink_to(outside / "manifest.json")
    cases.append((folder, "manifest.json is a symbolic link"))
    folder = variant("huge")
    with open(folder / "manifest.json", "r+b") as f:
        f.truncate(300 << 20)  # sparse: refused by its size before it is read
    cases.append((folder, f"manifest.json is {300 << 20} bytes, more than a metadata backup's file may be"))
    folder = variant("deep")
    deep = b"[" * 100000 + b"]" * 100000
    (folder / "users" / "deep.json").write_bytes(deep)
    list_files(folder, "users/deep.json", deep)
    cases.append((folder, "users/deep.json is nested more than 64 levels deep"))
    for broken, message in (([], "not a doris-br-metastore/1 manifest"),
                            ({"scope": {"kind": "../x"}}, "'scope' is malformed"),
                            ({"counts": {"users": "1"}}, "'counts' is malformed"),
                            ({"files": {"users/x.json": {"kind": "users", "key": "x", "size": "1", "sha256": ""}}},
                             "bad entry for users/x.json"),
                            ({"files": {"sequences/x.json": {"kind": "users", "key": "x", "size": 1, "sha256": ""}}},
                             "sequences/x.json is not a file of kind users")):
        folder = variant("malformed")
        manifest = read_json(folder, "manifest.json")
        (folder / "manifest.json").write_text(json.dumps(broken if isinstance(broken, list) else {**manifest,
                                                                                                   **broken}))
        cases.append((folder, message))
    for folder, message in cases:
        result = metastore("restore", str(folder), "--data-dir", str(data_dir))
        assert result.returncode == 1 and message in result.stderr, (folder.name, message, result.stderr)
        assert result.stderr.startswith("doris-br metastore: error: ") and "Traceback" not in result.stderr
        assert metastore("restore", str(folder), "--data-dir", str(data_dir), "--dry-run").returncode == 1
        assert journal.read_bytes() == before
    assert (outside / "users" / "intruder@%.json").read_bytes() == user
    listing = metastore("list", "--out", str(tmp_path / "hostile"))
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
    assert listing.stdout.count("INCOMPLETE") == 11, listing.stdout  # all but the links and the deep file
