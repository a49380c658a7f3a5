"""Issue 7: `doris-br metastore backup | restore | list`, driven as an operator would, against real clusters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from tests.cluster import Cluster


def metastore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doris_br", "metastore", *args], capture_output=True, text=True,
                          timeout=120)


def backed_up_path(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("metadata store backed up to ")
    return Path(line.removeprefix("metadata store backed up to "))


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
    result = metastore("restore", str(tmp_path), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr
    with pytest.raises(pymysql.err.MySQLError):  # the server is untouched by all this
        cluster.query("USE no_such_db")
