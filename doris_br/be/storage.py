"""A BE's storage root: its identity and its tablets' files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from doris_br.checksum import record_md5

# How stale SHOW BACKENDS' DataUsedCapacity may be.
USAGE_TTL_S = 30.0

_ROWSET_NAME = re.compile(r"v(\d+)(?:-(\d+))?\.parquet")
_TXN = re.compile(r"[0-9a-f]{1,64}")


@attrs.frozen
class Rowset:
    """A tablet file holding versions start..end: one load's version (`v<N>.parquet`), or consecutive versions
    merged by compaction (`v<start>-<end>.parquet`)."""

    start: int
    end: int
    path: Path

    @staticmethod
    def name(start: int, end: int) -> str:
        return f"v{start}.parquet" if start == end else f"v{start}-{end}.parquet"

    @staticmethod
    def parse(path: Path) -> Rowset | None:
        """The rowset a file name stands for; None for anything else (temporary files, headers)."""
        m = _ROWSET_NAME.fullmatch(path.name)
        if m is None:
            return None
        start = int(m.group(1))
        return Rowset(start, int(m.group(2) or start), path)


def covering(rowsets: list[Rowset], version: int) -> list[Rowset]:
    """The fewest rowsets holding versions 2..version, oldest first: from version 2 on, the widest one that
    starts where the last ended. Rowsets past `version` (a load not yet published) are never taken, and the
    inputs of a compaction, kept for a while after it, are passed over for its output."""
    widest: dict[int, Rowset] = {}
    for r in rowsets:
        if r.end <= version and (r.start not in widest or r.end > widest[r.start].end):
            widest[r.start] = r
    chain: list[Rowset] = []
    wanted = 2
    while wanted <= version:
        r = widest.get(wanted)
        if r is None:
            raise FileNotFoundError(f"misses version {wanted}")
        chain.append(r)
        wanted = r.end + 1
    return chain

class Storage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        id_file = self.root / "instance_id"
        if not id_file.exists():
            tmp = id_file.with_suffix(".tmp")
            tmp.write_text(uuid.uuid4().hex)
            tmp.rename(id_file)
        self.instance_id = id_file.read_text().strip()
        self._usage: tuple[float, int] | None = None  # (when walked, bytes)

    @property
    def port_file(self) -> Path:
        return self.root / "be.port"

    def data_used_bytes(self) -> int:
        """Bytes under the root, walked at most every USAGE_TTL_S: heartbeats ask every few seconds, and a
        root with thousands of tablets is too many stats to take that often."""
        now = time.monotonic()
        if self._usage is None or now - self._usage[0] > USAGE_TTL_S:
            self._usage = (now, self._walk_usage())
        return self._usage[1]

    def _walk_usage(self) -> int:
        """Tablets and staging folders come and go while we walk (a restore drops its tablets on cancel), so
        vanished entries are skipped: a heartbeat must not fail over them."""
        total = 0
        for folder, _, names in os.walk(self.root):  # os.walk ignores folders that vanish under it
            for name in names:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total

    def disk_usage(self) -> tuple[int, int]:
        usage = shutil.disk_usage(self.root)
        return usage.total, usage.free

    # ---- tablets: data/<tablet_id>/ holds Parquet rowsets, v<N>.parquet, or v<start>-<end>.parquet ---------

    def tablet_dir(self, tablet_id: int) -> Path:
        return self.root / "data" / str(tablet_id)

    def snapshot_dir(self, job_id: int) -> Path:
        """Where a backup job's snapshot (hard links to tablet files) lives until released."""
        return self.root / "snapshot" / str(job_id)

    def restore_dir(self, job_id: int) -> Path:
        """Where a restore job's downloads are staged until committed."""
        return self.root / "restore" / str(job_id)

    def create_tablet(self, tablet_id: int) -> None:
        self.tablet_dir(tablet_id).mkdir(parents=True, exist_ok=True)

    def drop_tablet(self, tablet_id: int) -> None:
        shutil.rmtree(self.tablet_dir(tablet_id), ignore_errors=True)

    def remove_partial_files(self) -> int:
        """Delete what a stopped BE left in its tablets: temporary files of writes and merges, and rows staged
        by loads (their FE lost this BE's answer, so the load fails); returns how many. No reader ever names
        them, but they would hold their disk space for good."""
        removed = self.remove_staged(older_than_s=0)
        for path in (self.root / "data").glob("*/.*.tmp"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def remove_staged(self, older_than_s: float) -> int:
        """Delete rows loads staged longer ago than this (their FE was killed, or lost its answer); returns how
        many files."""
        deadline = time.time() - older_than_s
        removed = 0
        for path in (self.root / "data").glob("*/txn_*.parquet"):
            with contextlib.suppress(FileNotFoundError):  # published or aborted meanwhile
                if path.stat().st_mtime <= deadline:
                    path.unlink()
                    removed += 1
        return removed

    def tablet_count(self) -> int:
        data = self.root / "data"
        return sum(1 for _ in data.iterdir()) if data.exists() else 0

    def staged_path(self, tablet_id: int, txn: str) -> Path:
        """Where a load's rows wait for their version: no read takes them, as the name is not a rowset's."""
        if not _TXN.fullmatch(txn):
            raise ValueError(f"bad load id {txn!r}")
        return self.tablet_dir(tablet_id) / f"txn_{txn}.parquet"

    def write_staged(self, tablet_id: int, txn: str, rows: pa.RecordBatchReader) -> int:
        """Stage a load's rows for the tablet, whole or not at all, until publish() names their version."""
        return self._write(tablet_id, self.staged_path(tablet_id, txn), rows)

    def publish(self, tablet_id: int, txn: str, version: int) -> None:
        """The staged rows become version `version`, replacing any orphan of a load that failed to publish it."""
        try:
            os.replace(self.staged_path(tablet_id, txn), self.tablet_dir(tablet_id) / Rowset.name(version, version))
        except FileNotFoundError:
            raise FileNotFoundError(f"tablet {tablet_id} holds no rows of load {txn}") from None

    def abort(self, tablet_id: int, txn: str) -> None:
        self.staged_path(tablet_id, txn).unlink(missing_ok=True)

    def write_rowset(self, tablet_id: int, start: int, end: int, rows: pa.RecordBatchReader) -> int:
        return self._write(tablet_id, self.tablet_dir(tablet_id) / Rowset.name(start, end), rows)

    def _write(self, tablet_id: int, path: Path, rows: pa.RecordBatchReader) -> int:
        """To a temporary file, then renamed. The rows are written as they come, a row group at a time, so that
        the BE never holds a whole load or tablet."""
        if not path.parent.exists():
            raise FileNotFoundError(f"tablet {tablet_id} does not exist on this backend")
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        # Dictionary encoding pays off for text; on numbers it mostly fails over to plain at 3-4x the cost.
        text = [f.name for f in rows.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        digest = hashlib.md5()
        try:
            with open(tmp, "wb") as f, pq.ParquetWriter(_Md5Writer(f, digest), rows.schema,
                                                        use_dictionary=text or False) as writer:
                for group in _row_groups(rows):
                    writer.write_table(group)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        record_md5(tmp, digest.hexdigest())  # a backup then uploads without reading it twice
        tmp.rename(path)
        return path.stat().st_size

    def rowsets(self, tablet_id: int) -> list[Rowset]:
        folder = self.tablet_dir(tablet_id)
        if not folder.is_dir():
            raise FileNotFoundError(f"tablet {tablet_id} does not exist on this backend")
        return [r for r in map(Rowset.parse, folder.iterdir()) if r is not None]

    def version_files(self, tablet_id: int, version: int) -> list[Path]:
        """The files holding versions 2..version (version 1 holds no rows); a missing version is an error."""
        if version < 2:
            return []
        rowsets = self.rowsets(tablet_id)
        try:
            return [r.path for r in covering(rowsets, version)]
        except FileNotFoundError as e:
            raise FileNotFoundError(f"tablet {tablet_id} {e}") from None


# Smaller than pyarrow's default (1 Mi rows): a BE writes many tablets at once and buffers a group of each.
ROW_GROUP_ROWS = 1 << 18


def _row_groups(rows: pa.RecordBatchReader) -> Iterator[pa.Table]:
    """The batches gathered into row groups of about ROW_GROUP_ROWS rows; at least one, maybe empty."""
    batches: list[pa.RecordBatch] = []
    count = 0
    wrote = False
    for batch in rows:
        batches.append(batch)
        count += batch.num_rows
        if count >= ROW_GROUP_ROWS:
            yield pa.Table.from_batches(batches, rows.schema)
            batches, count, wrote = [], 0, True
    if count or not wrote:
        yield pa.Table.from_batches(batches, rows.schema)


class _Md5Writer:
    """A file for pyarrow's writers that hashes what passes: the md5 comes without holding the file in memory
    or reading it again."""

    def __init__(self, f: Any, digest: Any) -> None:
        self._f = f
        self._digest = digest
        self.closed = False

    def write(self, data: Any) -> int:
        self._digest.update(data)
        return self._f.write(data)

    def tell(self) -> int:
        return self._f.tell()

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:  # the caller closes the file
        self.closed = True
