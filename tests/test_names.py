"""Doris's name rules (FeNameFormat) where names are made, and names read from a repository's files that never
become paths outside it."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
from pathlib import Path

import pymysql
import pytest
import requests

from doris_br.fe.journal import journal_path
from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.layout import folder_name
from doris_br.metastore.restore import target_objects
from doris_br.names import UnsafeName, path_component
from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster


def error_of(cluster: Cluster, sql: str, database: str | None = None) -> tuple[int, str]:
    with cluster.connect(database=database) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError) as info:
            cur.execute(sql)
    code, message = info.value.args
    return code, message.removeprefix("errCode = 2, detailMessage = ")


# ---- repositories ---------------------------------------------------------------------------------------------


def test_a_repository_name_cannot_lead_out_of_its_location(cluster: Cluster, tmp_path: Path) -> None:
    location = tmp_path / "a" / "b" / "loc"
    location.mkdir(parents=True)
    escape = "a/../../../tmp/x"  # __palo_repository_a/../../../tmp/x: tmp_path/a/tmp/x, outside the location
    assert error_of(cluster, f'CREATE REPOSITORY `{escape}` WITH LOCAL ON LOCATION "file://{location}"') == (
        5063, f"Incorrect repository name '{escape}'")
    assert not (tmp_path / "a" / "tmp").exists()
    for name in ["..", "q'uote", 'd"quote', "new\nline", "1st", "-dash", "dot.ted", "x" * 65, "__keep_on_local__"]:
        code, message = error_of(cluster, f'CREATE REPOSITORY `{name}` WITH LOCAL ON LOCATION "file://{location}"')
        assert (code, message) == (5063, f"Incorrect repository name '{name}'"), name
    assert not {"..", "1st", escape} & {r[1] for r in cluster.query("SHOW REPOSITORIES")}
    longest = "names_ok-1_" + "x" * 53  # 64 characters: the longest Doris takes
    cluster.query(f'CREATE REPOSITORY `{longest}` WITH LOCAL ON LOCATION "file://{location}"')
    assert sorted(p.name for p in location.iterdir()) == [f"__palo_repository_{longest}"]


# ---- databases, tables, columns, partitions, users, labels ---------------------------------------------------


def test_database_table_column_and_partition_names(cluster: Cluster) -> None:
    assert error_of(cluster, "CREATE DATABASE `nm/../x`") == (1102, "Incorrect database name 'nm/../x'")
    assert error_of(cluster, "CREATE DATABASE `nm\nx`")[0] == 1102
    cluster.query("CREATE DATABASE nm_db")
    regex = "^[a-zA-Z][a-zA-Z0-9-_]*$"
    assert error_of(cluster, "CREATE TABLE nm_db.`t'x` (k INT)") == (
        1103, f"Incorrect table name 't'x'. Table name regex is '{regex}'")
    assert error_of(cluster, "CREATE TABLE nm_db.`..` (k INT)")[0] == 1103
    long_name = "t" * 65
    assert error_of(cluster, f"CREATE TABLE nm_db.{long_name} (k INT)") == (
        5089, f"Table name length exceeds limit, the length of table name '{long_name}' is 65 which is greater "
              "than the configuration 'table_name_length_limit' (64).")
    code, message = error_of(cluster, "CREATE TABLE nm_db.t (`k'` INT)")
    assert code == 1166 and message.startswith("Incorrect column name 'k''. Column regex is '^[_a-zA-Z@0-9")
    assert error_of(cluster, "CREATE TABLE nm_db.t (k INT) PARTITION BY RANGE(k) (PARTITION `p/1` VALUES LESS "
                             "THAN ('1')) DISTRIBUTED BY HASH(k) BUCKETS 1") == (1567, "Incorrect partition name")
    cluster.query("CREATE TABLE nm_db.t (k INT, `a b` INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN "
                  "('1')) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    assert error_of(cluster, "ALTER TABLE nm_db.t RENAME `t\n2`")[0] == 1103
    assert error_of(cluster, "ALTER TABLE nm_db.t ADD PARTITION `placeholder_1` VALUES LESS THAN ('5')")[0] == 1567
    assert error_of(cluster, "ALTER TABLE nm_db.t RENAME PARTITION p1 `p\"1`")[0] == 1567
    assert error_of(cluster, "CREATE VIEW nm_db.`v.1` AS SELECT k FROM nm_db.t")[0] == 1103
    assert error_of(cluster, "CREATE VIEW nm_db.v (`c'`) AS SELECT k FROM nm_db.t")[0] == 1166
    cluster.query("CREATE TABLE IF NOT EXISTS nm_db.t (k INT)")  # an existing table is no new name
    assert cluster.query("SHOW TABLES FROM nm_db") == [("t",)]


def test_user_names(cluster: Cluster) -> None:
    for name in ["nm/../u", "nm'u", "nm\nu", "1nm", "nm:u", "nm u"]:
        assert error_of(cluster, f"CREATE USER `{name}`") == (1105, f"invalid user name: {name}"), name
    assert error_of(cluster, "GRANT SELECT_PRIV ON *.* TO `nm/u`") == (1105, "invalid user name: nm/u")
    assert error_of(cluster, "GRANT SELECT_PRIV ON *.* TO nm_nobody")[1] == "user 'nm_nobody'@'%' does not exist"
    cluster.query("CREATE USER `nm.user-1_a`")
    cluster.query("GRANT SELECT_PRIV ON *.* TO `nm.user-1_a`")


def test_labels_of_loads_and_backups(cluster: Cluster, tmp_path: Path) -> None:
    cluster.query("CREATE DATABASE nm_lbl")
    cluster.query("CREATE TABLE nm_lbl.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    regex = "^[-_A-Za-z0-9:]{1,128}$"
    for label in ["bad.label", "trailing\n", "a/../b"]:
        assert error_of(cluster, f"INSERT INTO nm_lbl.t WITH LABEL `{label}` VALUES (1)") == (
            1105, f"Label format error. regex: {regex}, label: {label}"), label
    answer = requests.put(f"{cluster.http}/api/nm_lbl/t/_stream_load", data=b"1\n", auth=("root", ""),
                          headers={"label": "dotted.label"}, timeout=30).json()
    assert answer["Status"] == "Fail" and f"Label format error. regex: {regex}, label: dotted.label" in \
        answer["Message"], answer
    create_local_repo(cluster, "nm_lbl_repo", tmp_path)
    assert error_of(cluster, "BACKUP SNAPSHOT nm_lbl.`snap\n` TO nm_lbl_repo")[1] == (
        f"Label format error. regex: {regex}, label: snap\n")
    assert cluster.query("SELECT count(*) FROM nm_lbl.t") == [(0,)]
    cluster.query("INSERT INTO nm_lbl.t WITH LABEL `ok-label:1_a` VALUES (1)")
    assert cluster.query("SELECT count(*) FROM nm_lbl.t") == [(1,)]


# ---- names read from a repository's files -----------------------------------------------------------------------


def _rewrite_info(snapshot: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Edit a stored snapshot's info as someone with write access to the repository might, md5 name and all."""
    old = next(snapshot.glob("__info_*"))
    info = json.loads(old.read_bytes())
    change(info)
    data = json.dumps(info).encode()
    stamp = old.name.split(".")[0]
    old.unlink()
    (snapshot / f"{stamp}.{hashlib.md5(data).hexdigest()}").write_bytes(data)


