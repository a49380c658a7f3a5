"""Backups against a failing repository (issue 13): a full disk is retried with a growing delay and leaves no
temporary file per attempt; CANCEL BACKUP returns at once with the job CANCELLED while a BE's upload hangs in
an S3 endpoint that never answers, and nothing the abandoned upload writes later makes a snapshot look whole."""

from __future__ import annotations

import random
import re
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backup_helpers import create_local_repo, snapshot_timestamp, wait_job
from tests.cluster import Cluster


def random_rows(count: int) -> str:
    """Rows that do not compress, so the backup is as big as the rows."""
    rng = random.Random(13)
    return ", ".join(f"({i}, '{''.join(rng.choices(string.ascii_letters, k=60))}')" for i in range(count))


def make_table(cluster: Cluster, db: str, rows: int) -> list[tuple]:
    cluster.query(f"CREATE DATABASE {db}")
    cluster.query(f"CREATE TABLE {db}.t (k INT, v VARCHAR(64)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 "
                  "PROPERTIES ('replication_num' = '1')")
    cluster.query(f"INSERT INTO {db}.t VALUES {random_rows(rows)}")
    return sorted(cluster.query(f"SELECT * FROM {db}.t"))


# ---- a full disk ----------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem (tmpfs), so writes past it fail with ENOSPC as on a full disk."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(".part")]


def attempts_of(task_errors: str) -> list[int]:
    return [int(n) for n in re.findall(r"attempt (\d+) failed", task_errors)]


def test_full_disk_backs_off_leaves_no_temp_files_and_finishes_once_there_is_room(
        cluster: Cluster, small_disk: Path) -> None:
    data = make_table(cluster, "full_disk", 6000)  # about 400 KB of Parquet, past the disk's 256 KiB
    create_local_repo(cluster, "full_repo", small_disk)
    cluster.query("BACKUP SNAPSHOT full_disk.snap TO full_repo")

    def failing() -> dict | None:
        row = cluster.query_dicts("SHOW BACKUP FROM full_disk")[-1]
        return row if "No space left on device" in row["TaskErrMsg"] else None

    first = cluster.wait_for(failing, timeout=30)
    assert first["State"] == "UPLOADING", first
    assert re.search(r"\(attempt \d+ failed; retrying in \d+s\)", first["TaskErrMsg"]), first["TaskErrMsg"]
    seen: list[int] = []
    delays: set[int] = set()
    for _ in range(30):  # 6 seconds: at 1, 2, 4 s between attempts, at most 4 more attempts per task
        assert temp_files(small_disk) == []  # no partial file is left by any attempt
        errors = cluster.query_dicts("SHOW BACKUP FROM full_disk")[-1]["TaskErrMsg"]
        seen += attempts_of(errors)
        delays |= {int(d) for d in re.findall(r"retrying in (\d+)s", errors)}
        time.sleep(0.2)
    assert seen and max(seen) <= 5, seen
    assert len(delays) >= 2, delays  # the wait grows
    row = cluster.query_dicts("SHOW BACKUP FROM full_disk")[-1]
    assert row["State"] == "UPLOADING", row

    # Room again: the next attempt goes through and the snapshot is whole.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    row = wait_job(cluster, "BACKUP", "full_disk", "snap", timeout=90)
    assert row["State"] == "FINISHED", row
    assert temp_files(small_disk) == []
    ts = snapshot_timestamp(cluster, "full_repo", "snap")
    cluster.query(f'RESTORE SNAPSHOT full_disk_back.snap FROM full_repo PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1")')
    assert wait_job(cluster, "RESTORE", "full_disk_back", "snap")["State"] == "FINISHED"
    assert sorted(cluster.query("SELECT * FROM full_disk_back.t")) == data
