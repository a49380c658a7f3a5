"""Issue 18 (part 4): VERIFY SNAPSHOT at levels files, meta and data, on LOCAL and S3 repositories."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import pymysql
import pytest
import requests

from tests.backup_helpers import backup_and_wait, create_local_repo, make_sales_db
from tests.cluster import Cluster
from tests.s3server import S3Server

LEVELS = ("files", "meta", "data")


def verify(cluster: Cluster, label: str, repo: str, db: str, props: str = "", user: str = "root",
           password: str = "") -> list[tuple]:
    clause = f" PROPERTIES ({props})" if props else ""
    return cluster.query(f"VERIFY SNAPSHOT {db}.{label} FROM {repo}{clause}", user=user, password=password)


def problems(rows: list[tuple]) -> list[tuple]:
    """The problem rows: all but the final summary."""
    assert rows[-1][1] in ("OK", "FAILED"), rows
    return [tuple(r) for r in rows[:-1]]


def error_of(cluster: Cluster, sql: str, user: str = "root", password: str = "") -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql, user=user, password=password)
    return e.value.args[0], e.value.args[1]


@pytest.fixture(scope="module")
def snapshot(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One intact backup of the sales database in a LOCAL repository: (the repository's folder, timestamp).
    Tests that damage files work on a copy (a second repository over a copied folder)."""
    folder = tmp_path_factory.mktemp("verify_repo")
    make_sales_db(cluster, "vf_db")
    create_local_repo(cluster, "vf_repo", folder)
    return folder, backup_and_wait(cluster, "vf_db", "snap", "vf_repo")


def repo_root(folder: Path, repo: str) -> Path:
    return folder / f"__palo_repository_{repo}"


def copy_repo(cluster: Cluster, snapshot: tuple[Path, str], tmp_path: Path, name: str) -> Path:
    """A read-only repository `name` over a copy of the intact one; returns the copied snapshot's folder."""
    source = repo_root(snapshot[0], "vf_repo")
    target = repo_root(tmp_path, name)
    shutil.copytree(source, target)
    (target / "__repo_info").write_text(f'{{"name": "{name}", "create_time": "2024-01-01 00:00:00"}}')
    cluster.query(f'CREATE READ ONLY REPOSITORY {name} WITH LOCAL ON LOCATION "file://{tmp_path}"')
    return target / "__ss_snap"


def data_files(snapshot_dir: Path) -> list[Path]:
    return sorted(p for p in snapshot_dir.rglob("*") if ".parquet." in p.name)


def rel(path: Path, snapshot_dir: Path) -> str:
    return str(path.relative_to(snapshot_dir.parent))


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_intact_snapshot_is_ok_at_every_level(cluster: Cluster, snapshot: tuple[Path, str]) -> None:
    folder, ts = snapshot
    for level in LEVELS:
        rows = verify(cluster, "snap", "vf_repo", "vf_db", f'"level" = "{level}"')
        assert len(rows) == 1 and rows[0][0] == "__ss_snap" and rows[0][1] == "OK", rows
        assert f"level {level}, timestamp {ts}" in rows[0][2]
    # The default level is files, the newest timestamp the default one; a timestamp may be named.
    assert verify(cluster, "snap", "vf_repo", "vf_db")[0][2].startswith(f"level files, timestamp {ts}")
    rows = verify(cluster, "snap", "vf_repo", "vf_db", f'"backup_timestamp" = "{ts}", "level" = "data"')
    assert rows[0][1] == "OK" and f"{len(data_files(repo_root(folder, 'vf_repo') / '__ss_snap'))}" in rows[0][2]


