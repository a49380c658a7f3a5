"""Issue 15 item 7: max_backup_restore_job_num_per_db (Doris's default 10) trims a database's job history, backups
and restores together, oldest first, as soon as ADMIN SET FRONTEND CONFIG changes it."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import backup_and_wait, create_local_repo
from tests.cluster import Cluster
from tests.test_http import make_table
from tests.test_restore import restore_and_wait

CONFIG = "max_backup_restore_job_num_per_db"


def config_value(cluster: Cluster) -> str:
    rows = cluster.query_dicts(f"ADMIN SHOW FRONTEND CONFIG LIKE '{CONFIG}'")
    assert [r["Key"] for r in rows] == [CONFIG]
    return rows[0]["Value"]


def set_config(cluster: Cluster, value: str) -> None:
    cluster.query(f"ADMIN SET FRONTEND CONFIG ('{CONFIG}' = '{value}')")


def labels(cluster: Cluster, kind: str, db: str) -> list[str]:
    column = "SnapshotName" if kind == "BACKUP" else "Label"
    return [row[column] for row in cluster.query_dicts(f"SHOW {kind} FROM {db}")]


def test_job_history_is_trimmed_per_database_live(cluster: Cluster, tmp_path: Path) -> None:
    for db in ("hist_db", "hist_other"):
        make_table(cluster, db)
        cluster.query(f"INSERT INTO {db}.t VALUES (1, 'a', 1.5, '2024-01-01')")
    create_local_repo(cluster, "hist_repo", tmp_path / "repo")
    backup_and_wait(cluster, "hist_other", "other1", "hist_repo")
    assert config_value(cluster) == "10"
    try:
        set_config(cluster, "2")
        assert config_value(cluster) == "2"
        backup_and_wait(cluster, "hist_db", "h1", "hist_repo")
        backup_and_wait(cluster, "hist_db", "h2", "hist_repo")
        ts = backup_and_wait(cluster, "hist_db", "h3", "hist_repo")
        assert labels(cluster, "BACKUP", "hist_db") == ["h2", "h3"]  # the oldest left when h3 came
        # A restore counts in the same history: it pushes out the oldest backup.
        restore_and_wait(cluster, "hist_db", "h3", "hist_repo", ts, "ON (t AS t_copy)")
        assert labels(cluster, "BACKUP", "hist_db") == ["h3"]
        assert labels(cluster, "RESTORE", "hist_db") == ["h3"]
        assert labels(cluster, "BACKUP", "hist_other") == ["other1"]  # per database

        # 0 (or less): Doris records no new job at all; the statement answers OK and nothing runs.
        set_config(cluster, "0")
        cluster.query("BACKUP SNAPSHOT hist_db.h4 TO hist_repo")
        cluster.query("BACKUP SNAPSHOT hist_db.h5 TO hist_repo")  # not refused: no job of the database runs
        assert labels(cluster, "BACKUP", "hist_db") == ["h3"]

        out = cluster.mariadb(f"ADMIN SET FRONTEND CONFIG ('{CONFIG}' = 'two')")
        assert (f"ERROR 1105 (HY000) at line 1: errCode = 2, detailMessage = Failed to set config '{CONFIG}'. "
                'err: For input string: "two"') in out.stderr
        for bad in ("2.5", "", "99999999999"):
            with pytest.raises(pymysql.err.MySQLError) as e:
                set_config(cluster, bad)
            assert f'For input string: "{bad}"' in e.value.args[1]
        assert config_value(cluster) == "0"  # unchanged by the refusals
        set_config(cluster, "1")
        backup_and_wait(cluster, "hist_db", "h6", "hist_repo")
        assert labels(cluster, "BACKUP", "hist_db") == ["h6"] and labels(cluster, "RESTORE", "hist_db") == []
    finally:
        set_config(cluster, "+10")
    assert config_value(cluster) == "10"
