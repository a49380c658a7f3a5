"""Long BE tasks (uploads, downloads) run in the background, keyed by (job id, signature).

The FE polls their progress with TaskStatus. Submitting a signature that is running or finished answers
its state instead of starting it again, so the FE may resend tasks freely after a restart; a failed one is
started afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import attrs

from doris_br import rpc
from doris_br.errors import reason


class Cancelled(Exception):
    """The job was cancelled; the task stops between files."""


@attrs.define
class Run:
    job_id: int
    signature: int
    cancel: threading.Event = attrs.field(factory=threading.Event)
    state: str = "RUNNING"
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    error_code: str = ""
    error: str = ""
    stored: dict[str, list[rpc.StoredFile]] = attrs.field(factory=dict)
    verified: list[rpc.VerifiedFile] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def file_done(self, size: int) -> None:
        with self.lock:
            self.files_done += 1
            self.bytes_done += size

    def progress(self) -> rpc.TaskProgress:
        with self.lock:
            return rpc.TaskProgress(
                state=self.state, files_done=self.files_done, files_total=self.files_total,
                bytes_done=self.bytes_done, bytes_total=self.bytes_total, error_code=self.error_code,
                error=self.error,
                # whole only once the run has ended; while it runs the counts tell the progress
                verified=list(self.verified) if self.state != "RUNNING" else [],
            )


Work = Callable[[Run], None]


class BackgroundTasks:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task")
        self._runs: dict[tuple[int, int], Run] = {}
        # Cancelled runs whose thread is still inside a transfer, until it returns.
        self._stopping: dict[tuple[int, int], Run] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: int, signature: int, work: Work) -> None:
        with self._lock:
            existing = self._runs.get((job_id, signature))
            if existing is not None and existing.state != "FAILED":
                return
            run = Run(job_id, signature)
            self._runs[(job_id, signature)] = run
        self._pool.submit(self._execute, run, work)

    def _execute(self, run: Run, work: Work) -> None:
        try:
            work(run)
            run.state = "FINISHED"
        except Cancelled:
            run.state, run.error_code, run.error = "FAILED", "CANCELLED", "cancelled"
        except rpc.TaskError as e:
            run.state, run.error_code, run.error = "FAILED", e.code, e.message
        except Exception as e:  # storage and network errors end the task with their message
            run.state, run.error_code, run.error = "FAILED", "COMMON_ERROR", reason(e)
        finally:
            with self._lock:
                key = (run.job_id, run.signature)
                if self._stopping.get(key) is run:
                    del self._stopping[key]

    def status(self, job_id: int, signature: int) -> rpc.TaskProgress:
        run = self._runs.get((job_id, signature))
        return run.progress() if run is not None else rpc.TaskProgress(state="UNKNOWN")

    def stored_page(self, job_id: int, signature: int, offset: int, limit: int) -> rpc.TaskProgress:
        """The stored files of `limit` tablets of a finished run, from the `offset`-th in tablet id order; the
        counts tell how many tablets there are (files_total)."""
        run = self._runs.get((job_id, signature))
        if run is None or run.state != "FINISHED":
            return rpc.TaskProgress(state=run.state if run is not None else "UNKNOWN")
        with run.lock:
            ids = sorted(run.stored, key=int)
            page = {k: list(run.stored[k]) for k in ids[offset:offset + max(0, limit)]}
        return rpc.TaskProgress(state="FINISHED", files_total=len(ids), stored=page)

    def cancel_job(self, job_id: int) -> int:
        """Tell the job's runs to stop and forget them; returns how many of them have not ended yet."""
        with self._lock:
            for key in [k for k in self._runs if k[0] == job_id]:
                run = self._runs.pop(key)
                run.cancel.set()
                if run.state == "RUNNING":
                    self._stopping[key] = run
            return sum(1 for k in self._stopping if k[0] == job_id)