def test_file_names_in_a_snapshot_info_never_leave_the_tablet(cluster: Cluster, tmp_path: Path) -> None:
    """A file named `../../evil.dat` in the info would be read from beside the tablet's folder in the repository
    and written beside the tablet's staging folder on the BE."""
    cluster.query("CREATE DATABASE nm_src")
    cluster.query("CREATE TABLE nm_src.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    cluster.query("INSERT INTO nm_src.t VALUES (1), (2)")
    create_local_repo(cluster, "nm_files", tmp_path)
    ts = backup_and_wait(cluster, "nm_src", "snap", "nm_files")
    snapshot = tmp_path / "__palo_repository_nm_files" / "__ss_snap"
    evil = b"evil"
    evil_name = f"../../evil.dat.{hashlib.md5(evil).hexdigest()}"

    def plant(info: dict) -> None:
        index = next(iter(info["backup_objects"]["t"]["partitions"]["t"]["indexes"].values()))
        tablet = str(index["tablets_order"][0])
        index["tablets"][tablet] = [evil_name]
        info["file_sizes"][tablet] = {evil_name: len(evil)}
        tablet_dir = next(p for p in snapshot.rglob(f"__{tablet}") if p.is_dir())
        (tablet_dir / evil_name).resolve().write_bytes(evil)  # so that, followed, the name leads to a real file

    _rewrite_info(snapshot, plant)
    cluster.query(f"RESTORE SNAPSHOT nm_dst.snap FROM nm_files PROPERTIES ('backup_timestamp' = '{ts}', "
                  "'replication_num' = '1')")

    def outcome() -> tuple[str, object] | None:
        escaped = list(cluster.root.glob("be*/restore/**/evil.dat*"))
        if escaped:
            return "written outside its tablet", escaped
        rows = cluster.query_dicts("SHOW RESTORE FROM nm_dst WHERE Label = 'snap'")
        return ("ended", rows[-1]) if rows and rows[-1]["State"] in ("FINISHED", "CANCELLED") else None

    what, detail = cluster.wait_for(outcome, timeout=60)
    assert what == "ended", detail
    assert detail["State"] == "CANCELLED" and "names a file outside its tablet" in detail["Status"], detail


def test_names_a_restore_would_create_follow_the_rules(cluster: Cluster, tmp_path: Path) -> None:
    cluster.query("CREATE DATABASE nm_rs")
    cluster.query("CREATE TABLE nm_rs.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    create_local_repo(cluster, "nm_rs_repo", tmp_path)
    ts = backup_and_wait(cluster, "nm_rs", "snap", "nm_rs_repo")
    props = f"PROPERTIES ('backup_timestamp' = '{ts}', 'replication_num' = '1')"
    assert error_of(cluster, f"RESTORE SNAPSHOT nm_rs2.snap FROM nm_rs_repo ON (t AS `t/../x`) {props}")[0] == 1103
    assert error_of(cluster, f"RESTORE SNAPSHOT `nm/rs`.snap FROM nm_rs_repo {props}") == (
        1102, "Incorrect database name 'nm/rs'")
    # A column name in the snapshot's meta that Doris would not take cancels the restore of a new table.
    snapshot = tmp_path / "__palo_repository_nm_rs_repo" / "__ss_snap"
    old = next(snapshot.glob("__meta.*"))
    meta = json.loads(old.read_bytes())
    meta["tables"]["t"]["table"]["columns"][0]["name"] = "k'"
    data = json.dumps(meta).encode()
    old.unlink()
    (snapshot / f"__meta.{hashlib.md5(data).hexdigest()}").write_bytes(data)
    cluster.query(f"RESTORE SNAPSHOT nm_rs3.snap FROM nm_rs_repo {props}")
    row = wait_job(cluster, "RESTORE", "nm_rs3", "snap")
    assert row["State"] == "CANCELLED" and "Incorrect column name 'k''" in row["Status"], row


def test_snapshot_folders_that_are_no_labels_are_not_listed(cluster: Cluster, tmp_path: Path) -> None:
    create_local_repo(cluster, "nm_listing", tmp_path)
    root = tmp_path / "__palo_repository_nm_listing"
    for name in ["__ss_ok", "__ss_a b", "__ss_new\nline", "__ss_.."]:
        (root / name).mkdir()
    assert cluster.query("SHOW SNAPSHOT ON nm_listing") == [("ok", None, "ERROR: No info file found")]


# ---- paths and metadata backups ----------------------------------------------------------------------------


def test_path_component_takes_only_plain_names() -> None:
    for name in ["v2.parquet.0123", "a b", "..x", "x..", "é"]:
        assert path_component(name) == name
    for name in ["", ".", "..", "a/b", "../x", "a\\b", "a\0b"]:
        with pytest.raises(UnsafeName):
            path_component(name)


def test_metadata_backups_keep_names_inside_their_folders() -> None:
    """A database named with a path (possible before the rules) still backs up into one folder, and a backup
    whose repository or job would name a folder outside is refused on restore."""
    assert "/" not in folder_name({"kind": "database", "database": "a/../../x"}, "2024_01_01_00_00_00")
    assert "/" not in folder_name({"kind": "table", "database": "d", "table": "../t"}, "2024_01_01_00_00_00")
    for kind, body in [("repositories", {"id": 1, "name": "../../elsewhere"}),
                       ("jobs", {"id": 2, "db_id": 1, "label": "a/b", "repo": "r"}),
                       ("jobs", {"id": 3, "db_id": 1, "label": "ok", "repo": ".."})]:
        with pytest.raises(MetastoreError, match="is not a plain folder name"):
            target_objects({}, {kind: {"k": body}}, {"kind": "system"})
    assert target_objects({}, {"repositories": {"r": {"id": 1, "name": "old.repo name"}}}, {"kind": "system"})


def test_names_already_in_the_journal_keep_working(own_cluster: Cluster, tmp_path: Path) -> None:
    """A database, table and repository named before the rules (here: renamed in the journal while the FE is
    stopped) are still read, backed up to, listed and dropped."""
    c = own_cluster
    c.query("CREATE DATABASE nm_old")
    c.query("CREATE TABLE nm_old.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    c.query("INSERT INTO nm_old.t VALUES (7)")
    create_local_repo(c, "nm_old_repo", tmp_path)
    c.kill_fe(signal.SIGTERM)
    with sqlite3.connect(journal_path(c.root)) as db:
        db.execute("UPDATE objects SET body = json_set(body, '$.name', 'old.db') WHERE kind = 'databases' "
                   "AND json_extract(body, '$.name') = 'nm_old'")
        db.execute("UPDATE objects SET body = json_set(body, '$.name', '1tbl') WHERE kind = 'tables' "
                   "AND json_extract(body, '$.name') = 't'")
        db.execute("UPDATE objects SET key = 'old.repo', body = json_set(body, '$.name', 'old.repo') "
                   "WHERE kind = 'repositories' AND key = 'nm_old_repo'")
    c.start_fe()
    assert c.query("SELECT * FROM `old.db`.`1tbl`") == [(7,)]
    assert c.query("SHOW TABLES FROM `old.db`") == [("1tbl",)]
    c.query("CREATE DATABASE IF NOT EXISTS `old.db`")
    backup_and_wait(c, "`old.db`", "snap1", "`old.repo`")
    assert [r[0] for r in c.query("SHOW SNAPSHOT ON `old.repo`")] == ["snap1"]
    c.query("DROP TABLE `old.db`.`1tbl`")
    c.query("DROP DATABASE `old.db`")
