"""Backups and restores against a failing repository (issue 13): a full disk is retried with a growing delay and
leaves no temporary file per attempt; CANCEL BACKUP returns at once with the job CANCELLED while the BEs' uploads
hang in an S3 endpoint that never answers, and nothing the abandoned uploads write later stays; CANCEL RESTORE
while the FE's own read of the snapshot hangs says the job is cancelling, which it is once the read gives up."""

from __future__ import annotations

import random
import re
import socket
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import create_local_repo, hold, release, snapshot_timestamp, wait_job
from tests.cluster import Cluster
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server


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


# ---- an S3 endpoint that hangs --------------------------------------------------------------------------------

METHODS = (b"GET", b"PUT", b"HEAD", b"POST", b"DELETE")


class HangingProxy:
    """A loopback TCP proxy in front of the S3 server that can stop answering, as a hung endpoint does: a
    request whose method is held is read and never answered, nor is anything after it on its connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.held: tuple[bytes, ...] = ()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, *methods: bytes) -> None:
        self.held = methods

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                return
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._forward_requests, args=(client, upstream), daemon=True).start()

    def _forward_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        method = b""
        try:
            while data := client.recv(65536):
                first = data.split(b" ", 1)[0]
                method = first if first in METHODS else method  # a chunk that starts a request
                if method in self.held:
                    while client.recv(65536):  # read and forget, answer nothing
                        pass
                    return
                upstream.sendall(data)
        except OSError:
            return

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


@pytest.fixture
def proxy(s3: S3Server) -> Iterator[HangingProxy]:
    p = HangingProxy(s3.port)
    yield p
    p.close()


def create_hanging_repo(cluster: Cluster, s3: S3Server, proxy: HangingProxy, name: str) -> str:
    """A repository through the proxy whose requests give up after a second (Doris's properties, in ms)."""
    bucket = s3.create_bucket(name.replace("_", "-"))
    cluster.query(
        f'CREATE REPOSITORY {name} WITH S3 ON LOCATION "s3://{bucket}/r" PROPERTIES ('
        f'"s3.endpoint" = "http://127.0.0.1:{proxy.port}", "s3.region" = "{REGION}", '
        f'"s3.access_key" = "{ACCESS_KEY}", "s3.secret_key" = "{SECRET_KEY}", "use_path_style" = "true", '
        '"s3.connection.timeout" = "1000", "s3.connection.request.timeout" = "1000")')
    return bucket


def error_of(cluster: Cluster, sql: str) -> str:
    with pytest.raises(pymysql.MySQLError) as failure:
        cluster.query(sql)
    return failure.value.args[1]


def test_cancel_while_s3_uploads_hang_answers_at_once_and_nothing_lands_after_the_clean_up(
        cluster: Cluster, s3: S3Server, proxy: HangingProxy) -> None:
    data = make_table(cluster, "s3_hang", 3000)
    bucket = create_hanging_repo(cluster, s3, proxy, "hang_repo")
    hold(cluster, "BACKUP.UPLOAD_SNAPSHOT")
    try:
        cluster.query("BACKUP SNAPSHOT s3_hang.snap TO hang_repo")
        wait_job(cluster, "BACKUP", "s3_hang", "snap", ("UPLOAD_SNAPSHOT",))
        proxy.hold(*METHODS)
    finally:
        release(cluster)
    wait_job(cluster, "BACKUP", "s3_hang", "snap", ("UPLOADING",))
    time.sleep(0.5)  # every BE's upload is now inside a PUT that gets no answer

    # CANCEL waits neither for the uploads nor for the repository: the job is CANCELLED when it answers.
    started = time.monotonic()
    cluster.query("CANCEL BACKUP FROM s3_hang")
    took = time.monotonic() - started
    row = cluster.query_dicts("SHOW BACKUP FROM s3_hang")[-1]
    assert took < 3, took
    assert (row["State"], row["Status"]) == ("CANCELLED", "[COMMON_ERROR, msg: user cancelled]"), row
    assert "[cleanup: removing the partial snapshot from the repository]" in row["TaskErrMsg"], row

    # The endpoint answers everything but PUTs: the clean-up still waits for the uploads in flight, which could
    # land later, so the label stays taken.
    proxy.hold(b"PUT")
    time.sleep(3)
    assert "being removed, try again later" in error_of(cluster, "BACKUP SNAPSHOT s3_hang.snap TO hang_repo")

    # The endpoint is back: the abandoned uploads land, end, and then the partial snapshot goes, all of it.
    proxy.hold()
    prefix = "r/__palo_repository_hang_repo/__ss_snap/"

    def cleaned_up() -> bool:
        return "cleanup" not in cluster.query_dicts("SHOW BACKUP FROM s3_hang")[-1]["TaskErrMsg"]

    cluster.wait_for(cleaned_up, timeout=30)
    assert s3.keys(bucket, prefix) == []
    time.sleep(2)  # longer than a request's timeout: nothing lands after the clean-up
    assert s3.keys(bucket, prefix) == []
    assert cluster.query("SHOW SNAPSHOT ON hang_repo") == []

    # The label is free again, and the backup made with it is whole.
    cluster.query("BACKUP SNAPSHOT s3_hang.snap TO hang_repo")
    assert wait_job(cluster, "BACKUP", "s3_hang", "snap")["State"] == "FINISHED"
    ts = snapshot_timestamp(cluster, "hang_repo", "snap")
    cluster.query(f'RESTORE SNAPSHOT s3_hang_back.snap FROM hang_repo PROPERTIES ("backup_timestamp" = "{ts}", '
                  '"replication_num" = "1")')
    assert wait_job(cluster, "RESTORE", "s3_hang_back", "snap")["State"] == "FINISHED"
    assert sorted(cluster.query("SELECT * FROM s3_hang_back.t")) == data


def test_cancel_restore_while_the_repository_hangs_says_cancelling_and_ends_within_its_timeouts(
        cluster: Cluster, s3: S3Server, proxy: HangingProxy) -> None:
    data = make_table(cluster, "s3_hang_r", 300)
    create_hanging_repo(cluster, s3, proxy, "hang_r_repo")
    cluster.query("BACKUP SNAPSHOT s3_hang_r.snap TO hang_r_repo")
    assert wait_job(cluster, "BACKUP", "s3_hang_r", "snap")["State"] == "FINISHED"
    ts = snapshot_timestamp(cluster, "hang_r_repo", "snap")
    restore = (f'RESTORE SNAPSHOT s3_hang_r_back.snap FROM hang_r_repo PROPERTIES ("backup_timestamp" = "{ts}", '
               '"replication_num" = "1")')
    hold(cluster, "RESTORE.PENDING")
    try:
        cluster.query(restore)
        proxy.hold(*METHODS)
    finally:
        release(cluster)
    time.sleep(0.5)  # the restore's first step now reads the snapshot's meta from an endpoint that never answers

    # CANCEL answers after a few seconds; the job says it is cancelling until its repository request gives up.
    started = time.monotonic()
    cluster.query("CANCEL RESTORE FROM s3_hang_r_back")
    assert time.monotonic() - started < 8
    row = cluster.query_dicts("SHOW RESTORE FROM s3_hang_r_back")[-1]
    assert row["State"] == "PENDING", row
    assert "[cancel: cancelling (user cancelled, current state: PENDING) once the current step ends]" in \
        row["TaskErrMsg"], row
    row = wait_job(cluster, "RESTORE", "s3_hang_r_back", "snap", timeout=30)
    assert (row["State"], row["Status"]) == (
        "CANCELLED", "[COMMON_ERROR, msg: user cancelled, current state: PENDING]"), row
    assert "Read timeout" in row["TaskErrMsg"], row  # what the step itself ran into

    proxy.hold()
    cluster.query(restore)
    assert wait_job(cluster, "RESTORE", "s3_hang_r_back", "snap")["State"] == "FINISHED"
    assert sorted(cluster.query("SELECT * FROM s3_hang_r_back.t")) == data
