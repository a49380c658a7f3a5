"""A BE's storage root: its identity and its tablets' files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from doris_br.checksum import record_md5

# How stale SHOW BACKENDS' DataUsedCapacity may be.
USAGE_TTL_S = 30.0
# Loads given up that a BE remembers, so that their rows still on the way are not kept.
ABORTED_KEPT = 10_000


@attrs.define
class _Usage:
    """The last count of a storage root (Storage.usage), and whether a count is running."""

    data_bytes: int = 0
    tablets: int = 0
    walked_at: float = 0.0  # time.monotonic() of the last count's end; 0: never counted
    walking: bool = False
    lock: threading.Lock = attrs.field(factory=threading.Lock)


_ROWSET_NAME = re.compile(r"v(\d+)(?:-(\d+))?\.parquet")
# The same names for DuckDB's regexp_extract over a scanned file's name: group 1 is the rowset's last version.
ROWSET_END_SQL_PATTERN = r"v(?:\d+-)?(\d+)\.parquet$"
# A load's rows wait for their version as txn_<load id>.parquet, which no read takes.
STAGED_PREFIX = "txn_"
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


def rowsets_in(paths: Iterable[Path]) -> list[Rowset]:
    """The rowsets among these files."""
    return [r for r in map(Rowset.parse, paths) if r is not None]


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
    def __init__(self, root: str | Path, medium: str = "HDD") -> None:
        self.root = Path(root).resolve()
        self.medium = medium  # HDD or SSD, from the root's suffix (config.root_and_medium); heartbeats report it
        self.root.mkdir(parents=True, exist_ok=True)
        id_file = self.root / "instance_id"
        if not id_file.exists():
            tmp = id_file.with_suffix(".tmp")
            tmp.write_text(uuid.uuid4().hex)
            tmp.rename(id_file)
        self.instance_id = id_file.read_text().strip()
        self._usage = _Usage()
        self._loads_lock = threading.Lock()  # publishes and aborts against each other and staged writes
        self._published: dict[int, int] = {}  # tablet id -> sequence of its last publish
        self._aborted: dict[str, None] = {}  # loads given up, oldest first

    @property
    def port_file(self) -> Path:
        return self.root / "be.port"

    @property
    def http_port_file(self) -> Path:
        """The webserver_port this root's BE used last, kept like its Flight port."""
        return self.root / "be.http_port"

    def data_used_bytes(self) -> int:
        """Bytes under the root, as last counted (see usage)."""
        return self.usage().data_bytes

    def tablet_count(self) -> int:
        return self.usage().tablets

    def usage(self) -> _Usage:
        """What the root holds, as last counted. Heartbeats ask every few seconds, and a root of 30,000 tablets is
        seconds of stats; a heartbeat that walked it (walks piled up, one per heartbeat) took most of a big upload's
        time and could miss the FE's heartbeat timeout. So one walk at a time runs in the background once the count
        is USAGE_TTL_S old; the first is made here, while the BE starts."""
        with self._usage.lock:
            fresh = self._usage.walked_at and time.monotonic() - self._usage.walked_at <= USAGE_TTL_S
            if fresh or self._usage.walking:
                return self._usage
            self._usage.walking = True
        if not self._usage.walked_at:
            self._count_usage()
        else:
            threading.Thread(target=self._count_usage, name="usage", daemon=True).start()
        return self._usage

    def _count_usage(self) -> None:
        try:
            data_bytes, tablets = self._walk_usage(), self._count_tablets()
        finally:
            with self._usage.lock:
                self._usage.walking = False
        with self._usage.lock:
            self._usage.data_bytes, self._usage.tablets = data_bytes, tablets
            self._usage.walked_at = time.monotonic()

    def _walk_usage(self) -> int:
        """Tablets and staging folders come and go while we walk (a restore drops its tablets on cancel), so
        vanished entries are skipped: a count must not fail over them."""
        total = 0
        folders = [str(self.root)]
        while folders:
            with contextlib.suppress(OSError), os.scandir(folders.pop()) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
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

    def drop_tablets(self, tablet_ids: Iterable[int]) -> None:
        """Each tablet's folder moved aside in one rename, then deleted in the background: a write or merge that
        lands in the folder meanwhile cannot keep it alive, and a DROP of 30,000 tablets answers at once (their
        unlinks took longer than the FE waits). What is left in trash/ goes at the next start."""
        moved = [self._to_trash(self.tablet_dir(t)) for t in tablet_ids]
        self._delete_later([m for m in moved if m is not None])

    def discard(self, folder: Path) -> None:
        """A folder gone from its place at once (one rename into trash/) and deleted in the background: a
        released snapshot of 30,000 tablets is seconds of unlinks, which its task need not wait for."""
        moved = self._to_trash(folder)
        self._delete_later([moved] if moved is not None else [])

    @staticmethod
    def _delete_later(folders: list[Path]) -> None:
        def delete() -> None:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)

        if folders:
            threading.Thread(target=delete, name="trash", daemon=True).start()

    def _to_trash(self, folder: Path) -> Path | None:
        trash = self.root / "trash"
        trash.mkdir(exist_ok=True)
        moved = trash / f"{folder.name}.{uuid.uuid4().hex}"
        try:
            os.rename(folder, moved)
        except FileNotFoundError:
            return None
        return moved

    def _count_tablets(self) -> int:
        data = self.root / "data"
        with contextlib.suppress(FileNotFoundError):
            return sum(1 for _ in os.scandir(data))
        return 0

    def _tablet_files(self, wanted: Callable[[str], bool]) -> Iterator[Path]:
        """The files of every tablet whose names are `wanted`; tablets dropped while listed are skipped."""
        for folder, names in self._tablet_listings():
            yield from (folder / name for name in names if wanted(name))

    def _tablet_listings(self) -> Iterator[tuple[Path, list[str]]]:
        try:
            tablets = [entry.path for entry in os.scandir(self.root / "data")]
        except FileNotFoundError:
            return
        for folder in tablets:
            try:
                yield Path(folder), os.listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue

    def remove_partial_files(self) -> int:
        """Delete what a stopped BE left: temporary files of writes and merges, rows staged by loads (their FE
        lost this BE's answer, so the load fails), merged rowsets not yet swept, dropped tablets; returns how
        many files. No reader ever names them, but they would hold their disk space for good. One listing of
        each tablet: a BE may hold many thousands."""
        shutil.rmtree(self.root / "trash", ignore_errors=True)
        leftovers: list[Path] = []
        for folder, names in self._tablet_listings():
            leftovers += [folder / n for n in names
                          if n.startswith(STAGED_PREFIX) or (n.startswith(".") and n.endswith(".tmp"))]
            rowsets = rowsets_in(folder / n for n in names)
            leftovers += [r.path for r in rowsets
                          if any(o.start <= r.start and r.end <= o.end and o != r for o in rowsets)]
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    def remove_staged(self, older_than_s: float) -> int:
        """Delete rows loads staged longer ago than this (their FE was killed, or lost its answer); returns how
        many files."""
        deadline = time.time() - older_than_s
        removed = 0
        for path in self._tablet_files(lambda name: name.startswith(STAGED_PREFIX)):
            with contextlib.suppress(FileNotFoundError):  # published or aborted meanwhile
                if path.stat().st_mtime <= deadline:
                    path.unlink()
                    removed += 1
        return removed

    # ---- a load's rows: staged, then published as a version, or aborted ------------------------------------

    def staged_path(self, tablet_id: int, txn: str) -> Path:
        """Where a load's rows wait for their version: no read takes them, as the name is not a rowset's."""
        if not _TXN.fullmatch(txn):
            raise ValueError(f"bad load id {txn!r}")
        return self.tablet_dir(tablet_id) / f"{STAGED_PREFIX}{txn}.parquet"

    def write_staged(self, tablet_id: int, txn: str, rows: pa.RecordBatchReader) -> int:
        """Stage a load's rows for the tablet, whole or not at all, until publish() names their version. Rows of
        a load already aborted here (its FE gave up while they were on their way) are not kept."""
        return self._write(tablet_id, self.staged_path(tablet_id, txn), rows, self._kept_unless_aborted(txn))

    def _kept_unless_aborted(self, txn: str) -> Callable[[Path, Path], None]:
        def rename(tmp: Path, path: Path) -> None:
            with self._loads_lock:
                if txn in self._aborted:
                    tmp.unlink(missing_ok=True)
                    raise FileNotFoundError(f"load {txn} was given up")
                tmp.rename(path)

        return rename

    def publish(self, tablet_id: int, txn: str, version: int, sequence: int) -> None:
        """The staged rows become version `version`, replacing any orphan of a load that failed to publish it.
        `sequence` grows with every publish of the table: an older load's publish that arrives late (its FE
        gave up waiting) must not replace what a newer one published."""
        with self._loads_lock:
            if sequence < self._published.get(tablet_id, 0):
                raise FileExistsError(f"tablet {tablet_id}: a later load was published; load {txn} is refused")
            try:
                os.replace(self.staged_path(tablet_id, txn), self.tablet_dir(tablet_id) / Rowset.name(version, version))
            except FileNotFoundError:
                raise FileNotFoundError(f"tablet {tablet_id} holds no rows of load {txn}") from None
            self._published[tablet_id] = sequence

    def abort(self, tablet_ids: list[int], txn: str) -> None:
        with self._loads_lock:
            self._aborted[txn] = None
            while len(self._aborted) > ABORTED_KEPT:
                self._aborted.pop(next(iter(self._aborted)))
            for tablet_id in tablet_ids:
                self.staged_path(tablet_id, txn).unlink(missing_ok=True)

    # ---- writing rowsets --------------------------------------------------------------------------------------

    def write_rowset(self, tablet_id: int, start: int, end: int, rows: pa.RecordBatchReader) -> int:
        return self._write(tablet_id, self.tablet_dir(tablet_id) / Rowset.name(start, end), rows)

    def _write(self, tablet_id: int, path: Path, rows: pa.RecordBatchReader,
               rename: Callable[[Path, Path], None] = Path.rename) -> int:
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
        rename(tmp, path)
        return path.stat().st_size

    def rowsets(self, tablet_id: int) -> list[Rowset]:
        return self.contents(tablet_id)[0]

    def contents(self, tablet_id: int) -> tuple[list[Rowset], list[Path]]:
        """The tablet's rowsets and its staged load files, from one listing."""
        folder = self.tablet_dir(tablet_id)
        try:
            paths = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(f"tablet {tablet_id} does not exist on this backend") from None
        return rowsets_in(paths), [p for p in paths if p.name.startswith(STAGED_PREFIX)]

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