def test_flipped_byte_found_at_level_data_only(cluster: Cluster, snapshot: tuple[Path, str], tmp_path: Path) -> None:
    snap = copy_repo(cluster, snapshot, tmp_path, "vf_flip")
    victim = data_files(snap)[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert problems(verify(cluster, "snap", "vf_flip", "vf_db")) == []
    assert problems(verify(cluster, "snap", "vf_flip", "vf_db", '"level" = "meta"')) == []
    rows = verify(cluster, "snap", "vf_flip", "vf_db", '"level" = "data"')
    assert [(r[0], r[1]) for r in problems(rows)] == [(rel(victim, snap), "CHECKSUM_MISMATCH")]
    assert rows[-1][1] == "FAILED" and "1 problems" in rows[-1][2]


def test_truncated_and_deleted_files(cluster: Cluster, snapshot: tuple[Path, str], tmp_path: Path) -> None:
    snap = copy_repo(cluster, snapshot, tmp_path, "vf_cut")
    cut, gone = data_files(snap)[:2]
    cut.write_bytes(cut.read_bytes()[:-5])
    gone.unlink()
    expected = sorted([(rel(cut, snap), "SIZE_MISMATCH"), (rel(gone, snap), "MISSING")])
    for level in LEVELS:  # found from the listing already; level data does not report them twice
        found = problems(verify(cluster, "snap", "vf_cut", "vf_db", f'"level" = "{level}"'))
        assert sorted((r[0], r[1]) for r in found) == expected, (level, found)
    detail = next(r[2] for r in found if r[1] == "SIZE_MISMATCH")
    size = cut.stat().st_size
    assert detail == f"size {size}, recorded {size + 5}"


def test_corrupted_meta_and_info_found_at_level_meta(cluster: Cluster, snapshot: tuple[Path, str],
                                                     tmp_path: Path) -> None:
    snap = copy_repo(cluster, snapshot, tmp_path, "vf_meta")
    meta = next(snap.glob("__meta.*"))
    meta.write_bytes(b"x" * meta.stat().st_size)  # same size: the listing cannot tell
    assert problems(verify(cluster, "snap", "vf_meta", "vf_db")) == []
    found = problems(verify(cluster, "snap", "vf_meta", "vf_db", '"level" = "meta"'))
    meta_rel = rel(meta, snap)
    assert sorted((r[0], r[1]) for r in found) == [(meta_rel, "BAD_META"), (meta_rel, "CHECKSUM_MISMATCH")]
    # An info that still parses but names another database than the meta: inconsistent, and its md5 is wrong.
    snap2 = copy_repo(cluster, snapshot, tmp_path / "two", "vf_info")
    info = next(snap2.glob("__info_*"))
    info.write_text(info.read_text().replace('"database": "vf_db"', '"database": "vf_dX"'))
    assert problems(verify(cluster, "snap", "vf_info", "vf_db")) == []
    found = problems(verify(cluster, "snap", "vf_info", "vf_db", '"level" = "meta"'))
    assert (rel(info, snap2), "CHECKSUM_MISMATCH") in [(r[0], r[1]) for r in found]
    assert any(r[1] == "BAD_META" and "database vf_dX" in r[2] for r in found), found


def test_sample_percent(cluster: Cluster, snapshot: tuple[Path, str], tmp_path: Path) -> None:
    snap = copy_repo(cluster, snapshot, tmp_path, "vf_sample")
    listed = len([p for p in snap.rglob("*") if p.is_file() and p.parent.name.startswith("__") and
                  p.parent.name[2:].isdigit()])
    rows = verify(cluster, "snap", "vf_sample", "vf_db", '"level" = "data", "sample_percent" = "25"')
    read = (listed * 25 + 99) // 100
    assert rows[-1][1] == "OK" and f"{read} of {listed} tablet files read (sample_percent 25)" in rows[-1][2]
    # The same files each time: damage every data file, and the sample finds as many as it read of them.
    for f in data_files(snap):
        f.write_bytes(b"\0" * f.stat().st_size)
    first = problems(verify(cluster, "snap", "vf_sample", "vf_db", '"level" = "data", "sample_percent" = "25"'))
    again = problems(verify(cluster, "snap", "vf_sample", "vf_db", '"level" = "data", "sample_percent" = "25"'))
    assert first == again and 0 < len(first) <= read and {r[1] for r in first} == {"CHECKSUM_MISMATCH"}
    everything = problems(verify(cluster, "snap", "vf_sample", "vf_db", '"level" = "data", "sample_percent" = "100"'))
    assert len(everything) == len(data_files(snap))
    for bad in ("0", "101", "-3", "abc", "12.5"):
        code, msg = error_of(cluster, f'VERIFY SNAPSHOT vf_db.snap FROM vf_sample PROPERTIES ("level" = "data", '
                                      f'"sample_percent" = "{bad}")')
        assert msg == (f"errCode = 2, detailMessage = Invalid sample_percent: {bad}, it should be an integer in "
                       "(0, 100]"), msg
    _, msg = error_of(cluster, 'VERIFY SNAPSHOT vf_db.snap FROM vf_sample PROPERTIES ("sample_percent" = "5")')
    assert msg.endswith("sample_percent is only supported when level is data")


def test_errors_as_restore_gives_them(cluster: Cluster, snapshot: tuple[Path, str]) -> None:
    _, msg = error_of(cluster, "VERIFY SNAPSHOT vf_db.snap FROM no_such_repo")
    assert msg.endswith("Repository no_such_repo does not exist")
    _, restore_msg = error_of(cluster, 'RESTORE SNAPSHOT vf_db.nolabel FROM vf_repo PROPERTIES '
                                       '("backup_timestamp" = "2020-01-01-00-00-00")')
    _, msg = error_of(cluster, 'VERIFY SNAPSHOT vf_db.nolabel FROM vf_repo PROPERTIES '
                               '("backup_timestamp" = "2020-01-01-00-00-00")')
    assert msg == restore_msg and "Maybe specified wrong backup timestamp" in msg
    _, restore_msg = error_of(cluster, 'RESTORE SNAPSHOT vf_db.snap FROM vf_repo PROPERTIES '
                                       '("backup_timestamp" = "2020-01-01-00-00-00")')
    _, msg = error_of(cluster, 'VERIFY SNAPSHOT vf_db.snap FROM vf_repo PROPERTIES '
                               '("backup_timestamp" = "2020-01-01-00-00-00")')
    assert msg == restore_msg
    _, msg = error_of(cluster, "VERIFY SNAPSHOT vf_db.nolabel FROM vf_repo")
    assert msg.startswith("errCode = 2, detailMessage = Failed to get info of snapshot 'nolabel'")
    assert error_of(cluster, 'VERIFY SNAPSHOT vf_db.snap FROM vf_repo PROPERTIES ("level" = "all")')[1].endswith(
        "Invalid verify level: all, it should be one of files, meta, data")
    assert error_of(cluster, 'VERIFY SNAPSHOT vf_db.snap FROM vf_repo PROPERTIES ("x" = "1")')[1].endswith(
        "Unknown verify snapshot properties: [x]")


def test_privilege_as_restore(cluster: Cluster, snapshot: tuple[Path, str]) -> None:
    cluster.query("CREATE USER IF NOT EXISTS 'vf_user'@'%' IDENTIFIED BY 'p'")
    cluster.query("GRANT SELECT_PRIV ON vf_db.* TO 'vf_user'@'%'")
    code, msg = error_of(cluster, "VERIFY SNAPSHOT vf_db.snap FROM vf_repo", user="vf_user", password="p")
    restore_code, restore_msg = error_of(cluster, 'RESTORE SNAPSHOT vf_db.snap FROM vf_repo PROPERTIES '
                                                  '("backup_timestamp" = "x")', user="vf_user", password="p")
    assert (code, msg) == (restore_code, restore_msg) == (
        1227, "errCode = 2, detailMessage = Access denied; you need (at least one of) the (LOAD) privilege(s) "
              "for this operation")
    cluster.query("GRANT LOAD_PRIV ON vf_db.* TO 'vf_user'@'%'")
    assert verify(cluster, "snap", "vf_repo", "vf_db", user="vf_user", password="p")[-1][1] == "OK"


def test_verify_changes_nothing_and_shows_progress(cluster: Cluster, snapshot: tuple[Path, str]) -> None:
    root = repo_root(snapshot[0], "vf_repo")
    before = listing(root)
    for level in LEVELS:
        verify(cluster, "snap", "vf_repo", "vf_db", f'"level" = "{level}"')
    assert listing(root) == before
    # The REST API shows each verification with its counts (running ones too, as they grow).
    runs = requests.get(f"{cluster.http}/rest/v1/verify", auth=("root", ""), timeout=10).json()["data"]
    done = [r for r in runs if r["repository"] == "vf_repo" and r["level"] == "data"]
    assert done and done[0]["state"] == "FINISHED" and done[0]["files_done"] == done[0]["files_total"] > 0


def test_s3_snapshot(cluster: Cluster, s3: S3Server) -> None:
    make_sales_db(cluster, "vf_s3")
    bucket = s3.create_bucket("verify-s3")
    cluster.query(f'CREATE REPOSITORY vf_s3_repo WITH S3 ON LOCATION "s3://{bucket}/v" {s3.properties()}')
    backup_and_wait(cluster, "vf_s3", "s3snap", "vf_s3_repo")
    for level in LEVELS:
        assert verify(cluster, "s3snap", "vf_s3_repo", "vf_s3", f'"level" = "{level}"')[-1][1] == "OK"
    prefix = "v/__palo_repository_vf_s3_repo/"
    key = next(k for k in s3.keys(bucket, prefix + "__ss_s3snap/") if ".parquet." in k)
    body = bytearray(s3.client().get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.client().put_object(Bucket=bucket, Key=key, Body=bytes(body))
    assert problems(verify(cluster, "s3snap", "vf_s3_repo", "vf_s3")) == []
    found = problems(verify(cluster, "s3snap", "vf_s3_repo", "vf_s3", '"level" = "data"'))
    assert [(r[0], r[1]) for r in found] == [(key[len(prefix):], "CHECKSUM_MISMATCH")]
    s3.client().delete_object(Bucket=bucket, Key=key)
    found = problems(verify(cluster, "s3snap", "vf_s3_repo", "vf_s3"))
    assert [(r[0], r[1]) for r in found] == [(key[len(prefix):], "MISSING")]


def test_unreadable_and_row_count(cluster: Cluster, snapshot: tuple[Path, str], tmp_path: Path) -> None:
    """A data file whose md5 matches its name but is no Parquet (renamed to its own md5) is UNREADABLE; a meta
    recording other row counts is a ROW_COUNT_MISMATCH."""
    snap = copy_repo(cluster, snapshot, tmp_path, "vf_rows")
    victim = data_files(snap)[0]
    junk = b"not parquet at all"
    md5 = hashlib.md5(junk).hexdigest()
    base = victim.name.rsplit(".", 1)[0]
    info_path = next(snap.glob("__info_*"))
    info = json.loads(info_path.read_text())
    old_name, new_name = victim.name, f"{base}.{md5}"
    text = json.dumps(info).replace(f'"{old_name}"', f'"{new_name}"')
    info = json.loads(text)
    for sizes in info["file_sizes"].values():
        if new_name in sizes:
            sizes[new_name] = len(junk)
    os.unlink(victim)
    (victim.parent / new_name).write_bytes(junk)
    body = json.dumps(info).encode()
    info_path.unlink()
    stamp = info_path.name.rsplit(".", 1)[0]
    (snap / f"{stamp}.{hashlib.md5(body).hexdigest()}").write_bytes(body)
    meta_path = next(snap.glob("__meta.*"))
    meta = json.loads(meta_path.read_text())
    tablet = meta["tables"]["agg"]["partitions"][0]["tablets"][0]
    tablet["row_count"] += 7
    meta_body = json.dumps(meta).encode()
    meta_path.unlink()
    (snap / f"__meta.{hashlib.md5(meta_body).hexdigest()}").write_bytes(meta_body)
    found = problems(verify(cluster, "snap", "vf_rows", "vf_db", '"level" = "data"'))
    kinds = [(r[0], r[1]) for r in found]
    assert (rel(victim.parent / new_name, snap), "UNREADABLE") in kinds, found
    assert any(r[1] == "ROW_COUNT_MISMATCH" and f"__{tablet['id']}" in r[0] for r in found), found


def test_progress_while_running_and_a_stuck_backend(own_cluster: Cluster, tmp_path: Path) -> None:
    """A BE that stops answering mid-verification: the REST API shows the run RUNNING with its counts short of
    the total meanwhile, and the FE reads that BE's share itself, so the damaged file is still found."""
    cluster = own_cluster
    make_sales_db(cluster, "vf_stuck")
    create_local_repo(cluster, "vf_stuck_repo", tmp_path / "repo")
    backup_and_wait(cluster, "vf_stuck", "snap", "vf_stuck_repo")
    snap = repo_root(tmp_path / "repo", "vf_stuck_repo") / "__ss_snap"
    victim = data_files(snap)[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    stuck = cluster.bes[0]
    assert stuck is not None
    os.kill(stuck.pid, signal.SIGSTOP)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(verify, cluster, "snap", "vf_stuck_repo", "vf_stuck", '"level" = "data"')

            def running() -> dict | None:
                runs = requests.get(f"{cluster.http}/rest/v1/verify", auth=("root", ""), timeout=10).json()["data"]
                return next((r for r in runs if r["state"] == "RUNNING"), None)

            seen = cluster.wait_for(running, timeout=20)
            assert seen["label"] == "snap" and seen["level"] == "data" and seen["files_done"] < seen["files_total"]
            rows = answer.result(timeout=120)
    finally:
        os.kill(stuck.pid, signal.SIGCONT)
    assert [(r[0], r[1]) for r in problems(rows)] == [(rel(victim, snap), "CHECKSUM_MISMATCH")]
