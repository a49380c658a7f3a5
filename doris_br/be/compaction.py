"""Cumulative compaction: a tablet's newest small rowsets merged into one, in the background, as Doris's BEs do.

Every load adds a version file to each tablet it touches. Left alone, a tablet loaded a thousand times is a
thousand files for every scan to open and every backup to send one request each. After a load is published
the FE names its tablets and their new visible version (rpc.CompactTablets); only versions up to it are
merged, never an orphan of a failed load. The rows keep their versions' order, so a UNIQUE KEY scan still
finds the latest row last.

The merged rowsets stay on disk for `tablet_rowset_stale_sweep_time_sec`, because a scan or snapshot planned
just before the merge may still name them; the chain of files a read takes prefers the merged one at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from doris_br import deletes, duck, rpc
from doris_br.be.storage import Rowset, Storage, covering

log = logging.getLogger(__name__)


def pick(chain: list[Rowset], min_deltas: int) -> list[Rowset]:
    """The rowsets to merge: from the newest back, while the next older one is at most twice the size of all
    taken so far (so a big base is not rewritten for every few small loads); none unless min_deltas of them."""
    taken: list[Rowset] = []
    total = 0
    for r in reversed(chain):
        size = r.path.stat().st_size
        if taken and size > 2 * total:
            break
        taken.append(r)
        total += size
    return taken[::-1] if len(taken) >= min_deltas else []


def _merged(inputs: list[Rowset], files: list[pq.ParquetFile], predicates: list[list[deletes.DeletePredicate]],
            schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The inputs' rows in version order, without those the newer inputs' delete predicates delete."""
    for rowset, f, deleted in zip(inputs, files, predicates, strict=True):
        if not deleted:
            for i in range(f.num_row_groups):  # a row group at a time: a tablet is never held whole
                yield from f.read_row_group(i).to_batches()
            continue
        cur = duck.files_cursor()
        try:
            cur.execute("SET preserve_insertion_order = true")  # rows keep their order: UNIQUE's last one wins
            path = str(rowset.path).replace("'", "''")
            reader = cur.sql(f"SELECT * FROM read_parquet('{path}') WHERE NOT {deletes.deleted_sql(deleted)}") \
                .fetch_record_batch(1 << 16)
            for batch in reader:
                yield from pa.Table.from_batches([batch]).cast(schema).to_batches()
        finally:
            cur.close()


# Staged rows older than the longest load (Stream Load's largest timeout, 3 days) belong to no load any more.
STAGED_MAX_AGE_S = 3 * 86400 + 3600
STAGED_SWEEP_EVERY_S = 3600


class Compactor:
    """One background thread, so compaction never takes more than a core from loads and scans. It also deletes
    what loads staged and never published or aborted (their FE was killed)."""

    def __init__(self, storage: Storage, min_deltas: int, stale_keep_s: float) -> None:
        self._storage = storage
        self._min_deltas = max(2, min_deltas)
        self._stale_keep_s = stale_keep_s
        self._pending: dict[int, int] = {}  # tablet id -> published version
        self._stale: list[tuple[float, list[Path]]] = []  # (when to delete, files)
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name="compaction", daemon=True).start()

    def submit(self, tablets: list[rpc.TabletVersion]) -> None:
        with self._wake:
            for tv in tablets:
                self._pending[tv.tablet_id] = max(tv.version, self._pending.get(tv.tablet_id, 0))
            self._wake.notify()

    def _run(self) -> None:
        next_staged_sweep = time.monotonic() + STAGED_SWEEP_EVERY_S
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending, timeout=1.0 if self._stale else STAGED_SWEEP_EVERY_S)
                item = self._pending.popitem() if self._pending else None
            try:  # nothing may end this thread: the BE would silently stop compacting and sweeping
                self._sweep()
                if time.monotonic() >= next_staged_sweep:
                    next_staged_sweep = time.monotonic() + STAGED_SWEEP_EVERY_S
                    self._storage.remove_staged(STAGED_MAX_AGE_S)
                if item is not None:
                    self.compact(*item)
            except Exception as e:  # a dropped tablet, a full disk: the files stay as they are
                log.warning("compaction of tablet %s failed: %s", item[0] if item else "-", e)

    def compact(self, tablet_id: int, version: int) -> None:
        rowsets = self._storage.rowsets(tablet_id)
        if any(r.start <= version < r.end for r in rowsets):
            return  # a later request, served first, merged past this version already
        chain = covering(rowsets, version)
        inputs = pick(chain, self._min_deltas)
        if len(chain) >= self._min_deltas and any(deletes.of_file(r.path, r.end) for r in chain[1:]):
            # Delete predicates merged on their own would still be applied to the base by every scan: the whole
            # tablet is rewritten without the rows they delete, so it scans as one never deleted from.
            inputs = chain
        if not inputs:
            return
        started = time.monotonic()
        start, end = inputs[0].start, inputs[-1].end
        files = [pq.ParquetFile(r.path) for r in inputs]
        try:
            schema = files[0].schema_arrow.remove_metadata()
            if any(not f.schema_arrow.equals(schema) for f in files[1:]):
                log.info("tablet %s: rowsets %s differ in schema; not merged", tablet_id, [r.path.name for r in inputs])
                return
            predicates = deletes.deleted_by_newer([(r.path, r.end) for r in inputs])
            if start > 2:  # older rowsets stay: the inputs' predicates must go on deleting from them
                kept = [d for r in inputs for d in deletes.of_file(r.path, r.end)]
                schema = schema.with_metadata(deletes.to_metadata(kept)) if kept else schema
            size = self._storage.write_rowset(tablet_id, start, end, pa.RecordBatchReader.from_batches(
                schema, _merged(inputs, files, predicates, schema)))
        finally:
            for f in files:
                f.close()
        log.info("tablet %s: %d rowsets merged into %s (%d bytes) in %.2f s", tablet_id, len(inputs),
                 Rowset.name(start, end), size, time.monotonic() - started)
        with self._wake:
            self._stale.append((time.monotonic() + self._stale_keep_s, [r.path for r in inputs]))

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._wake:
            due = [paths for when, paths in self._stale if when <= now]
            self._stale = [(when, paths) for when, paths in self._stale if when > now]
        for paths in due:
            for path in paths:
                with contextlib.suppress(OSError):  # the tablet was dropped, or the disk refuses: not this thread's end
                    path.unlink(missing_ok=True)
