"""The BE's backup and restore tasks: snapshot, upload, download, commit, release."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from doris_br import rpc
from doris_br.be.background import Run
from doris_br.be.server import BackendService, handles
from doris_br.be.storage import Rowset
from doris_br.checksum import write_file
from doris_br.errors import reason
from doris_br.names import UnsafeName, path_component
from doris_br.repository.store import BadFile, RepositoryStore, open_store

# Files moved at once per task: enough to keep a disk busy, few enough for 2 cores. Object stores answer
# each request with a round trip, so more requests in flight pay off there.
FILE_CONCURRENCY = 4
OBJECT_STORE_CONCURRENCY = 4


def _store(target: rpc.RepositoryTarget) -> RepositoryStore:
    return open_store(target.name, target.storage)


@handles(rpc.MakeSnapshots)
def make_snapshots(be: BackendService, task: rpc.MakeSnapshots) -> rpc.SnapshotResult:
    """Hard links: later loads add new version files, so the snapshot keeps exactly these versions. The OS's own
    calls on path strings: a few per tablet, and a job may hold 30,000 tablets on one BE."""
    files: dict[str, list[rpc.SnapshotFile]] = {}
    root = be.storage.snapshot_dir(task.job_id)
    root.mkdir(parents=True, exist_ok=True)
    for tv in task.tablets:
        target = f"{root}/{tv.tablet_id}"
        try:
            os.mkdir(target)
        except FileExistsError:  # a resent task starts over
            shutil.rmtree(target, ignore_errors=True)
            os.mkdir(target)
        try:
            sources = be.storage.version_files(tv.tablet_id, tv.version)
        except FileNotFoundError as e:
            raise rpc.TaskError("NOT_FOUND", f"{e} on this backend") from None
        listed = []
        for source in sources:
            linked = f"{target}/{source.name}"
            os.link(source, linked)
            listed.append(rpc.SnapshotFile(source.name, os.stat(linked).st_size))
        header = json.dumps({"tablet_id": tv.tablet_id, "version": tv.version,
                             "files": [f.name for f in listed]}).encode()
        write_file(f"{target}/{tv.tablet_id}.hdr", header)
        listed.append(rpc.SnapshotFile(f"{tv.tablet_id}.hdr", len(header)))
        files[str(tv.tablet_id)] = listed
    return rpc.SnapshotResult(files=files)


@handles(rpc.OpenRepository)
def open_repository(be: BackendService, task: rpc.OpenRepository) -> rpc.Done:
    try:
        _store(task.repo).ping()  # opens the client and its connection pool, and proves this BE reaches it
    except Exception as e:  # the FE only logs it; a job on the repository reports the same failure
        raise rpc.TaskError("COMMON_ERROR", reason(e)) from None
    return rpc.Done()


@handles(rpc.ReleaseSnapshots)
def release_snapshots(be: BackendService, task: rpc.ReleaseSnapshots) -> rpc.Done:
    be.storage.discard(be.storage.snapshot_dir(task.job_id))
    be.storage.discard(be.storage.restore_dir(task.job_id))
    return rpc.Done()


def _parallel(run: Run, jobs: list, fn, store: RepositoryStore) -> None:  # type: ignore[no-untyped-def, type-arg]
    workers = OBJECT_STORE_CONCURRENCY if store.atomic_put else FILE_CONCURRENCY
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(fn, job) for job in jobs]:
            future.result()  # the first failure ends the task
            run.check_cancelled()


@handles(rpc.SubmitUpload)
def submit_upload(be: BackendService, task: rpc.SubmitUpload) -> rpc.Done:
    def work(run: Run) -> None:
        store = _store(task.repo)
        jobs: list[tuple[int, str, Path]] = []
        for t in task.tablets:
            local = be.storage.snapshot_dir(task.job_id) / str(t.tablet_id)
            if not local.is_dir():
                raise rpc.TaskError("NOT_FOUND", f"snapshot of tablet {t.tablet_id} is missing on this backend")
            jobs += [(t.tablet_id, t.remote_dir, p) for p in local.iterdir()]
        sizes = {p: p.stat().st_size for _, _, p in jobs}
        # Largest first: the small files (headers, single loads) fill in at the end, so no worker is left
        # sending one big file alone while the others are done.
        jobs.sort(key=lambda job: sizes[job[2]], reverse=True)
        run.files_total = len(jobs)
        run.bytes_total = sum(sizes.values())

        def upload(job: tuple[int, str, Path]) -> None:
            run.check_cancelled()
            tablet_id, remote_dir, path = job
            try:
                name, size, md5 = store.upload(str(path), remote_dir, path.name)
            except BadFile as e:
                raise rpc.TaskError("BAD_FILE", str(e)) from None
            with run.lock:
                run.stored.setdefault(str(tablet_id), []).append(rpc.StoredFile(name, size, md5))
            run.file_done(size)

        _parallel(run, jobs, upload, store)

    be.tasks.submit(task.job_id, task.signature, work)
    return rpc.Done()


@handles(rpc.SubmitDownload)
def submit_download(be: BackendService, task: rpc.SubmitDownload) -> rpc.Done:
    def work(run: Run) -> None:
        store = _store(task.repo)
        jobs: list[tuple[Path, str, rpc.StoredFile]] = []
        for t in task.tablets:
            local = be.storage.restore_dir(task.job_id) / str(t.tablet_id)
            local.mkdir(parents=True, exist_ok=True)
            jobs += [(local, t.remote_dir, f) for f in t.files]
        run.files_total = len(jobs)
        run.bytes_total = sum(f.size for _, _, f in jobs)

        def download(job: tuple[Path, str, rpc.StoredFile]) -> None:
            run.check_cancelled()
            local, remote_dir, f = job
            base = f.name[: -len(f.md5) - 1] if f.name.endswith("." + f.md5) else f.name
            try:  # the name comes from the snapshot's info: it must stay one file in the tablet's folders
                name, base = path_component(f.name), path_component(base)
            except UnsafeName as e:
                raise rpc.TaskError("BAD_FILE", str(e)) from None
            try:
                store.download(f"{remote_dir}/{name}", str(local / base), f.md5, f.size)
            except BadFile as e:
                raise rpc.TaskError("BAD_FILE", str(e)) from None
            run.file_done(f.size)

        _parallel(run, jobs, download, store)

    be.tasks.submit(task.job_id, task.signature, work)
    return rpc.Done()


@handles(rpc.TaskStatus)
def task_status(be: BackendService, task: rpc.TaskStatus) -> rpc.TaskProgress:
    return be.tasks.status(task.job_id, task.signature)


@handles(rpc.TaskStoredFiles)
def task_stored_files(be: BackendService, task: rpc.TaskStoredFiles) -> rpc.TaskProgress:
    return be.tasks.stored_page(task.job_id, task.signature, task.offset, task.limit)


@handles(rpc.CancelJobTasks)
def cancel_job_tasks(be: BackendService, task: rpc.CancelJobTasks) -> rpc.StoppingTasks:
    return rpc.StoppingTasks(running=be.tasks.cancel_job(task.job_id))


@handles(rpc.CommitRestore)
def commit_restore(be: BackendService, task: rpc.CommitRestore) -> rpc.Done:
    """Move the downloaded rowsets into their (new, not yet visible) tablets, which must then hold every version
    up to the restored one. A retry finds what an earlier try moved already in place."""
    for t in task.tablets:
        staged = be.storage.restore_dir(task.job_id) / str(t.tablet_id)
        tablet = be.storage.tablet_dir(t.tablet_id)
        if not tablet.is_dir():
            raise rpc.TaskError("NOT_FOUND", f"tablet {t.tablet_id} does not exist on this backend")
        if staged.is_dir():
            for path in staged.iterdir():
                rowset = Rowset.parse(path)
                if rowset is not None and rowset.end <= t.version:
                    os.replace(path, tablet / path.name)
        try:
            be.storage.version_files(t.tablet_id, t.version)
        except FileNotFoundError as e:
            raise rpc.TaskError("BAD_FILE", f"restored {e}") from None
    return rpc.Done()
