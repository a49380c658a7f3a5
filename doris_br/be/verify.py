"""VERIFY SNAPSHOT on a BE: the data files the FE assigned, read from the repository (md5, Parquet decode) a few
at a time in the background; nothing is written, here or in the repository."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from doris_br import rpc
from doris_br.be.background import Run
from doris_br.be.server import BackendService, handles
from doris_br.repository.store import open_store
from doris_br.repository.verify import ExpectedFile, FileCheck, verify_file

# Files read at once per task: reads are sequential streams, a few keep a disk or a connection pool busy.
READ_CONCURRENCY = 4


def to_wire(check: FileCheck) -> rpc.VerifiedFile:
    finding = check.finding
    return rpc.VerifiedFile(check.rel, check.rows, check.bytes_read,
                            finding.problem.value if finding else "", finding.detail if finding else "")


@handles(rpc.SubmitVerify)
def submit_verify(be: BackendService, task: rpc.SubmitVerify) -> rpc.Done:
    def work(run: Run) -> None:
        store = open_store(task.repo.name, task.repo.storage)
        files = [ExpectedFile(f.rel, f.size, f.md5, f.tablet_id) for f in task.files]
        run.files_total = len(files)
        run.bytes_total = sum(max(f.size, 0) for f in files)

        def one(f: ExpectedFile) -> None:
            run.check_cancelled()
            result = to_wire(verify_file(store, f))
            with run.lock:
                run.verified.append(result)
            run.file_done(max(f.size, 0))

        with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
            for future in [pool.submit(one, f) for f in files]:
                future.result()

    be.tasks.submit(task.job_id, task.signature, work)
    return rpc.Done()
