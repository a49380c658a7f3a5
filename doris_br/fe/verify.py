"""VERIFY SNAPSHOT on the FE: list and check what a snapshot's info names, read its meta, and hand its files to
the BEs (one SubmitVerify task per alive BE, polled as backup and restore tasks are) at level data.

Everything that touches the repository runs in threads, so the event loop never waits on it. A BE that fails or
is down has its share read in FE worker threads instead (at most READ_CONCURRENCY at a time), so one broken BE
never hides a snapshot's problems. Progress lives in VerifyRegistry, which GET /rest/v1/verify shows while the
statement runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import attrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.fe.catalog import Backend, Repository
from doris_br.fe.jobs.base import repository_target
from doris_br.repository import layout
from doris_br.repository.store import RepositoryStore
from doris_br.repository.verify import (
    ExpectedFile,
    FileCheck,
    Finding,
    Level,
    Problem,
    check_presence,
    check_row_counts,
    checksum_finding,
    consistency,
    listed_files,
    named,
    parse_json,
    sample,
    snapshot_rel,
    tablet_rows,
    verify_file,
)

log = logging.getLogger(__name__)

READ_CONCURRENCY = 4  # FE threads reading files when no BE can
POLL_S = 0.25
FINISHED_KEPT = 50  # finished verifications the registry still shows


@attrs.define
class VerifyProgress:
    """One VERIFY SNAPSHOT, as GET /rest/v1/verify shows it: counts grow while the BEs read."""

    id: int
    user: str
    db_name: str  # whose LOAD_PRIV allowed it: who else may see it
    repo: str
    label: str
    timestamp: str
    level: str
    started_ms: int
    state: str = "RUNNING"  # RUNNING | FINISHED | FAILED
    finished_ms: int = 0
    files_total: int = 0
    bytes_total: int = 0
    problems: int = 0
    # Per part of the work (the FE's listing, each BE task, FE threads): [files done, bytes done].
    done: dict[str, list[int]] = attrs.field(factory=dict)

    @property
    def files_done(self) -> int:
        return sum(d[0] for d in self.done.values())

    @property
    def bytes_done(self) -> int:
        return sum(d[1] for d in self.done.values())

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "database": self.db_name, "repository": self.repo,
                "label": self.label, "timestamp": self.timestamp, "level": self.level, "state": self.state,
                "files_done": self.files_done, "files_total": self.files_total, "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total, "problems": self.problems, "started_ms": self.started_ms,
                "finished_ms": self.finished_ms}


class VerifyRegistry:
    """Running verifications and the last FINISHED_KEPT finished ones; memory only (a verification changes
    nothing, so there is nothing to journal)."""

    def __init__(self) -> None:
        self._runs: dict[int, VerifyProgress] = {}
        self._lock = threading.Lock()

    def add(self, progress: VerifyProgress) -> None:
        with self._lock:
            self._runs[progress.id] = progress
            finished = [i for i, p in self._runs.items() if p.state != "RUNNING"]
            for run_id in finished[:max(0, len(finished) - FINISHED_KEPT)]:
                del self._runs[run_id]

    def all(self) -> list[VerifyProgress]:
        with self._lock:
            return sorted(self._runs.values(), key=lambda p: p.id, reverse=True)


@attrs.frozen
class VerifyRequest:
    repo: Repository
    label: str
    info_rel: str  # the info file, relative to the repository's root
    level: Level
    sample_percent: int


@attrs.frozen
class VerifyOutcome:
    findings: tuple[Finding, ...]
    files_checked: int
    bytes_checked: int
    files_sampled: int  # of the listed tablet files, those read (level data)
    files_listed: int


def absolute(store: RepositoryStore, rel: str) -> str:
    return f"{store.root}/{rel}"


# ---- files and meta: on the FE, in one thread --------------------------------------------------------------


@attrs.frozen
class Listing:
    info: Any
    meta: Any
    files: tuple[ExpectedFile, ...]
    findings: tuple[Finding, ...]
    files_checked: int
    bytes_checked: int


def _meta_findings(store: RepositoryStore, label: str, sizes: dict[str, int], info_rel: str, info_bytes: bytes,
                   info: Any, level: Level) -> tuple[Any, list[Finding]]:
    """The meta file: present (every level), and at level meta and up read, checksummed, parsed and compared
    with the info. Returns the parsed meta (None when it could not be read) and the problems."""
    rel_root = snapshot_rel(label)
    metas = named(sizes, label, layout.META)
    if not metas:
        return None, [Finding(f"{rel_root}/{layout.META}", Problem.MISSING, "the snapshot has no meta file")]
    if len(metas) > 1:
        return None, [Finding(rel_root, Problem.BAD_META, f"the snapshot has {len(metas)} meta files")]
    if level < Level.META:
        return None, []
    findings = [f for f in (checksum_finding(info_rel, info_bytes),) if f is not None]
    data = store.fs.cat_file(absolute(store, metas[0]))
    findings += [f for f in (checksum_finding(metas[0], data),) if f is not None]
    meta = parse_json(metas[0], data, findings)
    if meta is not None and info is not None:
        findings += [Finding(metas[0], Problem.BAD_META, text) for text in consistency(meta, info, label)]
    return meta, findings


def list_and_check(store: RepositoryStore, request: VerifyRequest, sizes: dict[str, int]) -> Listing:
    """Blocking: reads the info (and the meta at level meta), checks what the storage holds against them."""
    findings: list[Finding] = []
    info_bytes = store.fs.cat_file(absolute(store, request.info_rel))
    info = parse_json(request.info_rel, info_bytes, findings)
    listed = listed_files(info, request.label) if info is not None else None
    files = listed.files if listed is not None else ()
    findings += listed.findings if listed is not None else ()
    meta, meta_problems = _meta_findings(store, request.label, sizes, request.info_rel, info_bytes, info,
                                         request.level)
    findings += meta_problems
    findings += check_presence(files, sizes)
    checked = [request.info_rel, *named(sizes, request.label, layout.META), *(f.rel for f in files)]
    return Listing(info, meta, files, tuple(findings), len(checked), sum(sizes.get(rel, 0) for rel in checked))


# ---- data: on the BEs, or in FE threads -------------------------------------------------------------------


def to_check(v: rpc.VerifiedFile) -> FileCheck:
    finding = Finding(v.rel, Problem(v.problem), v.detail) if v.problem else None
    return FileCheck(v.rel, v.rows, v.bytes_read, finding)


def assign(files: list[ExpectedFile], backends: list[Backend]) -> dict[int, list[ExpectedFile]]:
    """Largest first, each to the BE with the fewest bytes so far: the BEs finish at about the same time."""
    load = {b.id: 0 for b in backends}
    groups: dict[int, list[ExpectedFile]] = {b.id: [] for b in backends}
    for f in sorted(files, key=lambda f: f.size, reverse=True):
        target = min(load, key=lambda i: (load[i], i))
        groups[target].append(f)
        load[target] += max(f.size, 0)
    return {i: g for i, g in groups.items() if g}


async def in_threads(store: RepositoryStore, files: list[ExpectedFile], progress: VerifyProgress,
                     part: str) -> list[FileCheck]:
    gate = asyncio.Semaphore(READ_CONCURRENCY)
    counts = progress.done.setdefault(part, [0, 0])

    async def one(f: ExpectedFile) -> FileCheck:
        async with gate:
            check = await asyncio.to_thread(verify_file, store, f)
        counts[0] += 1
        counts[1] += max(f.size, 0)
        return check

    return list(await asyncio.gather(*(one(f) for f in files)))


async def on_backend(fe: Any, backend: Backend, signature: int, repo: Repository, store: RepositoryStore,
                     files: list[ExpectedFile], progress: VerifyProgress) -> list[FileCheck]:
    """One SubmitVerify, polled until it ends; the FE reads the files itself if the BE cannot."""
    part = f"backend {backend.id}"
    task = rpc.SubmitVerify(progress.id, signature, repository_target(repo),
                            [rpc.VerifyFile(f.rel, f.size, f.md5, f.tablet_id) for f in files])
    try:
        await fe.backends.call(backend, task, 30.0)
        while True:
            status = await fe.backends.call(backend, rpc.TaskStatus(progress.id, signature), 30.0)
            progress.done[part] = [status.files_done, status.bytes_done]
            if status.state == "FINISHED":
                return [to_check(v) for v in status.verified]
            if status.state in ("FAILED", "UNKNOWN"):  # UNKNOWN: the BE restarted and forgot the task
                raise rpc.TaskError(status.error_code or "COMMON_ERROR", status.error or "the task was lost")
            await asyncio.sleep(POLL_S)
    except rpc.TaskError as e:
        log.warning("verify %s: backend %s could not read its files (%s: %s); reading them on the FE",
                    progress.id, backend.id, e.code, e.message)
    progress.done.pop(part, None)
    return await in_threads(store, files, progress, f"fe for backend {backend.id}")


async def forget_tasks(fe: Any, backends: list[Backend], job_id: int) -> None:
    async def one(backend: Backend) -> None:
        try:
            await fe.backends.call(backend, rpc.CancelJobTasks(job_id), 10.0)
        except rpc.TaskError:  # a BE that is down forgets them when it restarts
            pass

    await asyncio.gather(*(one(b) for b in backends))


async def read_files(fe: Any, repo: Repository, store: RepositoryStore, files: list[ExpectedFile],
                     progress: VerifyProgress) -> list[FileCheck]:
    backends = sorted(fe.backends.alive(), key=lambda b: b.id)
    if not backends:
        return await in_threads(store, files, progress, "fe")
    groups = assign(files, backends)
    chosen = [b for b in backends if b.id in groups]
    try:
        results = await asyncio.gather(*(on_backend(fe, b, i + 1, repo, store, groups[b.id], progress)
                                         for i, b in enumerate(chosen)))
    finally:
        await forget_tasks(fe, chosen, progress.id)
    return [check for group in results for check in group]


# ---- the whole verification ---------------------------------------------------------------------------------


async def verify_snapshot(fe: Any, store: RepositoryStore, request: VerifyRequest, sizes: dict[str, int],
                          progress: VerifyProgress) -> VerifyOutcome:
    listing = await asyncio.to_thread(list_and_check, store, request, sizes)
    findings = list(listing.findings)
    files_checked, bytes_checked = listing.files_checked, listing.bytes_checked
    known_bad = {f.file for f in findings}
    readable = [f for f in listing.files if f.rel not in known_bad]  # missing or cut short: already reported
    chosen = sample(readable, request.sample_percent) if request.level is Level.DATA else []
    progress.files_total = files_checked + len(chosen)
    progress.bytes_total = bytes_checked + sum(max(f.size, 0) for f in chosen)
    progress.done["listing"] = [files_checked, bytes_checked]
    if chosen:
        checks = await read_files(fe, request.repo, store, chosen, progress)
        findings += [c.finding for c in checks if c.finding is not None]
        by_rel = {c.rel: c for c in checks}
        findings += check_row_counts(list(listing.files), by_rel, tablet_rows(listing.meta), request.label)
        bytes_checked += sum(c.bytes_read for c in checks)
    progress.problems = len(findings)
    return VerifyOutcome(tuple(sorted(set(findings))), files_checked, bytes_checked, len(chosen),
                         len(listing.files))


def start_progress(fe: Any, user: str, db_name: str, request: VerifyRequest, timestamp: str) -> VerifyProgress:
    # The id keys the BE tasks, so it must not meet a backup's or restore's: one from the catalog's sequence.
    progress = VerifyProgress(id=fe.catalog.allocate_ids(), user=user, db_name=db_name, repo=request.repo.name,
                              label=request.label, timestamp=timestamp, level=request.level.name.lower(),
                              started_ms=now_ms())
    fe.verifies.add(progress)
    return progress


def end_progress(fe: Any, progress: VerifyProgress, state: str) -> None:
    progress.state = state
    progress.finished_ms = now_ms()
    fe.verifies.add(progress)  # trims the finished ones kept
